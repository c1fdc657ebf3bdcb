"""The metrics runs really emit: the EMF the handlers print, captured from whole runs.

Two backups land and a third fails under Object Lock (its object kept unverified); every EMF
document they print is read back. What they emit must be exactly what ``aiven_backup.metrics``
declares, in the namespace the template gives the functions, with the dimensions project and
service; and every metric the template's dashboard and alarms name must be among them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest

from aiven_backup.metrics import MIB, UNITS, Metric
from local_runner.template import load_template
from tests.support.aiven import PROJECT, SERVICE
from tests.support.metric_references import alarm_metrics, dashboard_body, dashboard_metrics
from tests.support.translated import deployed, of_type
from tests.support.workflow import (
    WorkflowFactory,
)


def _emf_documents(printed: str) -> list[dict[str, Any]]:
    documents = []
    for line in printed.splitlines():
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def _metrics_namespace() -> str:
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    return str(variables["POWERTOOLS_METRICS_NAMESPACE"])


def test_runs_emit_the_declared_metrics_and_the_template_names_only_those(
    make_workflow: WorkflowFactory, sample_backup: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = make_workflow(
        parameters={"ObjectLockMode": "GOVERNANCE", "ObjectLockDays": "1"},
        environment={"POWERTOOLS_METRICS_DISABLED": "false"},
    )
    service = workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    capsys.readouterr()  # only what the runs print

    first = workflow.run({"backup_name": "first"})
    second = workflow.run({"backup_name": "second"})
    service.backup = os.urandom(32 * 1024)
    failed = workflow.run({"backup_name": "not-a-backup"})

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), first.cause
    assert failed.error == "NotAnInfluxBackup"
    emitted = _emf_documents(capsys.readouterr().out)
    _assert_exactly_the_declared_metrics(emitted)
    _assert_sizes_times_and_speed(emitted, len(sample_backup))
    _assert_the_template_names_only_emitted_metrics(emitted)


def _assert_exactly_the_declared_metrics(emitted: list[dict[str, Any]]) -> None:
    """Per project and service, in the template's namespace, each with its declared unit."""
    namespace = _metrics_namespace()
    names: Counter[str] = Counter()
    for document in emitted:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == namespace
        assert directive["Dimensions"] == [["project", "service"]], document
        assert (document["project"], document["service"]) == (PROJECT, SERVICE)
        for metric in directive["Metrics"]:
            assert metric["Unit"] == UNITS[Metric(metric["Name"])], metric
            names[metric["Name"]] += 1

    assert set(names) == {metric.value for metric in Metric}
    assert names[Metric.BACKUP_SUCCEEDED] == 2
    assert names[Metric.BACKUP_FAILED] == 1
    assert names[Metric.BACKUP_UNVERIFIED] == 1
    assert names[Metric.HOURS_SINCE_PREVIOUS_BACKUP] == 1  # the first had no previous backup


def _assert_sizes_times_and_speed(emitted: list[dict[str, Any]], size: int) -> None:
    successes = [d for d in emitted if Metric.BACKUP_SUCCEEDED in d]
    assert len(successes) == 2
    for document in successes:
        assert _value(document, Metric.BACKUP_BYTES) == size
        assert _value(document, Metric.BACKUP_VERIFIED) == 1
        copy = _value(document, Metric.COPY_SECONDS)
        duration = _value(document, Metric.BACKUP_DURATION)
        assert 0 < copy <= duration
        assert 0 <= _value(document, Metric.WAIT_SECONDS) <= duration
        speed = _value(document, Metric.MIB_PER_SECOND)
        assert speed == pytest.approx(size / MIB / copy, rel=0.01)
    # The second landed right after the first: its predecessor was minutes old at most.
    assert 0 <= _value(successes[1], Metric.HOURS_SINCE_PREVIOUS_BACKUP) < 0.1


def _value(document: dict[str, Any], metric: Metric) -> float:
    """The one value a run gave the metric (EMF lists the values of one flush)."""
    values = document[metric]
    (value,) = values if isinstance(values, list) else [values]
    return float(value)


def _assert_the_template_names_only_emitted_metrics(emitted: list[dict[str, Any]]) -> None:
    """Every metric of ours the dashboard and the alarms name: same namespace, name, dimensions."""
    namespace = _metrics_namespace()
    really_emitted = {
        (directive["Namespace"], metric["Name"], tuple(sorted(directive["Dimensions"][0])))
        for document in emitted
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    template = deployed()
    named = [
        reference
        for logical_id, dashboard in of_type(template, "AWS::CloudWatch::Dashboard").items()
        for reference in dashboard_metrics(
            dashboard_body(dashboard, template["Parameters"]), logical_id
        )
    ] + [
        reference
        for logical_id, alarm in of_type(template, "AWS::CloudWatch::Alarm").items()
        for reference in alarm_metrics(logical_id, alarm)
    ]
    ours = [reference for reference in named if reference.namespace == namespace]
    assert ours
    for reference in ours:
        key = (reference.namespace, reference.name, tuple(sorted(reference.dimensions)))
        assert key in really_emitted, reference
