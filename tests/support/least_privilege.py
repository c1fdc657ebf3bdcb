"""Least privilege, proven: every AWS call the handlers made against the roles of template.yaml.

The calls come from ``local_runner/call_recording.py`` (one JSON-lines file per process of the test
run). Each call becomes the IAM action and resource ARN AWS would authorise it as (botocore's
operation name, but for S3's exceptions in ``S3_ACTIONS``), and is checked against the Allow
statements of its function's role in the translated template, evaluated for the stack the call
ran in: its conditions decided, its ``Resource`` expressions resolved to ARN patterns with the
physical names of that stack (``*`` and ``?`` match as IAM matches them). Then every action each
role grants must have allowed at least one recorded call.

A grant no run uses is allowed only when the template says why, next to the function's
``Policies``, in its ``Metadata`` (YAML comments do not survive the transform)::

    Metadata:
      UnexercisedGrants:
        kms:Decrypt: S3 calls it on the function's behalf for SSE-KMS objects (UseKms only)

What is not counted as granting a handler's call: a statement with a ``Condition`` (the
project's are ``kms:ViaService`` grants that only another service's call on the function's
behalf satisfies) and the managed policies SAM attaches for the runtime (``RUNTIME_POLICIES``: the
runtime's own log and X-Ray calls are not the handler's). Any other managed policy, a
``NotAction``/``NotResource`` or an operation this module cannot make an ARN for is reported,
never silently passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_runner import template as tpl
from local_runner.call_recording import ACCOUNT_ID
from tests.support import sam_template

REGION = "us-east-1"
PARTITION = "aws"

# The managed policies SAM attaches to every function: for the runtime, not for the handler.
RUNTIME_POLICIES = {
    f"arn:{PARTITION}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    f"arn:{PARTITION}:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
METADATA_KEY = "UnexercisedGrants"

# S3 operations whose IAM action is not "s3:<operation>" (AWS's "Actions, resources, and
# condition keys for Amazon S3"); the second name is for a call with a VersionId.
S3_ACTIONS: dict[str, tuple[str, str]] = {
    "HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "CreateMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "UploadPart": ("s3:PutObject", "s3:PutObject"),
    "UploadPartCopy": ("s3:PutObject", "s3:PutObject"),
    "CompleteMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "ListParts": ("s3:ListMultipartUploadParts", "s3:ListMultipartUploadParts"),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", "s3:ListBucketMultipartUploads"),
    "ListObjects": ("s3:ListBucket", "s3:ListBucket"),
    "ListObjectsV2": ("s3:ListBucket", "s3:ListBucket"),
    "ListObjectVersions": ("s3:ListBucketVersions", "s3:ListBucketVersions"),
    "HeadBucket": ("s3:ListBucket", "s3:ListBucket"),
    "GetObjectTagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    "DeleteObject": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "GetObjectLockConfiguration": (
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
    ),
    "GetBucketVersioning": ("s3:GetBucketVersioning", "s3:GetBucketVersioning"),
    "GetObjectAttributes": ("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
    "SelectObjectContent": ("s3:GetObject", "s3:GetObject"),
}


@dataclass(frozen=True)
class Needed:
    """What IAM authorises one call as."""

    action: str
    resource: str


@dataclass(frozen=True)
class Call:
    function: str
    deployment: str
    service: str
    operation: str
    params: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class Recording:
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoked: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)


def load_recording(directory: Path) -> Recording:
    recording = Recording()
    for path in sorted(directory.glob("calls-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            kind = record.pop("kind")
            if kind == "deployment":
                recording.deployments[record.pop("id")] = record
            elif kind == "invocation":
                recording.invoked.add(record["function"])
            elif kind == "call":
                recording.calls.append(Call(**record))
    return recording


# --- what a call needs ---------------------------------------------------------------------------


def _arn(service: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def needed(call: Call) -> list[Needed]:  # noqa: PLR0911 - one return per service
    """The action and resource IAM authorises ``call`` as (DeleteObjects: one per object)."""
    params = call.params
    if call.service == "s3":
        return _s3_needed(call.operation, params)
    if call.service == "dynamodb" and "TableName" in params:
        return [
            Needed(f"dynamodb:{call.operation}", _arn("dynamodb", f"table/{params['TableName']}"))
        ]
    if call.service == "sns" and call.operation == "Publish":
        return [Needed("sns:Publish", params.get("TopicArn") or params["TargetArn"])]
    if call.service == "secretsmanager" and "SecretId" in params:
        secret = str(params["SecretId"])
        if not secret.startswith("arn:"):  # a name: IAM sees the ARN, with its random suffix
            secret = _arn("secretsmanager", f"secret:{secret}-??????")
        return [Needed(f"secretsmanager:{call.operation}", secret)]
    if call.service == "states":
        arn = params.get("executionArn") or params.get("stateMachineArn")
        if arn:
            return [Needed(f"states:{call.operation}", str(arn))]
    if call.service == "lambda" and call.operation == "Invoke":
        name = str(params["FunctionName"])
        arn = name if name.startswith("arn:") else _arn("lambda", f"function:{name}")
        return [Needed("lambda:InvokeFunction", arn)]
    if call.service == "kms" and "KeyId" in params:
        return [Needed(f"kms:{call.operation}", str(params["KeyId"]))]
    if call.service == "monitoring" and call.operation == "PutMetricData":
        return [Needed("cloudwatch:PutMetricData", "*")]
    raise UnknownCall(
        f"{call.function} called {call.label} with {dict(params)}: tests/support/"
        "least_privilege.py cannot tell its IAM action and resource; add a rule to needed()"
    )


def _s3_needed(operation: str, params: Mapping[str, Any]) -> list[Needed]:
    bucket = params["Bucket"]
    if operation == "DeleteObjects":
        return [
            Needed(
                "s3:DeleteObjectVersion" if "VersionId" in item else "s3:DeleteObject",
                f"arn:{PARTITION}:s3:::{bucket}/{item['Key']}",
            )
            for item in params["Delete"]["Objects"]
        ]
    if operation == "CopyObject":  # the copy is written, and its source read
        source = params["CopySource"]
        if isinstance(source, Mapping):
            source_arn = f"arn:{PARTITION}:s3:::{source['Bucket']}/{source['Key']}"
            versioned_source = "VersionId" in source
        else:
            path, _, version = str(source).lstrip("/").partition("?versionId=")
            source_arn, versioned_source = f"arn:{PARTITION}:s3:::{path}", bool(version)
        return [
            Needed("s3:PutObject", f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}"),
            Needed("s3:GetObjectVersion" if versioned_source else "s3:GetObject", source_arn),
        ]
    plain, versioned = S3_ACTIONS.get(operation, (f"s3:{operation}", f"s3:{operation}"))
    action = versioned if "VersionId" in params else plain
    if "Key" in params:
        return [Needed(action, f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}")]
    return [Needed(action, f"arn:{PARTITION}:s3:::{bucket}")]


class UnknownCall(ValueError):
    """A recorded call this module cannot turn into an IAM action and resource."""


# --- what a role grants --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """One statement of a function's role, where it stands, and the conditions it is under."""

    function: str
    where: str  # "<policy name> statement <n>"
    when: tuple[tuple[str, bool], ...]  # (template condition, the branch this statement is in)
    statement: Mapping[str, Any]

    @property
    def effect(self) -> str:
        return str(self.statement.get("Effect"))

    @property
    def actions(self) -> list[str]:
        listed = self.statement.get("Action", [])
        return [listed] if isinstance(listed, str) else list(listed)

    @property
    def conditioned(self) -> bool:
        return "Condition" in self.statement

    def active(self, conditions: Mapping[str, bool]) -> bool:
        return all(conditions[name] == branch for name, branch in self.when)

    def resources(self, resolve: tpl.Resolver) -> list[str]:
        listed = self.statement.get("Resource", [])
        return [str(resolve(item)) for item in (listed if isinstance(listed, list) else [listed])]


class UncheckableRole(ValueError):
    """A role this module cannot evaluate (say which and why)."""


def _branches(
    item: Any, when: tuple[tuple[str, bool], ...]
) -> Iterator[tuple[Any, tuple[tuple[str, bool], ...]]]:
    if isinstance(item, Mapping) and set(item) == {"Fn::If"}:
        name, when_true, when_false = item["Fn::If"]
        yield from _branches(when_true, (*when, (name, True)))
        yield from _branches(when_false, (*when, (name, False)))
    elif isinstance(item, Mapping) and item != {"Ref": "AWS::NoValue"}:
        yield item, when


def _policy_grants(
    function: str, name: str, document: Mapping[str, Any], when: tuple[tuple[str, bool], ...]
) -> Iterator[Grant]:
    listed = document["Statement"]
    for index, raw in enumerate(listed if isinstance(listed, list) else [listed]):
        for statement, statement_when in _branches(raw, when):
            if {"NotAction", "NotResource", "NotPrincipal"} & set(statement):
                raise UncheckableRole(f"{function}: {name} statement {index} uses a Not* element")
            yield Grant(function, f"{name} statement {index}", statement_when, statement)


def _refers_to(value: Any, logical_id: str) -> bool:
    return value == {"Ref": logical_id} or (
        isinstance(value, list) and any(_refers_to(item, logical_id) for item in value)
    )


def grants(translated: Mapping[str, Any], function: str) -> list[Grant]:
    """Every statement of ``function``'s role: its inline policies and the RolePolicy and Policy
    resources attached to it, under every condition."""
    role_id = sam_template.role_of(translated, function)
    role = translated["Resources"][role_id]["Properties"]
    for arn in role.get("ManagedPolicyArns", []):
        if arn not in RUNTIME_POLICIES:
            raise UncheckableRole(
                f"{function}'s role {role_id} has the managed policy {arn!r}, which this check "
                "cannot see into: grant what the function needs in its Policies statements"
            )
    found: list[Grant] = []
    for listed in role.get("Policies", []):
        for policy, when in _branches(listed, ()):
            found.extend(
                _policy_grants(function, policy["PolicyName"], policy["PolicyDocument"], when)
            )
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy"):
            continue
        props = resource["Properties"]
        if _refers_to(props.get("RoleName"), role_id) or _refers_to(props.get("Roles"), role_id):
            when = (
                ((resource["Condition"], True),) if "Condition" in resource else ()
            )  # the resource exists only under it
            found.extend(_policy_grants(function, logical_id, props["PolicyDocument"], when))
    return found


def functions(translated: Mapping[str, Any]) -> list[str]:
    return sorted(sam_template.resources_of_type(translated, "AWS::Lambda::Function"))


def explained(raw_template: Mapping[str, Any], function: str) -> dict[str, str]:
    """The function's ``Metadata.UnexercisedGrants``: action -> why no run uses it."""
    resource = raw_template["Resources"].get(function, {})
    notes = resource.get("Metadata", {}).get(METADATA_KEY, {})
    return {str(action): str(reason) for action, reason in notes.items()}


# --- matching ------------------------------------------------------------------------------------


def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one (actions ignore case)."""
    return _glob(pattern, ignore_case=ignore_case).fullmatch(value) is not None


# --- the check -----------------------------------------------------------------------------------


@dataclass
class Report:
    refused: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    checked_calls: int = 0

    @property
    def problems(self) -> list[str]:
        return [*self.other, *self.refused, *self.unused]

    def text(self) -> str:
        lines = [f"least-privilege check: {self.checked_calls} recorded AWS calls checked"]
        for title, items in (
            ("cannot check", self.other),
            ("calls the role would refuse", self.refused),
            ("grants no run used (and no Metadata.UnexercisedGrants says why)", self.unused),
        ):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  - {item}" for item in items)
        return "\n".join(lines)


def _resolver(
    translated: Mapping[str, Any], deployment: Mapping[str, Any]
) -> tuple[tpl.Resolver, dict[str, bool]]:
    parameters = {**tpl.parameter_defaults(translated), **deployment["parameters"]}
    conditions = tpl.evaluate_conditions(translated, parameters)
    refs = {"AWS::Partition": PARTITION, "AWS::Region": REGION, **deployment["refs"]}
    attributes: dict[tuple[str, str], str] = {}
    for name, value in deployment["attributes"].items():
        logical_id, attribute = name.split(".", 1)
        attributes[(logical_id, attribute)] = value
    return tpl.make_resolver(parameters, refs, attributes, conditions), conditions


def _as_template(resource: str, deployment: Mapping[str, Any]) -> str:
    """``resource`` with the stack's names put back as the ``${...}`` that make them (whole ARNs,
    or whole ``:``/``/``-separated parts of one)."""
    names: dict[str, str] = {
        **{str(value): str(name) for name, value in deployment["refs"].items()},
        **{str(value): str(name) for name, value in deployment["attributes"].items()},
    }
    if resource in names:
        return "${" + names[resource] + "}"
    pseudo = {PARTITION: "AWS::Partition", REGION: "AWS::Region", ACCOUNT_ID: "AWS::AccountId"}
    parts = re.split(r"([:/])", resource)
    return "".join(
        "${" + (pseudo.get(part) or names[part]) + "}"
        if part in pseudo or (part in names and not names[part].startswith("AWS::"))
        else part
        for part in parts
    )


def check(
    recording: Recording,
    translated: Mapping[str, Any] | None = None,
    raw_template: Mapping[str, Any] | None = None,
) -> Report:
    """Every recorded call against its function's role, then every grant against the calls."""
    translated = translated if translated is not None else sam_template.translated()
    raw_template = raw_template if raw_template is not None else tpl.load_template()
    report = Report()
    if not recording.calls:
        report.other.append(
            "no AWS call was recorded at all: the recorder (local_runner/call_recording.py) "
            "is not wired into the run"
        )
    names = functions(translated)
    role_grants: dict[str, list[Grant]] = {}
    for function in names:
        try:
            role_grants[function] = grants(translated, function)
        except UncheckableRole as error:
            report.other.append(str(error))
        if function not in recording.invoked:
            report.other.append(
                f"{function} was never invoked in this run, so its role is unproven: drive it "
                "through the local stack (LocalStack.lambdas) or call_recording.invocation()"
            )
    used: set[tuple[str, str, str]] = set()  # (function, where, action as granted)
    resolved: dict[str, tuple[tpl.Resolver, dict[str, bool]]] = {}  # by deployment
    seen_refusals: set[tuple[str, str, str]] = set()
    for call in recording.calls:
        if call.function not in role_grants:
            if call.function not in names:
                _once(
                    report.other, f"{call.function} made calls; the template has no such function"
                )
            continue
        if call.deployment not in resolved:
            resolved[call.deployment] = _resolver(
                translated, recording.deployments[call.deployment]
            )
        resolve, conditions = resolved[call.deployment]
        try:
            needs = needed(call)
        except UnknownCall as error:
            _once(report.other, str(error))
            continue
        report.checked_calls += 1
        active = [g for g in role_grants[call.function] if g.active(conditions)]
        for need in needs:
            try:
                allowing = _allowing(active, need, resolve)
                denied = any(
                    _grants(grant, need, resolve) for grant in active if grant.effect == "Deny"
                )
            except KeyError as error:
                _once(
                    report.other,
                    f"{call.function}: a Resource of its role names {error.args[0]} and the "
                    "recorded stack has no such name: add it to the stack's Deployment "
                    "(local_runner/stack.py, tests/support/api.py)",
                )
                continue
            if allowing and not denied:
                for grant, action in allowing:
                    used.add((call.function, grant.where, action))
                continue
            message = (
                f"{call.function}: {call.label} needs {need.action} on {need.resource}, which "
                f"its role {sam_template.role_of(translated, call.function)} refuses"
                + (" (a Deny statement matches)" if denied else "")
                + f"; add to {call.function}'s Policies: {{Effect: Allow, Action: "
                f"[{need.action}], Resource: !Sub "
                f'"{_as_template(need.resource, recording.deployments[call.deployment])}"}}'
                " (with the key or name widened to what the function needs)"
            )
            # One line per function, operation and action (the first resource as the example).
            if (call.function, call.label, need.action) not in seen_refusals:
                seen_refusals.add((call.function, call.label, need.action))
                report.refused.append(message)
    for function, function_grants in role_grants.items():
        notes = explained(raw_template, function)
        unused_actions: set[str] = set()
        used_actions: set[str] = set()
        for grant in function_grants:
            if grant.effect != "Allow":
                continue
            for action in grant.actions:
                if (function, grant.where, action) in used:
                    used_actions.add(action)
                    continue
                unused_actions.add(action)
                if action in notes:
                    continue
                report.unused.append(
                    f"{function}: {action} in {grant.where} (Resource "
                    f"{json.dumps(grant.statement.get('Resource'))})"
                    + (" under a Condition" if grant.conditioned else "")
                    + f" allowed no recorded call: remove it from {function}'s Policies, or "
                    f"say why under {function}'s Metadata: {METADATA_KEY}: {{{action}: <why>}}"
                )
        for action in sorted(notes):
            if action not in unused_actions:
                state = "is used by a run" if action in used_actions else "is not granted"
                report.unused.append(
                    f"{function}: Metadata.{METADATA_KEY} explains {action}, which {state}: "
                    "remove the note"
                )
    return report


def _once(problems: list[str], problem: str) -> None:
    if problem not in problems:
        problems.append(problem)


def _grants(grant: Grant, need: Needed, resolve: tpl.Resolver) -> bool:
    return any(matches(a, need.action, ignore_case=True) for a in grant.actions) and any(
        matches(resource, need.resource) for resource in grant.resources(resolve)
    )


def _allowing(
    active: Iterable[Grant], need: Needed, resolve: tpl.Resolver
) -> list[tuple[Grant, str]]:
    """The Allow statements (and which of their actions) that let the handler make the call."""
    found: list[tuple[Grant, str]] = []
    for grant in active:
        if grant.effect != "Allow" or grant.conditioned:
            continue
        if not any(matches(r, need.resource) for r in grant.resources(resolve)):
            continue
        found.extend(
            (grant, action)
            for action in grant.actions
            if matches(action, need.action, ignore_case=True)
        )
    return found
