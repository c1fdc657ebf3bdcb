"""The metrics a backup run emits, declared once for the emitter, the template and the tests.

Every metric goes out as CloudWatch embedded metric format (EMF) through the handler's Powertools
``Metrics``, in the namespace ``POWERTOOLS_METRICS_NAMESPACE`` (set once in template.yaml's
Globals), with exactly the dimensions ``project`` and ``service``: the Aiven project and service.
The dashboard and the freshness alarm in template.yaml name these metrics; a test checks that
every name they use is one a real run emits, by capturing the EMF a run prints.

The core does not import Powertools: a step takes a :class:`MetricsSink`, which the handler's
``Metrics`` object already is (same ``add_dimension`` and ``add_metric``), and tests pass a
recorder. No sink means no metrics (the local runner, most tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
DIMENSIONS = ("project", "service")
MIB = 1024 * 1024


class Metric(StrEnum):
    BACKUP_SUCCEEDED = "BackupSucceeded"
    """1 per successful run: the freshness alarm counts these."""
    BACKUP_FAILED = "BackupFailed"
    """1 per failed run that reached the failure handler."""
    BACKUP_BYTES = "BackupBytes"
    """Size of the backup that landed."""
    BACKUP_DURATION = "BackupDurationSeconds"
    """From the execution's start to the end of the run, waiting for Aiven included."""
    WAIT_SECONDS = "WaitSeconds"
    """From requesting the backup (or finding it, mode existing) to the download being ready."""
    COPY_SECONDS = "CopySeconds"
    """From the first copy invocation's start to the upload's completion (all invocations)."""
    MIB_PER_SECOND = "MiBPerSecond"
    """BackupBytes / CopySeconds, in MiB/s."""
    BACKUP_VERIFIED = "BackupVerified"
    """1 per backup that landed verified."""
    BACKUP_UNVERIFIED = "BackupUnverified"
    """1 per object a failed run had to keep unverified (it is under Object Lock)."""
    HOURS_SINCE_PREVIOUS_BACKUP = "HoursSincePreviousBackup"
    """How old the service's newest successful backup was when this one landed (24 for a
    nightly schedule; 48 after a missed night). Not emitted for a service's first backup."""


UNITS: Mapping[Metric, str] = {
    Metric.BACKUP_SUCCEEDED: "Count",
    Metric.BACKUP_FAILED: "Count",
    Metric.BACKUP_BYTES: "Bytes",
    Metric.BACKUP_DURATION: "Seconds",
    Metric.WAIT_SECONDS: "Seconds",
    Metric.COPY_SECONDS: "Seconds",
    Metric.MIB_PER_SECOND: "None",  # CloudWatch's Megabytes/Second is decimal; this is MiB/s
    Metric.BACKUP_VERIFIED: "Count",
    Metric.BACKUP_UNVERIFIED: "Count",
    Metric.HOURS_SINCE_PREVIOUS_BACKUP: "None",  # CloudWatch has no hour unit
}


class MetricsSink(Protocol):
    """Where metrics go: Powertools' ``Metrics`` in a Lambda, a recorder in tests."""

    def add_dimension(self, name: str, value: str) -> None: ...

    def add_metric(self, name: str, unit: str, value: float) -> None: ...


@dataclass(frozen=True)
class RunMetrics:
    """The values one run emits for one Aiven service."""

    project: str
    service: str
    values: Mapping[Metric, float]

    def emit(self, sink: MetricsSink | None) -> None:
        if sink is None:
            return
        sink.add_dimension("project", self.project)
        sink.add_dimension("service", self.service)
        for metric, value in self.values.items():
            sink.add_metric(metric.value, UNITS[metric], value)


def success_metrics(
    project: str,
    service: str,
    *,
    size: int,
    duration_seconds: float,
    wait_seconds: float,
    copy_seconds: float,
    hours_since_previous: float | None,
) -> RunMetrics:
    values: dict[Metric, float] = {
        Metric.BACKUP_SUCCEEDED: 1,
        Metric.BACKUP_VERIFIED: 1,
        Metric.BACKUP_BYTES: size,
        Metric.BACKUP_DURATION: round(max(0.0, duration_seconds), 3),
        Metric.WAIT_SECONDS: round(max(0.0, wait_seconds), 3),
        Metric.COPY_SECONDS: round(max(0.0, copy_seconds), 3),
    }
    if copy_seconds > 0:
        values[Metric.MIB_PER_SECOND] = round(size / MIB / copy_seconds, 6)
    if hours_since_previous is not None:
        values[Metric.HOURS_SINCE_PREVIOUS_BACKUP] = round(max(0.0, hours_since_previous), 3)
    return RunMetrics(project, service, values)


def failure_metrics(project: str, service: str, *, kept_unverified: bool) -> RunMetrics:
    values: dict[Metric, float] = {Metric.BACKUP_FAILED: 1}
    if kept_unverified:
        values[Metric.BACKUP_UNVERIFIED] = 1
    return RunMetrics(project, service, values)
