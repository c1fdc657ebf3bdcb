"""The Aiven side of the tests: the project, service and token the simulator is given."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from aiven_backup.aiven import AivenClient, RetryPolicy

TOKEN = "sim-token-4c1d9e7f2a"
PROJECT = "acme"
SERVICE = "metrics-influx"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=2.0, max_total_wait=100.0)
FAST_TIMEOUT = httpx.Timeout(2.0, connect=1.0)

ClientFactory = Callable[..., AivenClient]
