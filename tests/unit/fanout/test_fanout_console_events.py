"""The sample fan-out inputs under events/fanout/ are inputs the fan-out accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiven_backup.fanout.request import parse_fanout_input
from aiven_backup.workflow.execution_input import InputDefaults

EVENTS = sorted((Path(__file__).resolve().parents[3] / "events" / "fanout").glob("*.json"))


def test_there_are_fan_out_samples() -> None:
    assert len(EVENTS) >= 3


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_fan_out_sample_is_a_valid_input(path: Path) -> None:
    raw = json.loads(path.read_text())

    request = parse_fanout_input(raw, InputDefaults(project="acme", service="metrics-influx"))

    assert request.selections
