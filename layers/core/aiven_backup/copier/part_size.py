"""How big each part of the multipart upload is.

Known length: every part has the same size (the last one is shorter), at least
``min_part_size`` and large enough that the object fits in ``known_length_target_parts`` parts,
rounded up to a whole MiB. Unknown length (a chunked body): parts start at ``min_part_size`` and
double every ``GROWTH_TIER_PARTS`` parts, so with the 8 MiB default 10,000 parts hold about 8 TiB
(more than S3's 5 TiB object limit) while a backup under 7.8 GiB still uses 8 MiB parts.
Both schedules are pure functions of the part number, so a resumed copy recomputes every part's
offset from the cursor's base size alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiven_backup.copier.config import S3_MAX_PART_SIZE, CopyConfig, MiB, TiB
from aiven_backup.errors import UploadFailed

S3_MAX_PARTS = 10_000
S3_MAX_OBJECT_SIZE = 5 * TiB
GROWTH_TIER_PARTS = 1_000


@dataclass(frozen=True)
class PartPlan:
    """The part sizes of one copy: ``base_size`` for every part of a known ``total_size``, or the
    first size of the doubling schedule when ``total_size`` is None; no part is larger than
    ``max_part_size`` (what the function's memory allows)."""

    base_size: int
    total_size: int | None
    max_part_size: int = S3_MAX_PART_SIZE

    @property
    def growing(self) -> bool:
        return self.total_size is None

    def size_of(self, part_number: int) -> int:
        """The nominal size of ``part_number`` (1-based); a known length's last part is shorter."""
        if part_number < 1:
            raise ValueError(f"part numbers start at 1, got {part_number}")
        if not self.growing:
            return self.base_size
        tier = (part_number - 1) // GROWTH_TIER_PARTS
        grown = self.base_size << min(tier, 40)  # 40: keep ints small
        return min(grown, self.max_part_size, S3_MAX_PART_SIZE)

    def offset_of(self, part_number: int) -> int:
        """How many bytes come before ``part_number``."""
        if part_number < 1:
            raise ValueError(f"part numbers start at 1, got {part_number}")
        if not self.growing:
            return (part_number - 1) * self.base_size
        offset = 0
        done = 0
        while done < part_number - 1:
            in_tier = min(GROWTH_TIER_PARTS - done % GROWTH_TIER_PARTS, part_number - 1 - done)
            offset += in_tier * self.size_of(done + 1)
            done += in_tier
        return offset

    def length_of(self, part_number: int) -> int:
        """The real byte count of ``part_number``: the nominal size, cut at a known end."""
        size = self.size_of(part_number)
        if self.total_size is None:
            return size
        return max(0, min(size, self.total_size - self.offset_of(part_number)))

    def part_count(self) -> int | None:
        """How many parts a known length takes (an empty object still takes one)."""
        if self.total_size is None:
            return None
        return max(1, -(-self.total_size // self.base_size))


def plan_parts(total_size: int | None, config: CopyConfig) -> PartPlan:
    """The part plan for a source of ``total_size`` bytes (None: unknown until the body ends)."""
    if total_size is None:
        return PartPlan(
            base_size=config.min_part_size, total_size=None, max_part_size=config.max_part_size
        )
    if total_size < 0:
        raise ValueError(f"a source cannot have a negative size ({total_size})")
    if total_size > S3_MAX_OBJECT_SIZE:
        raise UploadFailed(
            f"the backup is {total_size} bytes, more than S3's largest object "
            f"({S3_MAX_OBJECT_SIZE} bytes); it cannot be stored as one object"
        )
    needed = -(-total_size // config.known_length_target_parts)
    base = config.min_part_size if needed <= config.min_part_size else -(-needed // MiB) * MiB
    # Past the cap, parts stay at the cap and more of them are used (up to S3's 10,000).
    base = min(base, config.max_part_size, S3_MAX_PART_SIZE)
    plan = PartPlan(base_size=base, total_size=total_size, max_part_size=config.max_part_size)
    count = plan.part_count() or 1
    allowed = min(config.max_parts, S3_MAX_PARTS)
    if count > allowed:
        raise UploadFailed(
            f"the backup is {total_size} bytes, which needs {count} parts of {plan.base_size} "
            f"bytes, more than the {allowed} parts allowed; {too_small_for(config)}"
        )
    return plan


def too_small_for(config: CopyConfig) -> str:
    """What to do when a backup needs more parts than allowed at this config's largest part."""
    return (
        f"parts may be at most {config.max_part_size // MiB} MiB with this function's memory "
        f"({config.max_buffer_memory // MiB} MiB for part buffers): give CopyBackup more memory "
        "(the CopyMemorySize parameter)"
    )


def part_size_for(total_size: int | None, part_number: int, config: CopyConfig) -> int:
    """The nominal size of part ``part_number`` when copying ``total_size`` bytes (None: unknown).

    Every part but a known length's last one has exactly this many bytes.
    """
    return plan_parts(total_size, config).size_of(part_number)
