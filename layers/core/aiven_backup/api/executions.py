"""The state machine's executions, as the API needs them: start, describe, list newest first."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType
    from mypy_boto3_stepfunctions.type_defs import (
        DescribeExecutionOutputTypeDef,
        ListExecutionsInputTypeDef,
    )

EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
_PAGE_SIZE = 100  # ListExecutions' maximum


class ExecutionAlreadyExistsError(Exception):
    """StartExecution found an execution by that name with a different input (or closed)."""


@dataclass(frozen=True)
class Execution:
    """One execution as DescribeExecution reports it."""

    name: str
    arn: str
    status: str
    start_time: datetime
    stop_time: datetime | None
    input: str | None
    output: str | None
    error: str | None
    cause: str | None

    def input_object(self) -> object:
        """The input decoded from JSON, or None when it is missing or not JSON."""
        return _json_or_none(self.input)

    def output_object(self) -> object:
        return _json_or_none(self.output)


@dataclass(frozen=True)
class ExecutionListing:
    """One row of ListExecutions (no input: describe it for that)."""

    name: str
    arn: str
    status: str
    start_time: datetime


class Executions:
    """Executions of one state machine."""

    def __init__(self, stepfunctions: SFNClient, state_machine_arn: str) -> None:
        self._sfn = stepfunctions
        self._state_machine_arn = state_machine_arn
        # arn:aws:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<execution>
        partition_region_account, _, machine_name = state_machine_arn.rpartition(":stateMachine:")
        self._execution_arn_prefix = f"{partition_region_account}:execution:{machine_name}:"

    def arn_for(self, name: str) -> str:
        return self._execution_arn_prefix + name

    def start(self, name: str, execution_input: Mapping[str, Any]) -> str:
        """Start an execution; return its ARN. Same name and input while running: the same one."""
        sfn = self._sfn
        try:
            started = sfn.start_execution(
                stateMachineArn=self._state_machine_arn,
                name=name,
                input=json.dumps(execution_input, sort_keys=True),
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            raise ExecutionAlreadyExistsError(name) from None
        return started["executionArn"]

    def describe(self, name: str) -> Execution | None:
        """The execution of this state machine by that name, or None."""
        return self.describe_arn(self.arn_for(name))

    def describe_arn(self, arn: str) -> Execution | None:
        try:
            described = self._sfn.describe_execution(executionArn=arn)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {
                "ExecutionDoesNotExist",
                "InvalidArn",
            }:
                return None
            raise
        return _execution(described)

    def newest_first(self, status: ExecutionStatusType | None = None) -> Iterator[ExecutionListing]:
        """Every execution (optionally of one status), newest first, fetched page by page."""
        request: ListExecutionsInputTypeDef = {
            "stateMachineArn": self._state_machine_arn,
            "maxResults": _PAGE_SIZE,
        }
        if status:
            request["statusFilter"] = status
        while True:
            page = self._sfn.list_executions(**request)
            for row in page["executions"]:
                yield ExecutionListing(
                    name=row["name"],
                    arn=row["executionArn"],
                    status=row["status"],
                    start_time=row["startDate"],
                )
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token


def _execution(described: DescribeExecutionOutputTypeDef) -> Execution:
    return Execution(
        name=described["name"],
        arn=described["executionArn"],
        status=described["status"],
        start_time=described["startDate"],
        stop_time=described.get("stopDate"),
        input=described.get("input"),
        output=described.get("output"),
        error=described.get("error"),
        cause=described.get("cause"),
    )


def parse_status(text: str) -> ExecutionStatusType | None:
    """The status named by ``text`` (any case), or None when Step Functions has no such status."""
    status = text.upper()
    return cast("ExecutionStatusType", status) if status in EXECUTION_STATUSES else None


def _json_or_none(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
