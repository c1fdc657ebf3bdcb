"""Part sizes stay inside S3's limits from an empty backup up to 5 TiB, known length or not."""

from __future__ import annotations

import pytest

from aiven_backup.copier import CopyConfig, GiB, MiB, TiB, part_size_for, plan_parts
from aiven_backup.copier.config import S3_MAX_PART_SIZE
from aiven_backup.copier.part_size import PartPlan, too_small_for
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


# --- The function's memory bounds the parts ---------------------------------------------------


@pytest.mark.parametrize("memory_mb", [512, 1024, 1769, 3008, 10240])
def test_no_part_is_larger_than_half_of_what_the_functions_memory_leaves_for_buffers(
    memory_mb: int,
) -> None:
    config = DEFAULT.for_memory(memory_mb)
    plan = plan_parts(None, config)

    largest = max(plan.size_of(n) for n in range(1, 10_001))

    assert config.max_buffer_memory == (memory_mb - 256) * MiB
    assert largest <= config.max_buffer_memory // 2
    assert largest + 256 * MiB < memory_mb * MiB


def test_a_5_tib_chunked_source_at_1024_mb_never_outgrows_memory_and_is_refused_naming_it() -> None:
    """Uncapped, the doubling schedule reaches 4 GiB parts, far past a 1024 MB function: it would
    be killed for memory 72 GiB into the copy, its progress lost. Capped at 384 MiB, 10,000 parts
    hold 1.95 TiB; a larger backup of unknown size stops at the part limit with an error that
    says to give the function more memory."""
    config = DEFAULT.for_memory(1024)
    plan = plan_parts(None, config)

    sizes = _walk_unknown_length(plan, 5 * TiB)

    assert max(sizes) == 384 * MiB
    assert plan.offset_of(10_001) == pytest.approx(1.95 * TiB, rel=0.01)
    assert len(sizes) > 10_000  # so the copy raises at part 10,001:
    assert "give CopyBackup more memory" in too_small_for(config)


@pytest.mark.parametrize("memory_mb", [4096, 10240])
def test_from_4096_mb_a_5_tib_chunked_source_fits_in_10000_parts_that_fit_in_memory(
    memory_mb: int,
) -> None:
    config = DEFAULT.for_memory(memory_mb)
    plan = plan_parts(None, config)

    sizes = _walk_unknown_length(plan, 5 * TiB)

    assert len(sizes) <= 10_000
    assert max(sizes) <= config.max_buffer_memory // 2


def test_a_known_length_past_the_cap_uses_more_parts_of_the_largest_size_or_is_refused() -> None:
    config = DEFAULT.for_memory(1024)

    three_tib = plan_parts(3 * TiB, config)  # 9,000 parts would need 350 MiB parts: fine
    almost_four = plan_parts(3 * TiB + 600 * GiB, config)  # 9,000 would need 418 MiB parts

    assert three_tib.base_size == 350 * MiB
    assert almost_four.base_size == 384 * MiB
    assert 9_000 < (almost_four.part_count() or 0) <= 10_000
    with pytest.raises(UploadFailed, match="give CopyBackup more memory"):
        plan_parts(4 * TiB, config)
