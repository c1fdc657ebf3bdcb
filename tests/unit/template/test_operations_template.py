"""What the translated template deploys for operating the backups: the freshness alarm, the
lifecycle rules of each retention class, Object Lock, the storage transition and the dashboard.

CloudWatch, S3 lifecycle and Object Lock configuration are not emulated here, so these are read
from template.yaml as the SAM translator turns it into CloudFormation, with the template's
conditions evaluated for the parameters a deploy would give (``tests/support/translated.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiven_backup.metrics import DIMENSIONS, Metric
from aiven_backup.storage.retention import RETENTION_CLASS_TAG, RetentionClass
from aiven_backup.storage.tags import VERIFIED_TAG
from aiven_backup.verify.scratch import SCRATCH_TAGGING
from tests.support.metric_references import (
    MetricReference,
    alarm_metrics,
    dashboard_body,
    dashboard_metrics,
)
from tests.support.translated import REQUIRED_PARAMETERS, deployed, of_type

# The platform's own metrics the template may name, with the one dimension each is read by
# (AWS/States: "Execution metrics", AWS/SQS: "Available CloudWatch metrics for Amazon SQS"), and
# the resource that dimension must point at.
AWS_METRICS = {
    "AWS/States": (
        {
            "ExecutionsStarted",
            "ExecutionsSucceeded",
            "ExecutionsFailed",
            "ExecutionsAborted",
            "ExecutionsTimedOut",
            "ExecutionThrottled",
        },
        "StateMachineArn",
        (
            "<Ref BackupStateMachine>",
            {"Ref": "BackupStateMachine"},
            "<Ref FanOutStateMachine>",
            {"Ref": "FanOutStateMachine"},
        ),
    ),
    "AWS/SQS": (
        {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
        "QueueName",
        (
            "<GetAtt ScheduleDeadLetterQueue.QueueName>",
            {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "QueueName"]},
        ),
    ),
}


def _bucket(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"]["BackupBucket"]["Properties"]
    return properties


def _rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["Id"]: rule for rule in _bucket(template)["LifecycleConfiguration"]["Rules"]}


def _expiry_by_class(template: dict[str, Any]) -> dict[str, int]:
    """retention-class value -> days, for every rule that expires objects by that tag."""
    expiry = {}
    for rule in _rules(template).values():
        tags = {tag["Key"]: tag["Value"] for tag in rule.get("TagFilters", [])}
        if RETENTION_CLASS_TAG in tags and "ExpirationInDays" in rule:
            assert rule["Status"] == "Enabled"
            assert tags.keys() == {RETENTION_CLASS_TAG}, rule  # whatever the prefix or other tags
            expiry[tags[RETENTION_CLASS_TAG]] = int(rule["ExpirationInDays"])
    return expiry


def _metrics_namespace(template: dict[str, Any]) -> str:
    """The namespace every function's Powertools Metrics emits into."""
    namespaces = {
        function["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
        for function in of_type(template, "AWS::Lambda::Function").values()
    }
    assert len(namespaces) == 1, namespaces
    (namespace,) = namespaces
    return str(namespace)


def _named_metrics(template: dict[str, Any]) -> list[MetricReference]:
    named: list[MetricReference] = []
    for logical_id, dashboard in of_type(template, "AWS::CloudWatch::Dashboard").items():
        body = dashboard_body(dashboard, template["Parameters"])
        named.extend(dashboard_metrics(body, logical_id))
    for logical_id, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        named.extend(alarm_metrics(logical_id, alarm))
    return named


# --- Told when backups stop ----------------------------------------------------------------------


@pytest.mark.parametrize("hours", ["26", "50"])
def test_each_scheduled_service_has_a_freshness_alarm_that_treats_silence_as_breaching(
    hours: str,
) -> None:
    template = deployed({"FreshnessAlarmHours": hours})
    schedules = of_type(template, "AWS::Scheduler::Schedule")
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    assert schedules

    for schedule in schedules.values():
        scheduled = json.loads(
            schedule["Properties"]["Target"]["Input"]["Fn::Sub"]
            .replace("${AivenProject}", REQUIRED_PARAMETERS["AivenProject"])
            .replace("${AivenService}", REQUIRED_PARAMETERS["AivenService"])
        )
        # One service scheduled (AivenService a single name): its own freshness alarm.
        wanted = {"project": scheduled["project"], "service": scheduled["services"]}
        (freshness,) = [
            alarm["Properties"]
            for alarm in alarms.values()
            if alarm["Properties"].get("MetricName") == Metric.BACKUP_SUCCEEDED
            and {d["Name"]: d["Value"] for d in alarm["Properties"]["Dimensions"]} == wanted
        ]
        assert freshness["TreatMissingData"] == "breaching"
        assert freshness["Statistic"] == "Sum"
        assert freshness["ComparisonOperator"] == "LessThanThreshold"
        assert float(freshness["Threshold"]) == 1
        # Alarms only when every period of the window saw no success: the window is the hours.
        assert int(freshness["Period"]) * int(freshness["EvaluationPeriods"]) == int(hours) * 3600
        assert int(freshness["DatapointsToAlarm"]) == int(freshness["EvaluationPeriods"])
        assert freshness["AlarmActions"] == [{"Ref": "NotificationTopic"}]


def test_alarms_notify_the_alarm_topic_parameter_when_it_is_given() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:ops-pager"

    template = deployed({"AlarmTopicArn": topic})

    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [topic], logical_id


def test_the_dashboard_and_the_alarms_name_only_metrics_the_code_emits() -> None:
    template = deployed()
    namespace = _metrics_namespace(template)
    emitted = {metric.value for metric in Metric}
    named = _named_metrics(template)

    ours = [reference for reference in named if reference.namespace == namespace]
    assert {reference.name for reference in ours} >= {
        Metric.BACKUP_SUCCEEDED,
        Metric.BACKUP_DURATION,
        Metric.WAIT_SECONDS,
        Metric.COPY_SECONDS,
        Metric.BACKUP_BYTES,
        Metric.MIB_PER_SECOND,
        Metric.BACKUP_VERIFIED,
        Metric.BACKUP_UNVERIFIED,
    }
    for reference in named:
        if reference.namespace == namespace:
            assert reference.name in emitted, reference
            assert set(reference.dimensions) == set(DIMENSIONS), reference
        else:
            assert reference.namespace in AWS_METRICS, reference
            names, dimension, target = AWS_METRICS[reference.namespace]
            assert reference.name in names, reference
            assert set(reference.dimensions) == {dimension}, reference
            assert reference.dimensions[dimension] in target, reference


def test_the_dashboard_shows_what_an_operator_asks_first() -> None:
    (dashboard,) = of_type(deployed(), "AWS::CloudWatch::Dashboard").values()
    body = dashboard_body(dashboard, deployed()["Parameters"])
    named = {(r.namespace, r.name) for r in dashboard_metrics(body, "BackupDashboard")}

    assert {name for namespace, name in named if namespace == "AWS/States"} >= {
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsAborted",
        "ExecutionsTimedOut",
    }
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in named
    text = json.dumps(body)
    assert Metric.HOURS_SINCE_PREVIOUS_BACKUP in text
    assert "<GetAtt FreshnessAlarm.Arn>" in text


# --- Keep by age ---------------------------------------------------------------------------------


def test_each_retention_class_expires_after_its_own_days() -> None:
    template = deployed()

    assert _expiry_by_class(template) == {"daily": 14, "weekly": 56, "monthly": 400, "failed": 14}
    assert "expire-backups" not in _rules(template)  # no prefix rule: tags decide
    abort = _rules(template)["abort-incomplete-multipart-uploads"]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_every_class_the_code_writes_has_a_rule_and_yearly_is_forever_by_default() -> None:
    forever = deployed()
    bounded = deployed({"KeepYearlyDays": "3650", "KeepDailyDays": "7"})

    assert set(_expiry_by_class(forever)) == {c.value for c in RetentionClass} - {"yearly"}
    assert _expiry_by_class(bounded) == {
        "yearly": 3650,
        "monthly": 400,
        "weekly": 56,
        "daily": 7,
        "failed": 7,
    }


@pytest.mark.parametrize("parameters", [{}, {"RetentionDays": "90"}], ids=["by-class", "days"])
def test_working_files_a_failed_run_leaves_behind_expire_wherever_they_are(
    parameters: dict[str, str],
) -> None:
    """A Map that fails on an S3 or Lambda error may have a sibling's report written after the
    failure path's clean-up (workflow.verification): its tag alone must make S3 expire it."""
    key, _, value = SCRATCH_TAGGING.partition("=")
    template = deployed(parameters)

    expiring = [
        rule
        for rule in _rules(template).values()
        if {tag["Key"]: tag["Value"] for tag in rule.get("TagFilters", [])} == {key: value}
    ]

    assert (key, value) == (RETENTION_CLASS_TAG, RetentionClass.FAILED.value)
    assert len(expiring) == 1
    (rule,) = expiring
    assert rule["Status"] == "Enabled"
    assert "Prefix" not in rule  # anywhere: mode verify checks objects outside S3Prefix too
    assert 0 < int(rule["ExpirationInDays"]) <= 400


def test_retention_days_when_set_keeps_every_backup_that_long_as_before() -> None:
    template = deployed({"RetentionDays": "90"})

    assert _expiry_by_class(template) == dict.fromkeys(
        ("yearly", "monthly", "weekly", "daily", "failed"), 90
    )
    legacy = _rules(template)["expire-backups"]
    assert legacy["Prefix"] == "influxdb-backups"
    assert int(legacy["ExpirationInDays"]) == 90


# --- Impossible to delete by mistake -------------------------------------------------------------


def test_no_object_lock_configuration_when_the_mode_is_none() -> None:
    bucket = _bucket(deployed())

    assert "ObjectLockEnabled" not in bucket
    assert "ObjectLockConfiguration" not in bucket
    assert "VersioningConfiguration" not in bucket
    assert "remove-expired-delete-markers" not in _rules(deployed())


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_object_lock_mode_creates_the_bucket_locked_with_a_default_retention(mode: str) -> None:
    template = deployed({"ObjectLockMode": mode, "ObjectLockDays": "45"})
    bucket = _bucket(template)

    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": mode, "Days": "45"}},
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    # Versioned: expiry leaves delete markers and noncurrent versions, both cleaned up.
    assert _rules(template)["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True
    for rule in _rules(template).values():
        if "ExpirationInDays" in rule:
            assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}, rule["Id"]
    for function in of_type(template, "AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["OBJECT_LOCK_MODE"] == mode


# --- Cheaper storage -----------------------------------------------------------------------------


def test_verified_backups_move_to_glacier_instant_retrieval_and_inventories_do_not() -> None:
    rule = _rules(deployed())["transition-backups"]

    assert rule["Status"] == "Enabled"
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": "30"}]
    # Only objects VerifyBackup tagged verified match; an inventory carries no such tag (its
    # only tag is the retention class, see aiven_backup.storage.retention).
    assert rule["TagFilters"] == [{"Key": VERIFIED_TAG, "Value": "true"}]
    assert "Prefix" not in rule


def test_an_empty_storage_class_turns_the_transition_off() -> None:
    assert "transition-backups" not in _rules(deployed({"TransitionStorageClass": ""}))
    other = _rules(deployed({"TransitionStorageClass": "DEEP_ARCHIVE", "TransitionDays": "180"}))
    assert other["transition-backups"]["Transitions"] == [
        {"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": "180"}
    ]


# --- A catalogue ---------------------------------------------------------------------------------


def test_the_api_serves_get_catalog_with_iam_auth() -> None:
    template = deployed()
    (api,) = of_type(template, "AWS::ApiGateway::RestApi").values()
    catalog = api["Properties"]["Body"]["paths"]["/catalog"]

    assert set(catalog) == {"get"}
    assert catalog["get"]["security"] == [{"AWS_IAM": []}]
