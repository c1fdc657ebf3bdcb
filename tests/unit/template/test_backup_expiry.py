"""Backups expire after ``RetentionDays`` whatever their ``s3_prefix``.

An execution may give any ``s3_prefix``, so a lifecycle rule filtered by the stack's default
prefix would keep every other backup forever. The rule filters by the tag the verifier puts on a
backup and its inventory instead (``tests/integration/verify/test_write_inventory.py`` checks the
written tags against this rule).
"""

from __future__ import annotations

from tests.support.sam_template import expiry_rule, expiry_tag_filter, translated


def test_backups_expire_after_retention_days() -> None:
    rule = expiry_rule(translated())

    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "RetentionDays"}


def test_the_expiry_rule_selects_backups_by_tag_not_by_prefix() -> None:
    rule = expiry_rule(translated())

    assert "Prefix" not in rule
    assert "Prefix" not in rule.get("Filter", {})
    assert expiry_tag_filter(translated()) != {}
