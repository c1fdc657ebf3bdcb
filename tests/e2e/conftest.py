"""Fixtures for tests on a real influxd: two fresh servers and the transport between them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runner.influxdb import INSTALL_HINT, InfluxServer, influxd_available
from tests.support.aiven import PROJECT, SERVICE
from tests.support.influxdb import Transport, inventory_shards, manifest_shards
from tests.support.workflow import WorkflowFactory


@pytest.fixture
def influxd_installed() -> None:
    """Fails (never skips) without influxd: `make test` installs it."""
    if not influxd_available():
        pytest.fail(f"influxd is not installed: {INSTALL_HINT}")


@pytest.fixture
def source_influxd(influxd_installed: None, tmp_path: Path) -> Iterator[InfluxServer]:
    """The influxd a backup is taken from."""
    with InfluxServer(tmp_path / "source-influxd") as server:
        yield server


@pytest.fixture
def target_influxd(influxd_installed: None, tmp_path: Path) -> Iterator[InfluxServer]:
    """A second, empty influxd the backup is restored into."""
    with InfluxServer(tmp_path / "target-influxd") as server:
        yield server


@pytest.fixture
def transport(make_workflow: WorkflowFactory) -> Transport:
    """Carries the packed backup tar the way the product does: the Aiven simulator serves it, the
    real state machine runs on moto with in-process handlers, and the object is read back from S3.
    The inventory the workflow wrote is checked against the manifest inside the tar."""

    def deliver(tar: bytes) -> bytes:
        workflow = make_workflow()
        workflow.simulator.add_service(PROJECT, SERVICE, backup=tar)
        result = workflow.run({"backup_name": "real-influxd"})
        assert result.status == "SUCCEEDED", f"{result.error}: {result.cause}"
        assert result.output is not None
        landed = workflow.object_bytes(result.output["key"])
        inventory = json.loads(workflow.object_bytes(result.output["inventory_key"]))
        assert inventory_shards(inventory) == manifest_shards(tar)
        return landed

    return deliver
