"""Damage one batch of the verification found, and how its sibling batches learn of it.

The shards are verified in a Map of batches (``workflow.verification``). A Map iteration that
fails fails the Map at once, but in AWS a sibling iteration's Lambda invocation that is already
running runs to its end and its writes still land: had a damaged shard failed its iteration, the
failure path would delete the working files while siblings still wrote theirs. So damage to the
content (``BackupContentCorrupt``: ShardCorrupt, TsmCorrupt, MetaManifestMismatch...) never fails
an iteration. The decisions, all here:

1. ``record_damage``: the batch that finds it records it (the error's name, its message naming
   the shard and file) in ``damage.json`` among the working files, and its iteration ends
   normally.
2. ``DamageWatch``: every batch reads ``damage.json`` before it starts and, at most every
   ``interval`` seconds, between shards, and stops early once a sibling recorded damage, so the
   Map ends soon and nobody verifies what no longer matters.
3. ``DamageFound.error``: after the Map (no iteration is running any more), FinishVerification
   raises the recorded error under its own name with its message, so the state machine's Catch,
   the failure path's verdict on the object and the notification are those of the error itself.

Other errors (S3 unavailable after the retries, a Lambda error or time-out) still fail the Map, and
for those a sibling's late write can outlive the clean-up; it is tagged ``retention-class=failed``
like every working file, so the bucket's lifecycle rule expires it.

``damage.json`` exists from the plan on (``DamageFound`` absent: ``{"damage": null}``), so reading
it never asks for a key that may not exist (which S3 answers with 403 to a role without
``s3:ListBucket``). When two batches find damage, the later record wins: either is the truth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiven_backup.errors import BackupContentCorrupt

DAMAGE_NAME = "damage.json"


def content_errors() -> dict[str, type[BackupContentCorrupt]]:
    """The ``BackupContentCorrupt`` family by class name (at any depth)."""
    found: dict[str, type[BackupContentCorrupt]] = {}
    frontier: list[type[BackupContentCorrupt]] = [BackupContentCorrupt]
    while frontier:
        cls = frontier.pop()
        found[cls.__name__] = cls
        frontier.extend(cls.__subclasses__())
    return found


@dataclass(frozen=True)
class DamageFound:
    """A content error one batch found: its class name, its message, the batch."""

    name: str
    message: str
    batch: int

    def error(self) -> BackupContentCorrupt:
        """The recorded error, to raise under its own name (a name not of the family, from a
        newer or older version of the code, is raised as ``BackupContentCorrupt``)."""
        cls = content_errors().get(self.name, BackupContentCorrupt)
        return cls(self.message)

    def describe(self) -> str:
        return f"batch {self.batch} found {self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "batch": self.batch}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DamageFound:
        return cls(name=str(raw["name"]), message=str(raw["message"]), batch=int(raw["batch"]))


def record_damage(error: BackupContentCorrupt, batch: int) -> DamageFound:
    """What a batch records of the content error it met, instead of failing its iteration."""
    return DamageFound(name=type(error).__name__, message=str(error), batch=batch)


class DamageWatch:
    """Whether a sibling batch recorded damage, reading the record (``read``) at most every
    ``interval`` seconds: a batch's ``should_stop`` asks between every two shards, from several
    threads. A thread that asks while another reads gets the last answer and does not wait."""

    def __init__(
        self,
        read: Callable[[], DamageFound | None],
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._interval = interval
        self._clock = clock
        self._reading = threading.Lock()
        self._last: float | None = None
        self.found: DamageFound | None = None

    def damage_found(self) -> bool:
        """True once the record names damage (read now, or at most ``interval`` seconds ago)."""
        if self.found is not None:
            return True
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return False
        if not self._reading.acquire(blocking=False):
            return False  # another thread reads it now
        try:
            self._last = now
            self.found = self._read()
        finally:
            self._reading.release()
        return self.found is not None
