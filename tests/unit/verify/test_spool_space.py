"""The scratch directory's room for spooled TSM files, shared by the threads of one invocation:
a spool waits for room another spool will give back, and only a file that can never fit fails."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from aiven_backup.errors import VerifyScratchFull
from aiven_backup.verify.spool_space import SpoolSpace

MIB = 1024 * 1024
MARGIN = 1 * MIB


def _space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: int) -> SpoolSpace:
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(free, 0, free))
    return SpoolSpace(str(tmp_path), margin=MARGIN)


def test_a_file_larger_than_all_the_room_fails_at_once_saying_what_to_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = _space(tmp_path, monkeypatch, free=10 * MIB)

    with (
        pytest.raises(
            VerifyScratchFull,
            match=r"a.tsm is 9437185 bytes.*10485760 bytes free.*"
            r"VerifyEphemeralStorage parameter",
        ),
        space.reserve(9 * MIB + 1, "a.tsm"),
    ):
        pass  # fmt: skip

    assert space.reserved == 0


def test_spools_that_fit_together_hold_their_room_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = _space(tmp_path, monkeypatch, free=10 * MIB)

    with space.reserve(4 * MIB, "a.tsm"), space.reserve(5 * MIB, "b.tsm"):
        held = space.reserved

    assert (held, space.reserved) == (9 * MIB, 0)


def test_a_spool_waits_for_the_room_another_gives_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = _space(tmp_path, monkeypatch, free=10 * MIB)
    events: list[str] = []
    first_holds = threading.Event()
    second_asked = threading.Event()

    def first() -> None:
        with space.reserve(6 * MIB, "a.tsm"):
            events.append("first holds")
            first_holds.set()
            second_asked.wait(5)
            # The second thread is blocked in reserve() now, or about to be.
            threading.Event().wait(0.2)
            events.append("first gives back")

    def second() -> None:
        first_holds.wait(5)
        second_asked.set()
        with space.reserve(6 * MIB, "b.tsm"):
            events.append("second holds")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert events == ["first holds", "first gives back", "second holds"]
    assert space.reserved == 0


def test_the_room_is_measured_once_when_first_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def disk_usage(path: str) -> Any:
        asked.append(path)
        return shutil._ntuple_diskusage(9, 0, 9)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    space = SpoolSpace(str(tmp_path), margin=0)

    with space.reserve(1, "a.tsm"):
        pass
    with space.reserve(1, "b.tsm"):
        pass

    assert asked == [str(tmp_path)]
