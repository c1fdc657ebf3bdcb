"""Every way an execution can end badly raises an alarm on the notification topic.

A failed run also sends its own notification; a timed-out or aborted one (the state machine's
timeout, a person pressing Stop) runs no Catch, so without these alarms it ends in silence.
"""

from __future__ import annotations

import pytest

from tests.support.sam_template import resources_of_type, translated

ALARM_TOPIC = {
    "Fn::If": ["UseStackTopicForAlarms", {"Ref": "NotificationTopic"}, {"Ref": "AlarmTopicArn"}]
}

TRANSLATED = translated()
STATE_MACHINE = "BackupStateMachine"  # the single-service machine: every run of a service


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_an_execution_that_ends_badly_notifies_the_topic(metric: str) -> None:
    alarms = [
        alarm["Properties"]
        for alarm in resources_of_type(TRANSLATED, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/States"
        and alarm["Properties"].get("MetricName") == metric
        and alarm["Properties"]["Dimensions"][0]["Value"] == {"Ref": STATE_MACHINE}
    ]

    (alarm,) = alarms
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": STATE_MACHINE}}]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1,
    )
    # The stack's topic unless AlarmTopicArn names another (see test_operations_template.py).
    assert alarm["AlarmActions"] == [ALARM_TOPIC]
    assert alarm["TreatMissingData"] == "notBreaching"
