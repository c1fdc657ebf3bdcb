"""Room in the scratch directory (Lambda's ``/tmp``) for the TSM files deep verification spools,
shared by the threads of one invocation.

A TSM file's index is at its end, so a file too large to hold in memory is written to the
scratch directory while it is decompressed, then its blocks are checked. influxd writes TSM files
of up to 2 GiB (``maxTSMFileSize``), and VerifyShards checks 8 shards at once: each thread
checking the free space for itself would see room that the others are about to fill, and all
would fail with ENOSPC together. Here a thread reserves its file's size first, waits while other
threads' spools hold the room it needs (they give it back when their file is checked), and fails
at once only for a file that could never fit.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiven_backup.errors import VerifyScratchFull

SCRATCH_MARGIN = 16 * 1024 * 1024
"""Free scratch space kept beyond the TSM files being spooled."""
_WAIT_SLICE_SECONDS = 5.0


class SpoolSpace:
    """The scratch directory ``directory``'s free space when first asked (less ``margin``),
    handed out to spools one reservation at a time."""

    def __init__(self, directory: str, *, margin: int = SCRATCH_MARGIN) -> None:
        self.directory = directory
        self._margin = margin
        self._free: int | None = None  # measured at the first reservation
        self._reserved = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, size: int, where: str) -> Iterator[None]:
        """Hold ``size`` bytes of the directory for the ``with`` block, waiting while other
        spools hold them. Raises ``VerifyScratchFull`` when ``size`` exceeds all the room there
        is (``where`` names the file in the message)."""
        with self._changed:
            free = self._measured()
            capacity = free - self._margin
            if size > capacity:
                raise VerifyScratchFull(
                    f"{where} is {size} bytes and must be spooled to reach its index, but the "
                    f"scratch directory {self.directory} has {free} bytes free; give the "
                    "verifier more temporary storage (Lambda EphemeralStorage, the "
                    "VerifyEphemeralStorage parameter: influxd's TSM files reach 2 GiB) and "
                    "verify again"
                )
            while self._reserved + size > capacity:
                self._changed.wait(_WAIT_SLICE_SECONDS)
            self._reserved += size
        try:
            yield
        finally:
            with self._changed:
                self._reserved -= size
                self._changed.notify_all()

    @property
    def reserved(self) -> int:
        """Bytes held by spools now."""
        with self._changed:
            return self._reserved

    def _measured(self) -> int:
        if self._free is None:
            self._free = shutil.disk_usage(self.directory).free
        return self._free
