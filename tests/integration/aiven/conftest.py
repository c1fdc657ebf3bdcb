"""A running Aiven simulator and clients pointed at it, with sleeps recorded instead of slept."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from aiven_backup.aiven import AivenClient, RetryPolicy
from local_runner.aiven_simulator import AivenSimulator
from tests.support.aiven import (
    FAST_RETRY,
    FAST_TIMEOUT,
    TOKEN,
    ClientFactory,
)


@pytest.fixture
def sim() -> Iterator[AivenSimulator]:
    with AivenSimulator(token=TOKEN) as simulator:
        yield simulator


@pytest.fixture
def waits() -> list[float]:
    """Every backoff the client asked for, in order (nothing really sleeps)."""
    return []


@pytest.fixture
def make_client(sim: AivenSimulator, waits: list[float]) -> Iterator[ClientFactory]:
    clients: list[AivenClient] = []

    def make(
        token: str = TOKEN,
        retry: RetryPolicy = FAST_RETRY,
        timeout: httpx.Timeout = FAST_TIMEOUT,
        base_url: str | None = None,
        deadline: float | None = None,
    ) -> AivenClient:
        client = AivenClient(
            token,
            base_url=base_url or sim.base_url,
            timeout=timeout,
            retry=retry,
            sleep=waits.append,
            deadline=deadline,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> AivenClient:
    return make_client()
