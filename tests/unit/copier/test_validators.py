"""The source's identity: which validator goes into If-Range, and what counts as a change."""

from __future__ import annotations

import pytest

from aiven_backup.copier.source import Validators

STRONG = '"5d41402abc4b2a76b9719d911017c592"'
WEAK = 'W/"5d41402a"'
DATE = "Mon, 23 Nov 2026 03:00:04 GMT"


def test_reads_etag_and_last_modified_from_an_answers_headers() -> None:
    validators = Validators.of({"ETag": f" {STRONG} ", "Last-Modified": DATE})

    assert validators == Validators(etag=STRONG, last_modified=DATE)
    assert validators.known


@pytest.mark.parametrize("bad", ["", "x" * 257, "line\nbreak"])
def test_ignores_a_validator_that_cannot_identify_anything(bad: str) -> None:
    assert Validators.of({"ETag": bad}) == Validators()
    assert not Validators.of({"ETag": bad}).known


@pytest.mark.parametrize(
    ("validators", "if_range"),
    [
        (Validators(etag=STRONG, last_modified=DATE), STRONG),  # the strong ETag first
        (Validators(etag=WEAK, last_modified=DATE), DATE),  # a weak one may not be used
        (Validators(etag=None, last_modified=DATE), DATE),
        (Validators(etag=WEAK, last_modified=None), None),
        (Validators(), None),
    ],
    ids=["strong-etag", "weak-etag-and-date", "date-only", "weak-etag-only", "none"],
)
def test_if_range_prefers_the_strong_etag_then_the_date(
    validators: Validators, if_range: str | None
) -> None:
    assert validators.if_range == if_range


def test_the_same_validators_are_no_difference() -> None:
    pinned = Validators(etag=STRONG, last_modified=DATE)

    assert pinned.difference(Validators(etag=STRONG, last_modified=DATE)) is None


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (Validators(etag='"other"', last_modified=DATE), 'its ETag is now "other"'),
        (Validators(etag=STRONG, last_modified="Tue, 24 Nov 2026 03:00:04 GMT"), "Last-Modified"),
        (Validators(etag=None, last_modified=DATE), "its ETag is no longer sent"),
    ],
    ids=["etag-changed", "date-changed", "etag-gone"],
)
def test_a_changed_or_missing_validator_is_a_difference(answer: Validators, named: str) -> None:
    pinned = Validators(etag=STRONG, last_modified=DATE)

    difference = pinned.difference(answer)

    assert difference is not None
    assert named in difference
    assert "when the copy started" in difference


def test_nothing_pinned_means_nothing_to_contradict() -> None:
    # A source that sent no validators (or a cursor from before they were recorded).
    assert Validators().difference(Validators(etag=STRONG)) is None
