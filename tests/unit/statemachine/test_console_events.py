"""The sample console inputs under events/console/ are inputs the first state accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiven_backup.workflow.execution_input import InputDefaults, parse_execution_input

EVENTS = sorted((Path(__file__).resolve().parents[3] / "events" / "console").glob("*.json"))


def test_there_are_console_samples() -> None:
    assert len(EVENTS) >= 3


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_console_sample_is_a_valid_execution_input(path: Path) -> None:
    raw = json.loads(path.read_text())

    parsed = parse_execution_input(raw, InputDefaults(project="acme", service="metrics-influx"))

    assert parsed.project
    assert parsed.service
    assert parsed.backup_name
    for field, value in raw.items():
        assert getattr(parsed, field) == value
