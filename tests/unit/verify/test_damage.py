"""The decisions that keep a damaged shard from failing the Map while sibling batches still run
(``verify.damage``): a content error becomes a record, the record stops the siblings, and the
step after the Map raises it again under its own name."""

from __future__ import annotations

import threading

import pytest

from aiven_backup import errors
from aiven_backup.verify.damage import DamageFound, DamageWatch, record_damage
from tests.support.content_errors import CONTENT_CORRUPT

DAMAGE = DamageFound("ShardCorrupt", "20261123T030000Z.s7.tar.gz: not gzip", batch=3)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingReader:
    def __init__(self, answers: list[DamageFound | None]) -> None:
        self.answers = answers
        self.reads = 0

    def __call__(self) -> DamageFound | None:
        self.reads += 1
        return self.answers[min(self.reads, len(self.answers)) - 1]


@pytest.mark.parametrize("error", CONTENT_CORRUPT, ids=lambda e: e.__name__)
def test_a_content_error_is_recorded_and_raised_again_under_its_own_name(
    error: type[errors.BackupContentCorrupt],
) -> None:
    found = record_damage(error("shard 7: gzip CRC32 mismatch in s7.tar.gz"), batch=2)

    raised = DamageFound.from_dict(found.to_dict()).error()

    assert found == DamageFound(error.__name__, "shard 7: gzip CRC32 mismatch in s7.tar.gz", 2)
    assert type(raised) is error
    assert str(raised) == "shard 7: gzip CRC32 mismatch in s7.tar.gz"
    assert found.describe() == f"batch 2 found {error.__name__}"


def test_a_recorded_name_outside_the_family_is_still_raised_as_content_damage() -> None:
    raised = DamageFound("SomeNewCorruption", "file x is damaged", batch=0).error()

    assert type(raised) is errors.BackupContentCorrupt
    assert str(raised) == "file x is damaged"


def test_the_watch_reads_the_record_at_once_then_at_most_every_interval() -> None:
    clock, read = FakeClock(), CountingReader([None, None, DAMAGE])
    watch = DamageWatch(read, interval=5.0, clock=clock)

    first = watch.damage_found()
    clock.now += 4.9
    within_interval = watch.damage_found()
    clock.now += 0.1
    after_interval = watch.damage_found()
    clock.now += 5.0
    found = watch.damage_found()

    assert (first, within_interval, after_interval, found) == (False, False, False, True)
    assert read.reads == 3
    assert watch.found == DAMAGE


def test_once_damage_is_found_the_watch_stops_every_caller_without_reading_again() -> None:
    clock, read = FakeClock(), CountingReader([DAMAGE])
    watch = DamageWatch(read, interval=0.0, clock=clock)

    answers = [watch.damage_found() for _ in range(5)]

    assert answers == [True] * 5
    assert read.reads == 1


def test_a_thread_asking_while_another_reads_gets_the_last_answer_without_waiting() -> None:
    reading, release = threading.Event(), threading.Event()

    def slow_read() -> DamageFound | None:
        reading.set()
        release.wait(10)
        return DAMAGE

    watch = DamageWatch(slow_read, interval=0.0)
    reader = threading.Thread(target=watch.damage_found)
    reader.start()
    reading.wait(10)

    meanwhile = watch.damage_found()
    release.set()
    reader.join(10)

    assert meanwhile is False
    assert watch.damage_found() is True
