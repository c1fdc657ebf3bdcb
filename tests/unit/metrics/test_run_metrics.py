"""What one run hands its metrics sink: dimensions first, then each metric with its unit."""

from __future__ import annotations

from aiven_backup.metrics import UNITS, Metric, failure_metrics, success_metrics


class Recorder:
    """A MetricsSink that remembers what it was given."""

    def __init__(self) -> None:
        self.dimensions: dict[str, str] = {}
        self.metrics: dict[str, tuple[str, float]] = {}

    def add_dimension(self, name: str, value: str) -> None:
        self.dimensions[name] = value

    def add_metric(self, name: str, unit: str, value: float) -> None:
        self.metrics[name] = (unit, value)


def test_a_success_reports_size_times_speed_and_freshness_per_project_and_service() -> None:
    sink = Recorder()

    success_metrics(
        "acme",
        "metrics-influx",
        size=512 * 1024 * 1024,
        duration_seconds=7300.25,
        wait_seconds=7200.0,
        copy_seconds=8.0,
        hours_since_previous=24.5,
    ).emit(sink)

    assert sink.dimensions == {"project": "acme", "service": "metrics-influx"}
    assert sink.metrics == {
        "BackupSucceeded": ("Count", 1),
        "BackupVerified": ("Count", 1),
        "BackupBytes": ("Bytes", 512 * 1024 * 1024),
        "BackupDurationSeconds": ("Seconds", 7300.25),
        "WaitSeconds": ("Seconds", 7200.0),
        "CopySeconds": ("Seconds", 8.0),
        "MiBPerSecond": ("None", 64.0),
        "HoursSincePreviousBackup": ("None", 24.5),
    }


def test_a_first_backup_has_no_freshness_and_an_instant_copy_no_speed() -> None:
    sink = Recorder()

    success_metrics(
        "acme",
        "svc",
        size=10,
        duration_seconds=1,
        wait_seconds=0,
        copy_seconds=0,
        hours_since_previous=None,
    ).emit(sink)

    assert "HoursSincePreviousBackup" not in sink.metrics
    assert "MiBPerSecond" not in sink.metrics


def test_a_failure_counts_once_and_an_object_kept_unverified_once_more() -> None:
    plain, kept = Recorder(), Recorder()

    failure_metrics("acme", "svc", kept_unverified=False).emit(plain)
    failure_metrics("acme", "svc", kept_unverified=True).emit(kept)

    assert plain.metrics == {"BackupFailed": ("Count", 1)}
    assert kept.metrics == {"BackupFailed": ("Count", 1), "BackupUnverified": ("Count", 1)}


def test_no_sink_means_no_metrics_and_every_metric_has_a_unit() -> None:
    failure_metrics("acme", "svc", kept_unverified=True).emit(None)  # nothing to call: no error
    assert set(UNITS) == set(Metric)
