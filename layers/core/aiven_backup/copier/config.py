"""The copier's tunables, with production defaults; tests shrink sizes, waits and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, replace

from aiven_backup.retry import TRANSFER_RETRY, RetryPolicy

MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

SUPPORTED_CHECKSUM_ALGORITHMS = ("CRC32",)
S3_MAX_PART_SIZE = 5 * GiB
RUNTIME_RESERVE_MIB = 256
"""What a Lambda function needs besides the part buffers: the interpreter, botocore, httpx and
Powertools (about 120 MiB measured) with room to spare."""


@dataclass(frozen=True)
class CopyConfig:
    """How the copier sizes parts, how much it does at once and how it retries.

    Memory use is about ``part size x (upload_concurrency + 1)`` plus a fixed overhead, and the
    part buffers never hold more than ``max_buffer_memory`` together (fewer parts run at once
    when parts are large), except that one part always fits. ``max_part_size`` caps the parts
    (``for_memory`` derives both from a function's memory, so a part always fits in it).
    ``read_concurrency`` is how many ranged GETs may run at once when the source honours
    ``Range`` (each belongs to one of the ``upload_concurrency`` parts in flight).
    ``max_attempts`` bounds the attempts of one part's read (in a row without progress) and of
    each S3 call; the waits grow from ``retry_base_delay`` doubling up to ``retry_max_delay``
    (``retry_policy``: the rest of the policy is ``aiven_backup.retry.TRANSFER_RETRY``).
    ``checksum_algorithm`` is the S3 checksum every part carries (CRC32: zlib computes it in C
    without the GIL, and S3 combines it into a full-object checksum). ``min_part_size`` below
    S3's 5 MiB minimum only works against an emulator told to allow it (the tests do that).
    """

    min_part_size: int = 8 * MiB
    max_parts: int = 10_000
    known_length_target_parts: int = 9_000
    upload_concurrency: int = 8
    read_concurrency: int = 4
    max_attempts: int = TRANSFER_RETRY.max_attempts
    retry_base_delay: float = TRANSFER_RETRY.base_delay
    retry_max_delay: float = TRANSFER_RETRY.max_delay
    checksum_algorithm: str = "CRC32"
    read_timeout: float = 60.0
    connect_timeout: float = 10.0
    max_buffer_memory: int = 768 * MiB
    max_part_size: int = S3_MAX_PART_SIZE

    def __post_init__(self) -> None:
        positive = {
            "min_part_size": self.min_part_size,
            "max_parts": self.max_parts,
            "known_length_target_parts": self.known_length_target_parts,
            "upload_concurrency": self.upload_concurrency,
            "read_concurrency": self.read_concurrency,
            "read_timeout": self.read_timeout,
            "connect_timeout": self.connect_timeout,
            "max_buffer_memory": self.max_buffer_memory,
            "max_part_size": self.max_part_size,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"CopyConfig.{name} must be positive, got {value!r}")
        if self.known_length_target_parts > self.max_parts:
            raise ValueError("CopyConfig.known_length_target_parts must not exceed max_parts")
        if self.max_attempts < 1:
            raise ValueError(f"CopyConfig.max_attempts must be at least 1, got {self.max_attempts}")
        if self.retry_base_delay < 0 or self.retry_max_delay < 0:
            raise ValueError("CopyConfig retry delays must not be negative")
        if self.checksum_algorithm not in SUPPORTED_CHECKSUM_ALGORITHMS:
            raise ValueError(
                f"CopyConfig.checksum_algorithm must be one of {SUPPORTED_CHECKSUM_ALGORITHMS}, "
                f"got {self.checksum_algorithm!r}"
            )

    def for_memory(self, memory_mb: int) -> CopyConfig:
        """This config for a function of ``memory_mb`` MB: the part buffers get what the runtime
        leaves (``memory_mb - RUNTIME_RESERVE_MIB``), and no part is larger than half of that, so
        one part can be read while another uploads, whatever the backup's size."""
        budget = max(memory_mb - RUNTIME_RESERVE_MIB, 2 * self.min_part_size // MiB) * MiB
        largest = max(self.min_part_size, (budget // 2) // MiB * MiB)
        return replace(
            self,
            max_buffer_memory=budget,
            max_part_size=min(largest, self.max_part_size),
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """The transfer retry policy with this config's attempts and delays (hints cut to the
        longest delay)."""
        return replace(
            TRANSFER_RETRY,
            max_attempts=self.max_attempts,
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
            max_hint=self.retry_max_delay,
        )
