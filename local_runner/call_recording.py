"""Record every AWS API call a handler makes, for the least-privilege check of the test suite.

Off unless ``AIVEN_BACKUP_CALL_LOG_DIR`` names a directory (the test suite's plugin
``tests/support/least_privilege_plugin.py`` sets it): then each process appends JSON lines to a
file of its own there. A call is attributed to the function whose handler is running, in its
thread or in a thread of a ``ThreadPoolExecutor`` the handler started (the copier's part uploads),
as in Lambda every thread of the sandbox belongs to the one function. Calls of the test itself,
of moto's Step Functions interpreter and of any thread not started by a handler are not recorded.

Every botocore client goes through ``BaseClient._make_api_call`` whatever session made it (the
core's clients, Powertools' own session for Secrets Manager, a client a test hands the core), so
that one method is wrapped; a per-session event hook would miss a client made before it was
registered. Each record names the function, the deployment (the stack's parameter values and the
physical names its resources got, to resolve the role's ``Resource`` expressions against) and the
call's service, operation and the request parameters that make its resource ARN.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

LOG_DIR_VARIABLE = "AIVEN_BACKUP_CALL_LOG_DIR"
ACCOUNT_ID = "123456789012"  # moto's default account

# The request parameters a resource ARN is made of (the rest, bodies included, are dropped).
_RESOURCE_PARAMETERS = (
    "Bucket",
    "Key",
    "VersionId",
    "UploadId",
    "TableName",
    "TopicArn",
    "TargetArn",
    "SecretId",
    "stateMachineArn",
    "executionArn",
    "KeyId",
    "Namespace",
    "Delete",
    "CopySource",
    "FunctionName",
)


@dataclass(frozen=True)
class Deployment:
    """What the template's intrinsics resolve to in one stack: parameter values, ``Ref`` of each
    resource, and ``Fn::GetAtt`` attributes as ``"LogicalId.Attribute"``."""

    parameters: Mapping[str, str]
    refs: Mapping[str, str]
    attributes: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "parameters": dict(self.parameters),
            "refs": dict(self.refs),
            "attributes": dict(self.attributes),
        }

    @property
    def id(self) -> str:
        text = json.dumps(self.as_json(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Invocation:
    function: str
    deployment: Deployment


_current: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar(
    "aiven_backup_recorded_invocation", default=None
)
_write_lock = threading.Lock()
_written_deployments: set[str] = set()


def enabled() -> bool:
    return bool(os.environ.get(LOG_DIR_VARIABLE))


def _log_path() -> Path:
    return Path(os.environ[LOG_DIR_VARIABLE]) / f"calls-{os.getpid()}.jsonl"


def _write(record: Mapping[str, Any]) -> None:
    line = json.dumps(record, sort_keys=True, default=str)
    with _write_lock, _log_path().open("a", encoding="utf-8") as log:
        log.write(line + "\n")


def _write_deployment(deployment: Deployment) -> None:
    if deployment.id in _written_deployments:
        return
    _written_deployments.add(deployment.id)
    _write({"kind": "deployment", "id": deployment.id, **deployment.as_json()})


@contextlib.contextmanager
def invocation(function: str, deployment: Deployment) -> Iterator[None]:
    """Attribute the AWS calls made inside to ``function`` of ``deployment``."""
    if not enabled():
        yield
        return
    _write_deployment(deployment)
    _write({"kind": "invocation", "function": function, "deployment": deployment.id})
    token = _current.set(_Invocation(function, deployment))
    try:
        with _recording():
            yield
    finally:
        _current.reset(token)


def _request_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    kept = {name: params[name] for name in _RESOURCE_PARAMETERS if name in params}
    if "Delete" in kept:  # DeleteObjects: only which objects
        kept["Delete"] = {
            "Objects": [
                {k: v for k, v in item.items() if k in ("Key", "VersionId")}
                for item in kept["Delete"].get("Objects", [])
            ]
        }
    return kept


def _record_call(client: BaseClient, operation: str, params: Mapping[str, Any]) -> None:
    current = _current.get()
    if current is None:
        return
    service = client.meta.service_model
    _write(
        {
            "kind": "call",
            "function": current.function,
            "deployment": current.deployment.id,
            # The IAM prefix: the signing name ("states" for Step Functions, not "stepfunctions").
            "service": service.signing_name,
            "operation": operation,
            "params": _request_parameters(params),
        }
    )


_depth = 0
_depth_lock = threading.Lock()
_originals: dict[str, Any] = {}


@contextlib.contextmanager
def _recording() -> Iterator[None]:
    """Wrap botocore's one call method and make pool threads inherit the invocation, while at
    least one recorded invocation runs (invocations nest and run in parallel threads)."""
    global _depth  # noqa: PLW0603 - one process-wide patch, counted
    with _depth_lock:
        if _depth == 0:
            _install()
        _depth += 1
    try:
        yield
    finally:
        with _depth_lock:
            _depth -= 1
            if _depth == 0:
                _uninstall()


def _install() -> None:
    make_api_call: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]
    submit: Callable[..., Future[Any]] = ThreadPoolExecutor.submit
    _originals["make_api_call"] = make_api_call
    _originals["submit"] = submit

    def recorded_call(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        _record_call(self, operation_name, api_params)
        return make_api_call(self, operation_name, api_params)

    def submit_in_context(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        if _current.get() is None:
            return submit(self, fn, *args, **kwargs)
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    BaseClient._make_api_call = recorded_call  # type: ignore[attr-defined]
    ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign,assignment]


def _uninstall() -> None:
    BaseClient._make_api_call = _originals.pop("make_api_call")  # type: ignore[attr-defined]
    ThreadPoolExecutor.submit = _originals.pop("submit")  # type: ignore[method-assign]
