"""Transient failures are retried within bounds; the waits honour what the server asked for."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from aiven_backup.aiven import AivenClient, RetryPolicy
from aiven_backup.errors import AivenRateLimited, AivenServerError, AivenUnavailable
from local_runner.aiven_simulator import RATE_LIMIT_MESSAGE, AivenSimulator
from tests.support.aiven import PROJECT, SERVICE, ClientFactory


@pytest.fixture(autouse=True)
def service(sim: AivenSimulator) -> None:
    sim.add_service(PROJECT, SERVICE)


def test_rate_limit_waits_the_seconds_aivens_body_names(
    sim: AivenSimulator, client: AivenClient, waits: list[float]
) -> None:
    sim.faults.api_status(429, count=2)

    service = client.get_service(PROJECT, SERVICE)

    assert service.name == SERVICE
    assert waits == [28.0, 28.0]
    assert len(sim.requests) == 3


def test_rate_limit_past_the_attempt_bound_raises_with_the_hint(
    sim: AivenSimulator, make_client: ClientFactory, waits: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3, max_total_wait=1000.0))
    sim.faults.api_status(429, count=10)

    with pytest.raises(AivenRateLimited) as caught:
        client.get_service(PROJECT, SERVICE)

    assert caught.value.retry_after == 28.0
    assert caught.value.status == 429
    assert caught.value.transient
    assert "Rate limit 120 exceeded" in str(caught.value)
    assert waits == [28.0, 28.0]
    assert len(sim.requests) == 3


def test_a_hint_longer_than_the_wait_budget_stops_retrying_at_once(
    sim: AivenSimulator, make_client: ClientFactory, waits: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=6, max_total_wait=20.0))
    sim.faults.api_status(429, count=10)

    with pytest.raises(AivenRateLimited) as caught:
        client.get_service(PROJECT, SERVICE)

    assert caught.value.retry_after == 28.0
    assert waits == []
    assert len(sim.requests) == 1


def test_total_wait_is_bounded(
    sim: AivenSimulator, make_client: ClientFactory, waits: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=10, max_total_wait=60.0))
    sim.faults.api_status(429, count=10)

    with pytest.raises(AivenRateLimited):
        client.get_service(PROJECT, SERVICE)

    assert waits == [28.0, 28.0]  # a third 28 s wait would pass 60 s
    assert sum(waits) <= 60.0


def test_retry_after_header_wins_over_the_body_text(
    sim: AivenSimulator, client: AivenClient, waits: list[float]
) -> None:
    sim.faults.api_status(429, retry_after="3")

    client.get_service(PROJECT, SERVICE)

    assert waits == [3.0]


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_server_error_bursts_are_retried_with_bounded_jittered_backoff(
    sim: AivenSimulator, client: AivenClient, waits: list[float], status: int
) -> None:
    sim.faults.api_status(status, count=3)

    service = client.get_service(PROJECT, SERVICE)

    assert service.name == SERVICE
    assert len(sim.requests) == 4
    assert len(waits) == 3
    for retry_number, wait in enumerate(waits, start=1):
        assert 0.0 <= wait <= min(2.0, 0.5 * 2 ** (retry_number - 1))


def test_server_errors_past_the_attempt_bound_raise_a_transient_error(
    sim: AivenSimulator, client: AivenClient, waits: list[float]
) -> None:
    sim.faults.api_status(503, count=10)

    with pytest.raises(AivenServerError) as caught:
        client.get_service(PROJECT, SERVICE)

    assert caught.value.status == 503
    assert caught.value.transient
    assert "4 attempt(s)" in str(caught.value)
    assert len(sim.requests) == 4
    assert len(waits) == 3


def test_a_post_is_retried_on_429_and_5xx_too(
    sim: AivenSimulator, client: AivenClient, waits: list[float]
) -> None:
    sim.faults.api_status(429, methods=("POST",))
    sim.faults.api_status(500, methods=("POST",))

    task = client.create_user_backup(PROJECT, SERVICE, "nightly-1")

    assert task.task_id
    assert [method for method, _ in sim.requests] == ["POST", "POST", "POST"]
    assert len(waits) == 2


def test_a_dropped_connection_on_a_read_is_retried(
    sim: AivenSimulator, client: AivenClient, waits: list[float]
) -> None:
    sim.faults.api_disconnect(count=2)

    service = client.get_service(PROJECT, SERVICE)

    assert service.name == SERVICE
    assert len(sim.requests) == 3
    assert len(waits) == 2


def test_connections_that_keep_dropping_become_aiven_unavailable(
    sim: AivenSimulator, client: AivenClient, waits: list[float]
) -> None:
    sim.faults.api_disconnect(count=10)

    with pytest.raises(AivenUnavailable) as caught:
        client.get_service(PROJECT, SERVICE)

    assert caught.value.transient
    assert "4 attempt(s)" in str(caught.value)
    assert len(sim.requests) == 4


def test_a_dropped_create_request_is_not_repeated(
    sim: AivenSimulator, client: AivenClient, waits: list[float]
) -> None:
    """The request may have reached Aiven: a blind retry could start a second backup."""
    sim.faults.api_disconnect(methods=("POST",))

    with pytest.raises(AivenUnavailable, match="may have reached Aiven"):
        client.create_user_backup(PROJECT, SERVICE, "nightly-1")

    assert sim.requests == [("POST", f"/v1/project/{PROJECT}/service/{SERVICE}/task")]
    assert waits == []


def test_a_read_timeout_is_retried_then_unavailable(
    sim: AivenSimulator, make_client: ClientFactory, waits: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=2), timeout=httpx.Timeout(0.2, connect=1.0))
    sim.faults.api_stall(1.0, count=2)

    with pytest.raises(AivenUnavailable, match="ReadTimeout"):
        client.get_service(PROJECT, SERVICE)

    assert len(sim.requests) == 2
    assert len(waits) == 1


def test_nothing_listening_is_retried_then_unavailable(
    make_client: ClientFactory, waits: list[float]
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{closed_port}")

    with pytest.raises(AivenUnavailable, match="ConnectError") as caught:
        client.create_user_backup(PROJECT, SERVICE, "nightly-1")

    assert "may have reached Aiven" not in str(caught.value)  # never connected: safe to retry
    assert len(waits) == 3


def test_the_rate_limit_body_is_aivens_real_text() -> None:
    assert RATE_LIMIT_MESSAGE.endswith("Rate limit 120 exceeded - try again in 28s")


# --- The invocation's deadline bounds every call ---------------------------------------------


def test_a_stalled_api_is_given_up_at_the_deadline_as_a_transient_error(
    sim: AivenSimulator, make_client: ClientFactory, waits: list[float]
) -> None:
    """Without the deadline the client would wait 30 s per attempt, 4 times: past a Lambda's
    timeout, where no error name reaches the state machine (Sandbox.Timedout, progress lost)."""
    client = make_client(timeout=httpx.Timeout(30.0, connect=1.0), deadline=time.monotonic() + 0.5)
    sim.faults.api_stall(3.0, count=10)
    started = time.monotonic()

    with pytest.raises(AivenUnavailable, match="ReadTimeout") as caught:
        client.get_service(PROJECT, SERVICE)

    assert time.monotonic() - started < 2.0
    assert caught.value.transient


def test_no_retry_wait_runs_past_the_deadline(
    sim: AivenSimulator, make_client: ClientFactory, waits: list[float]
) -> None:
    client = make_client(
        retry=RetryPolicy(max_attempts=6, max_total_wait=1000.0), deadline=time.monotonic() + 5
    )
    sim.faults.api_status(429, count=10)  # each answer asks for 28 s

    with pytest.raises(AivenRateLimited) as caught:
        client.get_service(PROJECT, SERVICE)

    assert waits == []
    assert len(sim.requests) == 1
    assert caught.value.transient


def test_a_call_with_no_time_left_is_not_sent(
    sim: AivenSimulator, make_client: ClientFactory
) -> None:
    client = make_client(deadline=time.monotonic() - 1)

    with pytest.raises(AivenUnavailable, match="No time was left"):
        client.get_service(PROJECT, SERVICE)

    assert sim.requests == []
