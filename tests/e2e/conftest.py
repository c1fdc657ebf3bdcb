"""Fixtures for tests on a real influxd: two fresh servers and the transport between them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_runner.influxdb import INSTALL_HINT, InfluxServer, influxd_available

type Transport = Callable[[bytes], bytes]


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
def transport() -> Transport:
    """Carries the packed backup tar from the source to the restore.

    For now the bytes pass unchanged; the workflow end to end (Aiven simulator, state machine
    through the local runner, S3) replaces this body.
    """

    def deliver(tar: bytes) -> bytes:
        return tar

    return deliver
