"""Make moto's ``arn:aws:states:::states:startExecution`` integration speak AWS's field names.

The fan-out state machine starts the single-service one with ``startExecution.sync:2``. AWS
documents that integration's parameters in Pascal case (``StateMachineArn``, ``Input``, ``Name``)
and answers in Pascal case too (``ExecutionArn``, ``Status``, ``Output`` as JSON, and on failure
``States.TaskFailed`` whose ``Cause`` is that DescribeExecution answer as JSON, with the child's
``Error`` and ``Cause``; dates are epoch milliseconds).

moto 5.2.5 ported LocalStack's interpreter but left the two hooks that translate between those
names and botocore's (``_normalise_parameters``/``_normalise_response`` of the service task) as
no-ops. So a definition written for AWS fails there with ``States.Runtime: 'StateMachineArn'``
(botocore's serializer knows only ``stateMachineArn``), and a definition written for moto's
lowercase names would fail on AWS. This patch restores the translation for the Step Functions
integration only, with botocore's own model of the API, exactly as LocalStack does: the
definition stays the one AWS runs. Nothing else of moto changes.

``tests/unit/statemachine/test_moto_sfn_shim.py`` pins both halves (moto without the patch still
fails that way, and with it answers AWS's shape), so the day moto fixes this the first test says
the patch can go.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any
from unittest import mock

import botocore.session
from botocore.model import OperationModel, ServiceModel
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (  # noqa: E501
    StateTaskServiceSfn,
)


@cache
def _model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("stepfunctions")


def _operation(snake_case_action: str) -> OperationModel:
    wanted = snake_case_action.replace("_", "").lower()
    model = _model()
    for name in model.operation_names:
        if name.lower() == wanted:
            return model.operation_model(name)
    raise KeyError(f"Step Functions has no API action {snake_case_action!r}")


@contextlib.contextmanager
def states_integration_as_aws(*, sync_poll_seconds: float | None = None) -> Iterator[None]:
    """Patch moto's Step Functions integration to AWS's request and response field names.

    ``sync_poll_seconds``: how often a ``.sync`` task looks at the execution it started (moto
    sleeps 0.5 s between looks; tests shorten it, as they skip Wait states).
    """
    original_parameters = StateTaskServiceSfn._normalise_parameters

    def normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        # moto's own step first: an Input object becomes the JSON string the API takes.
        original_parameters(self, parameters, boto_service_name, service_action_name)
        action = service_action_name or self._get_boto_service_action()
        self._to_boto_request(parameters, _operation(action).input_shape)

    def normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        action = service_action_name or self._get_boto_service_action()
        self._from_boto_response(response, _operation(action).output_shape)
        if isinstance(response, dict):
            # botocore parsed the dates; the integration hands them on as epoch milliseconds.
            for key, value in response.items():
                if isinstance(value, datetime):
                    response[key] = int(value.timestamp() * 1000)

    with contextlib.ExitStack() as patches:
        patches.enter_context(
            mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters)
        )
        patches.enter_context(
            mock.patch.object(StateTaskServiceSfn, "_normalise_response", normalise_response)
        )
        if sync_poll_seconds is not None:
            patches.enter_context(
                mock.patch.object(
                    state_task_service_callback,
                    "_DELAY_SECONDS_SYNC_CONDITION_CHECK",
                    sync_poll_seconds,
                )
            )
        yield
