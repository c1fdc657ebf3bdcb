"""What every fault test asserts about what the user sees, and the switches the simulator lacks."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast
from unittest import mock

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

import local_runner.aiven_simulator.server as simulator_server
from local_runner.aiven_simulator import Faults
from local_runner.aiven_simulator.download import serve_backup as original_serve_backup
from tests.support.s3 import s3_error_response
from tests.support.workflow import Workflow

COPY_FUNCTION = "CopyBackupFunction"
POLL_FUNCTION = "PollBackupFunction"
PROBE_RANGE = "bytes=0-0"  # the one-byte GET that polls and every copy invocation start with

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def data_gets(workflow: Workflow) -> list[tuple[str, str, str | None]]:
    """The download GETs that fetched backup bytes (not the one-byte probes)."""
    return [
        request
        for request in workflow.simulator.download_requests
        if request[0] == "GET" and request[2] != PROBE_RANGE
    ]


class TargetedDownloadFault:
    """Arms one download fault for the first data GET whose body holds byte ``at`` of the backup:
    ``kind`` "drop" (reset there), "truncate" (clean close there) or "content_length" (announce
    the body as ending there, then send it all).

    The simulator's own download faults fire on whichever GET comes next, probes included, and
    ranged part GETs run concurrently; this picks the GET that really carries byte ``at`` and
    gives it a fault of its own, cut at that byte. ``fired`` holds the Range of that GET.
    """

    def __init__(self, kind: str, at: int, total: int, *, ranges: bool) -> None:
        self.kind = kind
        self.at = at
        self.total = total
        self.ranges = ranges
        self.fired: list[str | None] = []
        self._lock = threading.Lock()

    def faults_for(self, range_header: str | None) -> Faults | None:
        if range_header == PROBE_RANGE:
            return None
        start, end = self._span(range_header)
        with self._lock:
            if self.fired or not start <= self.at <= end:
                return None
            self.fired.append(range_header)
        faults = Faults()
        if self.kind == "drop":
            faults.drop_download_after(self.at - start)
        elif self.kind == "truncate":
            faults.truncate_download(self.at - start)
        else:  # "content_length": announce the body as ending at byte ``at``
            faults.wrong_content_length(self.at - start)
        return faults

    def _span(self, range_header: str | None) -> tuple[int, int]:
        match = _RANGE.match(range_header or "") if self.ranges else None
        if match is None:
            return 0, self.total - 1
        return int(match.group(1)), int(match.group(2) or self.total - 1)


@contextlib.contextmanager
def targeted_download_fault(
    monkeypatch: pytest.MonkeyPatch, fault: TargetedDownloadFault
) -> Iterator[TargetedDownloadFault]:
    """Route the simulator's download answers through ``fault`` while the block runs."""

    def serve_backup(handler: Any, service: Any, file_name: str, **kwargs: Any) -> None:
        chosen = fault.faults_for(handler.headers.get("Range"))
        if chosen is not None:
            kwargs["faults"] = chosen
        original_serve_backup(handler, service, file_name, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(simulator_server, "serve_backup", serve_backup)
        yield fault


@contextlib.contextmanager
def failing_s3_calls(operation: str, code: str, status: int, times: int) -> Iterator[list[str]]:
    """Answer the first ``times`` attempts of S3 ``operation`` (``UploadPart``, ``GetObject``...)
    of every S3 client made meanwhile with an S3 error (``SlowDown``/503, ``Throttling``/400,
    ``TooManyRequests``/429...), before moto sees them; after the block, calls pass again.

    The hook sits on boto3's default session, from which the stack's functions create their
    clients, so botocore's own retries and the product's both meet the fault as in AWS. Their
    back-off waits are skipped, as the state machine's are. Yields the attempts' URLs.
    """
    attempts: list[str] = []
    lock = threading.Lock()
    active = True

    def inject(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        with lock:
            if not active:
                return None
            attempts.append(request.url)
            if len(attempts) > times:
                return None
        return s3_error_response(code, status, request.url)

    # The default session: the functions create their clients from it, copying its hooks.
    events = boto3._get_default_session().events
    # A before-send handler may answer in place of the wire; the stubs type handlers as -> None.
    handler = cast("Callable[..., None]", inject)
    event = f"before-send.s3.{operation}"
    events.register_first(event, handler, unique_id=f"fault-matrix-s3-{operation}")
    try:
        with mock.patch(
            "botocore.retries.standard.ExponentialBackoff.delay_amount", return_value=0
        ):
            yield attempts
    finally:
        with lock:
            active = False
        events.unregister(event, unique_id=f"fault-matrix-s3-{operation}")
