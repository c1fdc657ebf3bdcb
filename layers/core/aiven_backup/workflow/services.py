"""The outside world the steps talk to, in one object that tests and the runner can swap."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from aiven_backup.aiven import AivenClient
from aiven_backup.aiven.token import get_aiven_token
from aiven_backup.errors import AivenForbidden, AivenUnauthorized
from aiven_backup.workflow.execution_input import InputDefaults
from aiven_backup.workflow.lock import ServiceLock, step_functions_liveness
from aiven_backup.workflow.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True)
class Services:
    settings: Settings
    input_defaults: InputDefaults
    s3: S3Client
    sns: SNSClient
    lock: ServiceLock
    clock: Callable[[], float] = time.time

    @contextlib.contextmanager
    def aiven(self, deadline: float | None = None) -> Iterator[AivenClient]:
        """A client for one step; the token comes from Secrets Manager, cached per container.
        ``deadline`` (``time.monotonic()``): no call or retry of the client runs past it.

        A refused token is reported with the secret to fix: the client alone cannot know it.
        """
        secret_id = self.settings.aiven_token_secret_id
        token = get_aiven_token(secret_id)
        try:
            with AivenClient(
                token,
                base_url=self.settings.aiven_api_url,
                retry=self.settings.aiven_retry,
                deadline=deadline,
            ) as client:
                yield client
        except (AivenUnauthorized, AivenForbidden) as error:
            raise type(error)(
                f"{error} The token is read from the Secrets Manager secret {secret_id}: "
                'store a valid Aiven API token there (plain, or JSON {"token": ...}).',
                status=error.status,
                error_code=error.error_code,
            ) from None


@cache
def services_for(settings: Settings, input_defaults: InputDefaults) -> Services:
    """One set of clients per container (and per configuration, for the local runner's sake)."""
    # Enough pooled connections for the copier's concurrent part uploads.
    s3_config = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 5})
    return Services(
        settings=settings,
        input_defaults=input_defaults,
        s3=boto3.client("s3", config=s3_config),
        sns=boto3.client("sns"),
        lock=ServiceLock(
            settings.lock_table,
            ttl_seconds=settings.lock_ttl_seconds,
            is_running=step_functions_liveness(boto3.client("stepfunctions")),
        ),
    )


def services_from_env() -> Services:
    return services_for(Settings.from_env(), InputDefaults.from_env())
