"""A whole request-poll-resolve-download run at DEBUG leaks neither the token nor the URI password.

Every logger is captured (root at DEBUG, plus a Powertools logger), and httpx, httpcore and
botocore are forced to DEBUG after ``install_redaction`` quieted them: the worst case, where
someone turned their logging up.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator

import boto3
import httpx
import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters

from aiven_backup.aiven import AivenClient, RetryPolicy, get_aiven_token, resolve_backup_url
from aiven_backup.download_guard import check_download_url
from aiven_backup.errors import AivenUnauthorized, DownloadUrlRejected
from aiven_backup.redaction import RedactingFilter, install_redaction
from local_runner.aiven_simulator import AivenSimulator
from tests.support.aiven import PROJECT, SERVICE
from tests.support.aws import REGION

NOISY_LOGGERS = ("httpx", "httpcore", "botocore", "urllib3")


@pytest.fixture
def captured_logs(moto_aws: None) -> Iterator[tuple[io.StringIO, Logger]]:
    """All log output of the process, plus a Powertools logger writing to the same place."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous_root_level = root.level
    previous_levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    powertools = Logger(service=f"run-{uuid.uuid4().hex}", level="DEBUG", stream=stream)
    install_redaction(root)
    install_redaction(powertools)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    yield stream, powertools
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    root.removeHandler(handler)
    root.setLevel(previous_root_level)
    for name, level in previous_levels.items():
        logging.getLogger(name).setLevel(level)
    for filterer in (root, *root.handlers):
        for installed in [f for f in filterer.filters if isinstance(f, RedactingFilter)]:
            filterer.removeFilter(installed)


def test_a_full_run_at_debug_leaks_no_secret(
    captured_logs: tuple[io.StringIO, Logger],
) -> None:
    stream, powertools = captured_logs
    token = f"aiven-token-{uuid.uuid4().hex}"
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="aiven/token", SecretString=json.dumps({"token": token})
    )
    app_logger = logging.getLogger("aiven_backup.test_run")

    with AivenSimulator(token=token) as sim:
        svc = sim.add_service(PROJECT, SERVICE, backup=b"tar-bytes" * 1000)
        port = sim.port
        sim.faults.api_status(429)  # a retry, so the client logs its warning
        loaded = get_aiven_token("aiven/token")
        with AivenClient(
            loaded, base_url=sim.base_url, retry=RetryPolicy(base_delay=0.0), sleep=lambda _: None
        ) as client:
            service = client.get_service(PROJECT, SERVICE)
            task = client.create_user_backup(PROJECT, SERVICE, "run-1")
            client.get_task(PROJECT, SERVICE, task.task_id)
        url = resolve_backup_url(service, "run-1", "auto")
        check_download_url(url, ["127.0.0.1"], allow_insecure=True)
        powertools.info("downloading %s", url)
        powertools.info({"download": {"url": url, "service": repr(service)}})
        app_logger.debug("download url %s with token %s", url, loaded)
        with httpx.Client() as http, http.stream("GET", url) as response:
            size = sum(len(piece) for piece in response.iter_raw())
        app_logger.info("downloaded %d bytes from %s", size, url)
        failing_steps: list[Callable[[], None]] = [
            lambda: check_download_url(url),
            lambda: read_with_token("wrong-token", sim.base_url),
        ]
        for failing in failing_steps:
            try:
                failing()
            except (DownloadUrlRejected, AivenUnauthorized):
                powertools.exception("step failed")
                app_logger.exception("step failed for %s", url)

    output = stream.getvalue()
    assert size == len(svc.backup)
    assert loaded == token
    # Everything was captured: the libraries' own debug output and ours.
    for source in ("httpx ", "httpcore.", "botocore.", "aiven_backup.aiven.client WARNING"):
        assert source in output
    assert "***" in output
    assert '"SecretString": ***' in output  # botocore's DEBUG dump of the secret, masked
    assert f"avnadmin:***@127.0.0.1:{port}" in output
    # ...and nothing secret is in it.
    assert token not in output
    assert svc.password not in output


def read_with_token(token: str, base_url: str) -> None:
    with AivenClient(token, base_url=base_url) as client:
        client.get_service(PROJECT, SERVICE)
