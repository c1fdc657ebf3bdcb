"""Part sizes stay inside S3's limits from an empty backup up to 5 TiB, known length or not."""

from __future__ import annotations

import pytest

from aiven_backup.copier import CopyConfig, GiB, MiB, TiB, part_size_for, plan_parts
from aiven_backup.copier.part_size import S3_MAX_PART_SIZE, PartPlan
from aiven_backup.errors import UploadFailed

DEFAULT = CopyConfig()


def _walk_unknown_length(plan: PartPlan, until: int) -> list[int]:
    """Sizes of the parts an unknown-length copy uses until ``until`` bytes are stored."""
    sizes: list[int] = []
    stored = 0
    while stored < until:
        size = plan.size_of(len(sizes) + 1)
        sizes.append(size)
        stored += size
    return sizes


@pytest.mark.parametrize(
    "total",
    [0, 1, 8 * MiB - 1, 8 * MiB, 8 * MiB + 1, 70 * GiB, 100 * GiB, 1 * TiB, 5 * TiB],
)
def test_known_length_fits_in_9000_parts_of_at_least_8_mib(total: int) -> None:
    plan = plan_parts(total, DEFAULT)
    count = plan.part_count()

    assert count is not None
    assert 8 * MiB <= plan.base_size <= S3_MAX_PART_SIZE
    assert 1 <= count <= 9_000
    if total:
        assert (count - 1) * plan.base_size < total <= count * plan.base_size
    assert sum(plan.length_of(n) for n in range(1, count + 1)) == total
    assert plan.offset_of(count) + plan.length_of(count) == total


def test_known_length_small_backups_keep_the_minimum_part_size() -> None:
    assert part_size_for(1 * GiB, 1, DEFAULT) == 8 * MiB
    assert part_size_for(70 * GiB, 1, DEFAULT) == 8 * MiB  # 8,960 parts


def test_known_length_part_size_grows_in_whole_mib_beyond_9000_parts() -> None:
    size = part_size_for(100 * GiB, 1, DEFAULT)

    assert size % MiB == 0
    assert size == 12 * MiB  # 100 GiB / 9000 = 11.4 MiB


def test_known_length_over_5_tib_is_refused() -> None:
    with pytest.raises(UploadFailed, match="largest object"):
        plan_parts(5 * TiB + 1, DEFAULT)


def test_unknown_length_reaches_5_tib_within_10000_parts() -> None:
    plan = plan_parts(None, DEFAULT)

    sizes = _walk_unknown_length(plan, 5 * TiB)

    assert len(sizes) <= 10_000
    assert min(sizes) >= 8 * MiB
    assert max(sizes) <= 5 * GiB
    assert sizes == sorted(sizes)


def test_unknown_length_keeps_8_mib_parts_for_the_first_1000() -> None:
    plan = plan_parts(None, DEFAULT)

    assert {plan.size_of(n) for n in range(1, 1001)} == {8 * MiB}
    assert plan.size_of(1001) == 16 * MiB
    assert plan.size_of(10_000) == 4 * GiB


@pytest.mark.parametrize("part_number", [1, 2, 999, 1000, 1001, 1002, 2500, 9999, 10_000])
def test_unknown_length_offsets_are_the_sum_of_earlier_sizes(part_number: int) -> None:
    plan = plan_parts(None, DEFAULT)

    expected = sum(plan.size_of(n) for n in range(1, part_number))

    assert plan.offset_of(part_number) == expected


def test_part_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        plan_parts(None, DEFAULT).size_of(0)


@pytest.mark.parametrize(
    "settings",
    [
        {"min_part_size": 0},
        {"upload_concurrency": 0},
        {"read_concurrency": 0},
        {"max_attempts": 0},
        {"known_length_target_parts": 10_001},
        {"checksum_algorithm": "MD5"},
    ],
)
def test_config_rejects_nonsense(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="CopyConfig"):
        CopyConfig(**settings)  # type: ignore[arg-type]
