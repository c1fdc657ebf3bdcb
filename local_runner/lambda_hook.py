"""Run Lambda functions in this process when moto's Step Functions invokes them.

moto's Lambda backend would start Docker, which is not available here. Its single invocation point,
``LambdaFunction._invoke_lambda`` (a private method: moto is pinned for this reason), is replaced by
one that imports the real handler from ``functions/<name>/app.py`` and calls it with the function's
environment variables and a context object with a real deadline. An exception becomes the payload
``{"errorType": <class name>, "errorMessage": ...}`` with ``errored=True``, exactly what Step
Functions sees from AWS Lambda, so Retry and Catch on the core's error names behave as deployed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aws_lambda_powertools.utilities import parameters
from moto.awslambda.models import LambdaFunction

from local_runner import call_recording

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the AWS Lambda context object that this project's handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class LocalFunction:
    """Where a function's handler lives and what it runs with."""

    code_dir: Path
    handler: str  # "app.lambda_handler"
    environment: Mapping[str, str]
    timeout_seconds: float
    memory_mb: int = 1024


@dataclass
class InvocationRecord:
    function_name: str
    event: Any
    error_type: str | None


class InProcessLambdas:
    """Registry of local functions by name, and the patch that routes moto's invocations to them."""

    def __init__(self) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.invocations: list[InvocationRecord] = []
        self._modules: dict[str, ModuleType] = {}
        self._env_lock = threading.Lock()
        # The stack's names, for attributing each AWS call a handler makes (call_recording.py).
        self.deployment: call_recording.Deployment | None = None
        self._cache_owner: str | None = None

    def register(self, name: str, function: LocalFunction) -> None:
        self.functions[name] = function

    def invoke(self, name: str, event: Any, invoked_arn: str) -> tuple[str, bool]:
        function = self.functions[name]
        handler = self._load_handler(name, function)
        context = LambdaContext(
            function_name=name,
            memory_limit_in_mb=function.memory_mb,
            invoked_function_arn=invoked_arn,
            timeout_seconds=function.timeout_seconds,
        )
        with self._env_lock:
            # Every function of the stack shares its Globals; the few per-function variables do
            # not conflict, so setting them without restoring is safe across threads.
            os.environ.update(function.environment)
            # Each function runs in containers of its own: what another function's handler
            # cached (Powertools' parameters: the Aiven token) is not there, and this one reads
            # the secret itself, as its role must allow.
            if self._cache_owner != name:
                parameters.clear_caches()  # type: ignore[no-untyped-call]
                self._cache_owner = name
        recorded = (
            call_recording.invocation(name, self.deployment)
            if self.deployment is not None
            else contextlib.nullcontext()
        )
        try:
            with recorded:
                result = handler(event, context)
        except Exception as error:
            self.invocations.append(InvocationRecord(name, event, type(error).__name__))
            payload = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-3:],
            }
            return json.dumps(payload), True
        self.invocations.append(InvocationRecord(name, event, None))
        return json.dumps(result), False

    def _load_handler(self, name: str, function: LocalFunction) -> Handler:
        module_file, _, attribute = function.handler.rpartition(".")
        module = self._modules.get(name)
        if module is None:
            path = function.code_dir / f"{module_file.replace('.', '/')}.py"
            spec = importlib.util.spec_from_file_location(f"local_lambda_{name}", path)
            if spec is None or spec.loader is None:
                raise FileNotFoundError(f"handler module for {name} not found at {path}")
            module = importlib.util.module_from_spec(spec)
            with self._env_lock:
                os.environ.update(function.environment)
            spec.loader.exec_module(module)
            self._modules[name] = module
        handler: Handler = getattr(module, attribute)
        return handler

    @contextlib.contextmanager
    def patched(self) -> Iterator[InProcessLambdas]:
        """Route every moto Lambda invocation to the registered in-process handlers."""
        original = LambdaFunction._invoke_lambda
        registry = self

        def invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
            if isinstance(event, str):
                event = json.loads(event or "{}")
            payload, errored = registry.invoke(self.function_name, event, self.function_arn)
            return payload, errored, ""

        LambdaFunction._invoke_lambda = invoke_in_process
        saved_environment = dict(os.environ)
        try:
            yield self
        finally:
            LambdaFunction._invoke_lambda = original
            os.environ.clear()
            os.environ.update(saved_environment)
