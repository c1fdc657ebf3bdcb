"""The metastore a backup carries, checked against its manifest: what influxd restore would skip
is refused, a shard group that was never written to is reported."""

from __future__ import annotations

import pytest

from aiven_backup.errors import BackupContentCorrupt, MetaManifestMismatch, MetastoreCorrupt
from aiven_backup.verify.manifest import parse_manifest
from aiven_backup.verify.metastore import MetaShard, check_metastore, parse_metastore
from local_runner.sample_backup import bytes_field, sample_backup_files, uint_field
from tests.support.metastore import STAMP, Group, entry, meta_file

LOCATION = "s3://bucket/backup.tar"
META = meta_file(
    {
        "telegraf": {"autogen": [Group(1, [1]), Group(2, [2])]},
        "metrics": {"autogen": [Group(3, [3])], "week": [Group(4, [4], deleted_at=5)]},
    }
)
ALL = [entry("telegraf", "autogen", 1), entry("telegraf", "autogen", 2)]
ALL += [entry("metrics", "autogen", 3)]


def test_a_sample_backups_meta_agrees_with_its_manifest() -> None:
    files = sample_backup_files()
    manifest = parse_manifest(files[f"{STAMP}.manifest"], "manifest")

    check = check_metastore(
        files[f"{STAMP}.meta"], manifest.files, limited=False, location=LOCATION
    )

    assert check.metastore.databases == ("telegraf", "metrics")
    assert [s.shard_id for s in check.metastore.shards] == [1, 2, 3, 4, 5, 6]
    assert check.without_file == ()


def test_the_parsed_shards_carry_their_database_policy_group_and_times() -> None:
    metastore = parse_metastore(META, LOCATION)

    assert metastore.shards[-1] == MetaShard(
        database="metrics",
        policy="week",
        shard_id=4,
        group_id=4,
        start_ns=1_700_000_000_000_000_000,
        end_ns=1_700_604_800_000_000_000,
        deleted=True,
    )


def test_negative_times_parse_as_int64() -> None:
    meta = meta_file({"db": {"rp": [Group(1, [1], start_ns=-5, end_ns=10)]}})

    (shard,) = parse_metastore(meta, LOCATION).shards

    assert (shard.start_ns, shard.end_ns) == (-5, 10)


def test_a_manifest_shard_the_metastore_does_not_know_is_a_mismatch_naming_it() -> None:
    shards = [*ALL, entry("metrics", "autogen", 9)]

    with pytest.raises(MetaManifestMismatch, match=r"shard 9 \(metrics\.autogen; unknown") as e:
        check_metastore(META, shards, limited=False, location=LOCATION)

    assert "Meta info not found for shard" in str(e.value)
    assert isinstance(e.value, BackupContentCorrupt)


def test_a_manifest_shard_under_another_database_is_a_mismatch() -> None:
    shards = [entry("telegraf", "autogen", 1), entry("telegraf", "autogen", 3)]

    with pytest.raises(MetaManifestMismatch, match=r"the metastore has it in metrics\.autogen"):
        check_metastore(META, shards, limited=False, location=LOCATION)


def test_the_message_lists_a_few_shards_and_counts_the_rest() -> None:
    shards = [entry("db", "autogen", n) for n in range(100, 112)]

    with pytest.raises(MetaManifestMismatch, match=r"12 shard.*shard 104 .* and 7 more"):
        check_metastore(META, shards, limited=False, location=LOCATION)


def test_a_live_metastore_shard_without_a_file_is_reported_not_refused() -> None:
    shards = [entry("telegraf", "autogen", 1), entry("metrics", "autogen", 3)]

    check = check_metastore(META, shards, limited=False, location=LOCATION)

    assert [s.shard_id for s in check.without_file] == [2]  # 4 is in a deleted group


def test_a_limited_backup_reports_only_its_own_databases_shards_without_file() -> None:
    shards = [entry("metrics", "autogen", 3)]

    limited = check_metastore(META, shards, limited=True, location=LOCATION)
    full = check_metastore(META, shards, limited=False, location=LOCATION)

    assert limited.without_file == ()
    assert [s.shard_id for s in full.without_file] == [1, 2]


def test_a_shard_of_a_deleted_group_in_the_manifest_is_accepted() -> None:
    check = check_metastore(
        META, [*ALL, entry("metrics", "week", 4)], limited=False, location=LOCATION
    )

    assert check.without_file == ()


@pytest.mark.parametrize(
    "meta",
    [
        b"",
        b"\x0a\x05abc",  # Data runs past the end
        bytes_field(1, b"\xff"),  # Data holds a cut varint
        bytes_field(1, bytes_field(5, uint_field(2, 1))),  # a database without a name
        bytes_field(1, b"\x0b"),  # a group (wire type 3)
        bytes_field(1, bytes_field(5, bytes_field(1, b"db") + uint_field(3, 7))),
        bytes_field(1, b"") + bytes_field(1, b""),  # Data twice
    ],
    ids=["empty", "overrun", "cut-varint", "unnamed-db", "group", "policy-not-message", "twice"],
)
def test_a_meta_file_that_does_not_parse_is_metastore_corrupt(meta: bytes) -> None:
    with pytest.raises(MetastoreCorrupt, match=f"{LOCATION}: the meta file does not parse"):
        check_metastore(meta, [], limited=False, location=LOCATION)
