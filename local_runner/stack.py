"""The stack of ``template.yaml`` on this machine: moto for AWS, the real handlers in-process.

Resources are created from what the template declares (functions, their environment, the state
machine and its substitutions), so a change to the template is what the local runner runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import time
import types
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.s3.models import S3Backend

from aiven_backup.workflow import services as services_module
from aiven_backup.workflow.execution_input import InputDefaults
from aiven_backup.workflow.services import Services, services_for
from aiven_backup.workflow.settings import Settings
from local_runner import template as tpl
from local_runner.call_recording import ACCOUNT_ID, Deployment
from local_runner.lambda_hook import InProcessLambdas, LocalFunction
from local_runner.moto_sfn import states_integration_as_aws

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

REGION = "us-east-1"
BUCKET = "influxdb-backups-local"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
SINGLE_STATE_MACHINE = "BackupStateMachine"
FANOUT_STATE_MACHINE = "FanOutStateMachine"
_MACHINE_NAMES = {
    SINGLE_STATE_MACHINE: "influxdb-backup",
    FANOUT_STATE_MACHINE: "influxdb-backup-fanout",
}


@dataclass(frozen=True)
class ExecutionResult:
    arn: str
    status: str
    output: Mapping[str, Any] | None
    error: str | None
    cause: str | None


@dataclass
class StackOptions:
    aiven_api_url: str
    aiven_token: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    # Extra environment for every function (tests widen the download allow-list, shrink waits).
    environment: Mapping[str, str] = field(default_factory=dict)
    # Per function logical id: the time limit its context reports (tests shrink the copier's).
    timeouts: Mapping[str, float] = field(default_factory=dict)
    # Skip Wait states and retry back-off: tests assert behaviour, not time.
    fast_waits: bool = False
    # The time executions start at and the steps read (epoch seconds), instead of the real one:
    # tests run a year of nightly backups in a minute. S3's own timestamps stay real.
    clock: Callable[[], float] | None = None


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.lambdas = InProcessLambdas()
        self.template = tpl.load_template()
        self._exit = contextlib.ExitStack()
        self.state_machine_arn = ""
        # Logical id -> ARN of every state machine (the single-service one and the fan-out).
        self.state_machine_arns: dict[str, str] = {}
        self.topic_arn = ""
        self.queue_url = ""
        self.schedule_inputs: dict[str, Any] = {}
        # Schedule event name -> logical id of the state machine it starts.
        self.schedule_targets: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self._exit.enter_context(
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        )
        self._exit.enter_context(self.lambdas.patched())
        self._exit.enter_context(_default_retention_on_multipart_uploads())
        self._exit.enter_context(
            states_integration_as_aws(sync_poll_seconds=0.05 if self.options.fast_waits else None)
        )
        if self.options.fast_waits:
            self._exit.enter_context(_instant_waits())
        if self.options.clock is not None:
            self._exit.enter_context(_simulated_clock(self.options.clock))
        services_for.cache_clear()  # clients made under an earlier mock must not be reused
        self._exit.callback(services_for.cache_clear)
        self._create_resources()
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    # --- clients -----------------------------------------------------------------------------

    @property
    def s3(self) -> S3Client:
        return boto3.client("s3", region_name=REGION)

    @property
    def sfn(self) -> SFNClient:
        return boto3.client("stepfunctions", region_name=REGION)

    @property
    def sqs(self) -> SQSClient:
        return boto3.client("sqs", region_name=REGION)

    # --- running -----------------------------------------------------------------------------

    @property
    def fanout_state_machine_arn(self) -> str:
        return self.state_machine_arns[FANOUT_STATE_MACHINE]

    def start(
        self, execution_input: Any, name: str | None = None, *, machine: str | None = None
    ) -> str:
        """Start an execution of the single-service state machine, or of ``machine`` (a logical
        id such as ``FANOUT_STATE_MACHINE``)."""
        # moto names an unnamed execution "None", so every execution gets a real name.
        name = name or f"local-{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns() % 10**8}"
        arn = self.state_machine_arns[machine] if machine else self.state_machine_arn
        return self.sfn.start_execution(
            stateMachineArn=arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]

    def start_fanout(self, execution_input: Any, name: str | None = None) -> str:
        return self.start(execution_input, name, machine=FANOUT_STATE_MACHINE)

    def wait(self, execution_arn: str, timeout: float = 120.0) -> ExecutionResult:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in TERMINAL:
                output = described.get("output")
                return ExecutionResult(
                    arn=execution_arn,
                    status=described["status"],
                    output=json.loads(output) if output else None,
                    error=described.get("error"),
                    cause=described.get("cause"),
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout} s")
            time.sleep(0.05)

    def run(self, execution_input: Any, timeout: float = 120.0) -> ExecutionResult:
        return self.wait(self.start(execution_input), timeout)

    def run_fanout(self, execution_input: Any, timeout: float = 300.0) -> ExecutionResult:
        return self.wait(self.start_fanout(execution_input), timeout)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])  # type: ignore[arg-type]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def notifications(self) -> list[dict[str, Any]]:
        """Every SNS message published so far: subject, message and attributes."""
        received = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                received.append(
                    {
                        "subject": envelope.get("Subject"),
                        "message": envelope.get("Message"),
                        "attributes": {
                            k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                        },
                    }
                )
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return received

    def incomplete_uploads(self) -> list[dict[str, Any]]:
        uploads = self.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        return [dict(upload) for upload in uploads]

    def object_keys(self) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]

    # --- resources ---------------------------------------------------------------------------

    def _create_resources(self) -> None:
        s3 = self.s3
        sns = boto3.client("sns", region_name=REGION)
        self.topic_arn = sns.create_topic(Name="influxdb-backup-notifications")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="aiven-token", SecretString=self.options.aiven_token
        )["ARN"]
        table = "influxdb-backup-locks"
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="local-runner", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]

        parameters = {
            **tpl.parameter_defaults(self.template),
            "AivenApiUrl": self.options.aiven_api_url,
            "AivenTokenSecretArn": secret_arn,
            **self.options.parameters,
        }
        conditions = tpl.evaluate_conditions(self.template, parameters)
        refs = {
            "BackupBucket": BUCKET,
            "NotificationTopic": self.topic_arn,
            "LockTable": table,
            "CoreLayer": "local-core-layer",
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
        }
        attributes: dict[tuple[str, str], str] = {}
        lambda_client = boto3.client("lambda", region_name=REGION)
        function_specs = tpl.functions(self.template)
        for spec in function_specs:
            arn = lambda_client.create_function(
                FunctionName=spec.logical_id,
                Runtime="python3.12",
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": _empty_zip()},
                Timeout=spec.timeout_seconds,
            )["FunctionArn"]
            refs[spec.logical_id] = spec.logical_id
            attributes[(spec.logical_id, "Arn")] = arn

        resolve = tpl.make_resolver(parameters, refs, attributes, conditions)
        _create_bucket(s3, resolve, self.template["Resources"]["BackupBucket"]["Properties"])
        # In template order: a later machine's substitutions may name an earlier one (the
        # fan-out starts the single-service machine).
        for machine in tpl.state_machines(self.template):
            arn = self.sfn.create_state_machine(
                name=_MACHINE_NAMES.get(machine.logical_id, machine.logical_id),
                definition=tpl.render_definition(machine, resolve),
                roleArn=role,
            )["stateMachineArn"]
            self.state_machine_arns[machine.logical_id] = arn
            refs[machine.logical_id] = arn
            attributes[(machine.logical_id, "Name")] = arn.rsplit(":", 1)[-1]
            for event, value in machine.schedule_inputs.items():
                self.schedule_inputs[event] = json.loads(resolve(value))
                self.schedule_targets[event] = machine.logical_id
        self.state_machine_arn = self.state_machine_arns[SINGLE_STATE_MACHINE]
        # What the functions' roles resolve to here, for the least-privilege check.
        self.lambdas.deployment = Deployment(
            parameters=parameters,
            refs={**refs, "AWS::AccountId": ACCOUNT_ID},
            attributes={
                **{
                    f"{logical_id}.{name}": value
                    for (logical_id, name), value in attributes.items()
                },
                "LockTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}",
                "NotificationTopic.TopicName": self.topic_arn.rsplit(":", 1)[-1],
            },
        )

        for spec in function_specs:
            # What the Lambda runtime sets, then what the template declares.
            environment = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
            environment.update({k: str(resolve(v)) for k, v in spec.environment.items()})
            environment.update(self.options.environment)
            self.lambdas.register(
                spec.logical_id,
                LocalFunction(
                    code_dir=spec.code_dir,
                    handler=spec.handler,
                    environment=environment,
                    timeout_seconds=self.options.timeouts.get(
                        spec.logical_id, spec.timeout_seconds
                    ),
                    memory_mb=spec.memory_mb,
                ),
            )


def _create_bucket(s3: S3Client, resolve: tpl.Resolver, properties: Mapping[str, Any]) -> None:
    """The bucket with the Object Lock and versioning settings template.yaml gives it.

    Lifecycle rules are not applied: moto stores them but never runs them.
    """
    lock_enabled = resolve(properties.get("ObjectLockEnabled", tpl.NO_VALUE))
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=lock_enabled is True)
    versioning = resolve(properties.get("VersioningConfiguration", tpl.NO_VALUE))
    if versioning is not tpl.NO_VALUE:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration=versioning)
    lock = resolve(properties.get("ObjectLockConfiguration", tpl.NO_VALUE))
    if lock is not tpl.NO_VALUE:
        retention = lock["Rule"]["DefaultRetention"]
        s3.put_object_lock_configuration(
            Bucket=BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {
                    "DefaultRetention": {
                        "Mode": retention["Mode"],
                        "Days": int(retention["Days"]),
                    }
                },
            },
        )


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "handlers run in-process; see local_runner/lambda_hook.py")
    return buffer.getvalue()


@contextlib.contextmanager
def _default_retention_on_multipart_uploads() -> Iterator[None]:
    """Give moto what S3 does: a bucket's default Object Lock retention applies to every new
    object, the one CompleteMultipartUpload creates too (moto 5.2.5 applies it to PutObject only).
    """
    original = S3Backend.complete_multipart_upload

    def complete(self: S3Backend, bucket_name: str, multipart_id: str, body: Any) -> Any:
        key = original(self, bucket_name, multipart_id, body)
        bucket = self.get_bucket(bucket_name)
        if key is not None and bucket.has_default_lock and not key.lock_mode:
            key.lock_mode = bucket.default_lock_mode
            key.lock_until = bucket.default_retention()
        return key

    with mock.patch.object(S3Backend, "complete_multipart_upload", complete):
        yield


@contextlib.contextmanager
def _simulated_clock(clock: Callable[[], float]) -> Iterator[None]:
    """Executions start at ``clock()`` (moto stamps ``$$.Execution.StartTime`` with
    ``datetime.datetime.now``) and every step's ``Services.clock`` is ``clock``."""

    class _ClockDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> _ClockDatetime:
            moment = datetime.datetime.fromtimestamp(clock(), tz or datetime.UTC)
            return cls.fromtimestamp(moment.timestamp(), moment.tzinfo)

    clock_module = types.SimpleNamespace(datetime=_ClockDatetime, timezone=datetime.timezone)
    unpatched = services_module.services_for

    def services_with_clock(settings: Settings, input_defaults: InputDefaults) -> Services:
        return dataclasses.replace(unpatched(settings, input_defaults), clock=clock)

    with (
        mock.patch("moto.stepfunctions.parser.models.datetime", clock_module),
        mock.patch.object(services_module, "services_for", services_with_clock),
    ):
        yield


@contextlib.contextmanager
def _instant_waits() -> Iterator[None]:
    wait_function = (
        "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function."
        "WaitFunction._wait_interval"
    )
    retrier_time = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl.time"
    with (
        mock.patch(wait_function, return_value=None),
        mock.patch(retrier_time, mock.Mock(sleep=mock.Mock(return_value=None))),
    ):
        yield
