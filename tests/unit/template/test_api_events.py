"""The sample API Gateway events are shaped like requests to this stack's API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_runner.template import load_template

ROOT = Path(__file__).resolve().parents[3]
EVENTS = sorted((ROOT / "events" / "api").glob("*.json"))
STAGE = load_template()["Resources"]["BackupsApi"]["Properties"]["StageName"]


@pytest.mark.parametrize("path", EVENTS, ids=lambda path: path.name)
def test_an_api_event_comes_through_the_stacks_stage_on_the_execute_api_host(path: Path) -> None:
    event: dict[str, Any] = json.loads(path.read_text())
    context = event["requestContext"]

    assert context["stage"] == STAGE
    assert context["path"] == f"/{STAGE}{event['path']}"
    assert context["resourcePath"] == event["resource"]
    assert context["domainName"] == event["headers"]["Host"]
    assert event["multiValueHeaders"]["Host"] == [event["headers"]["Host"]]
    assert context["domainName"] == f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
