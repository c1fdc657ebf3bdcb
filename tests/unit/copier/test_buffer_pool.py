"""Part buffers are bounded in number and in bytes, reused, and a stopped copy stops waiting."""

from __future__ import annotations

import threading

import pytest

from aiven_backup.copier.budget import CopyStoppedError
from aiven_backup.copier.buffers import BufferPool


def _stopped() -> threading.Event:
    stop = threading.Event()
    stop.set()
    return stop


def test_a_full_pool_makes_the_next_acquire_wait() -> None:
    pool = BufferPool(capacity=2, max_bytes=1000, stop=_stopped())
    pool.acquire(10)
    pool.acquire(10)

    with pytest.raises(CopyStoppedError):
        pool.acquire(10)  # it would wait; the stopped copy makes it give up instead


def test_a_released_buffer_is_handed_out_again() -> None:
    pool = BufferPool(capacity=2, max_bytes=1000, stop=_stopped())
    first = pool.acquire(10)
    pool.acquire(10)
    pool.release(first)

    assert pool.acquire(10) is first


def test_the_byte_bound_limits_large_parts_before_the_count_does() -> None:
    pool = BufferPool(capacity=9, max_bytes=100, stop=_stopped())
    pool.acquire(40)
    pool.acquire(40)

    with pytest.raises(CopyStoppedError):
        pool.acquire(40)


def test_one_buffer_always_fits_even_beyond_the_byte_bound() -> None:
    pool = BufferPool(capacity=9, max_bytes=100, stop=_stopped())

    assert len(pool.acquire(500)) == 500
    with pytest.raises(CopyStoppedError):
        pool.acquire(1)


def test_idle_buffers_of_another_size_make_room_for_a_new_size() -> None:
    pool = BufferPool(capacity=9, max_bytes=100, stop=_stopped())
    small = [pool.acquire(30), pool.acquire(30), pool.acquire(30)]
    for buffer in small[1:]:
        pool.release(buffer)

    larger = pool.acquire(60)  # 30 in use + 60 fits once the idle 30s are dropped

    assert len(larger) == 60
    with pytest.raises(CopyStoppedError):
        pool.acquire(30)


def test_a_waiting_acquire_gets_the_buffer_another_thread_releases() -> None:
    pool = BufferPool(capacity=1, max_bytes=100, stop=threading.Event())
    held = pool.acquire(10)
    got: list[bytearray] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(10)))
    waiter.start()

    pool.release(held)
    waiter.join(timeout=10)

    assert len(got) == 1
    assert got[0] is held
