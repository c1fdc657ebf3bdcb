"""Sibling Map iterations made late on purpose, as AWS may make them.

In AWS, when one iteration of a Map fails, Step Functions stops the Map, but a Lambda invocation
that is already running runs to its end and its writes land. ``late_siblings`` holds every shard
check (``verify_shard``) of the batches other than the first until the first batch's VerifyShards
invocation has ended and, when that one failed (and so failed the Map), until HandleFailure has
cleaned up: the siblings are mid-batch when the first ends, and when the Map failed their writes
come after the clean-up, as they may in AWS.

It also counts the shards checked, keeps each VerifyShards answer, and ``settle()`` waits for the
invocations still running once the execution is over (as AWS lets them run).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aiven_backup.verify import batch as batch_module
from aiven_backup.verify.manifest import ManifestEntry
from aiven_backup.verify.shard import verify_shard
from aiven_backup.verify.tar_index import TarMember
from tests.support.workflow import Workflow

HOLD_AT_MOST = 60.0
"""Seconds a held shard check waits before it goes anyway (a broken design fails, not hangs)."""


@dataclass
class LateSiblings:
    first_batch_shard_ids: Collection[int]
    first_batch: int = 0
    shards_verified: int = 0
    answers: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    first_batch_failed: bool | None = None  # None: it has not ended yet
    held_too_long: list[str] = field(default_factory=list)
    running: int = 0
    _first_ended: threading.Event = field(default_factory=threading.Event)
    _cleaned_up: threading.Event = field(default_factory=threading.Event)
    _idle: threading.Condition = field(default_factory=threading.Condition)

    def siblings_answers(self) -> list[dict[str, Any]]:
        """The other batches' VerifyShards answers, by batch."""
        return [
            answer
            for batch, answers in sorted(self.answers.items())
            if batch != self.first_batch
            for answer in answers
        ]

    def settle(self, timeout: float = HOLD_AT_MOST * 2) -> None:
        """Wait until no VerifyShards invocation runs any more (their writes have landed)."""
        with self._idle:
            assert self._idle.wait_for(lambda: self.running == 0, timeout), "still running"

    def _hold(self, shard: str) -> None:
        released = self._first_ended.wait(HOLD_AT_MOST)
        if released and self.first_batch_failed:
            released = self._cleaned_up.wait(HOLD_AT_MOST)
        if not released:
            self.held_too_long.append(shard)


@contextlib.contextmanager
def late_siblings(
    workflow: Workflow,
    monkeypatch: pytest.MonkeyPatch,
    *,
    first_batch_shard_ids: Collection[int],
    first_batch: int = 0,
) -> Iterator[LateSiblings]:
    """Hold the other batches' shard checks until ``first_batch`` (whose shards have the ids
    ``first_batch_shard_ids``) has ended; see the module."""
    siblings = LateSiblings(first_batch_shard_ids, first_batch)
    lambdas = workflow.stack.lambdas
    invoke = lambdas.invoke

    def late_verify_shard(
        reader: Any, member: TarMember, entry: ManifestEntry, **options: Any
    ) -> Any:
        if entry.shard_id not in siblings.first_batch_shard_ids:
            siblings._hold(member.name)
        report = verify_shard(reader, member, entry, **options)
        with siblings._idle:
            siblings.shards_verified += 1
        return report

    def invoke_with_late_siblings(name: str, event: Any, invoked_arn: str) -> tuple[str, bool]:
        if name != "VerifyShardsFunction":
            payload, errored = invoke(name, event, invoked_arn)
            if name == "HandleFailureFunction":
                siblings._cleaned_up.set()
            return payload, errored
        batch = int(event["batch"])
        with siblings._idle:
            siblings.running += 1
        try:
            payload, errored = invoke(name, event, invoked_arn)
        finally:
            with siblings._idle:
                siblings.running -= 1
                siblings._idle.notify_all()
        with siblings._idle:
            siblings.answers.setdefault(batch, []).append(json.loads(payload))
        if batch == siblings.first_batch:
            siblings.first_batch_failed = errored
            siblings._first_ended.set()
        return payload, errored

    with monkeypatch.context() as patch:
        patch.setattr(batch_module, "verify_shard", late_verify_shard)
        patch.setattr(lambdas, "invoke", invoke_with_late_siblings)
        yield siblings
