"""The inventory model: full JSON, a bounded summary, a readable line."""

from __future__ import annotations

import json

from aiven_backup.verify import Inventory, InventoryFile, human_bytes


def _inventory(databases: dict[str, dict[str, list[int]]], shard_bytes: int = 1000) -> Inventory:
    files = [InventoryFile(name="s.meta", kind="meta", size_in_tar=300, uncompressed_size=295)]
    for database, policies in databases.items():
        for policy, ids in policies.items():
            files.extend(
                InventoryFile(
                    name=f"s.s{shard}.tar.gz",
                    kind="shard",
                    size_in_tar=shard_bytes,
                    database=database,
                    policy=policy,
                    shard_id=shard,
                    uncompressed_size=shard_bytes * 2,
                )
                for shard in ids
            )
    files.append(InventoryFile(name="s.manifest", kind="manifest", size_in_tar=200))
    return Inventory(
        stamp="20261123T030000Z",
        folder="",
        databases=databases,
        files=files,
        total_size=10 * 1024 * 1024,
    )


SMALL = {"metrics": {"autogen": [3, 4], "one_week": [5, 6]}, "telegraf": {"autogen": [1, 2]}}


def test_to_dict_is_json_and_lists_every_file() -> None:
    inventory = _inventory(SMALL)

    document = json.loads(json.dumps(inventory.to_dict()))

    assert document["databases"] == SMALL
    assert document["shard_count"] == 6
    assert document["file_count"] == 8
    assert document["total_size"] == 10 * 1024 * 1024
    shard = next(f for f in document["files"] if f["shard_id"] == 5)
    assert shard == {
        "name": "s.s5.tar.gz",
        "kind": "shard",
        "size_in_tar": 1000,
        "database": "metrics",
        "policy": "one_week",
        "shard_id": 5,
        "uncompressed_size": 2000,
    }


def test_summary_counts_and_sizes_per_database() -> None:
    summary = _inventory(SMALL).summary()

    assert summary["stamp"] == "20261123T030000Z"
    assert summary["database_count"] == 2
    assert summary["shard_count"] == 6
    assert summary["file_count"] == 8
    assert summary["databases"] == {
        "metrics": {"retention_policies": ["autogen", "one_week"], "shards": 4, "bytes": 4000},
        "telegraf": {"retention_policies": ["autogen"], "shards": 2, "bytes": 2000},
    }
    assert summary["databases_not_listed"] == 0


def test_summary_stays_under_2_kib_for_hundreds_of_long_named_databases() -> None:
    databases = {
        f"database_with_a_rather_long_descriptive_name_number_{i:04d}" * 3: {
            f"policy_{p}_with_a_long_name": [i * 10 + p] for p in range(6)
        }
        for i in range(300)
    }
    inventory = _inventory(databases)

    summary = inventory.summary()

    assert len(json.dumps(summary)) < 2048
    assert summary["database_count"] == 300
    assert summary["shard_count"] == 1800
    assert 0 < len(summary["databases"]) < 300
    assert summary["databases_not_listed"] == 300 - len(summary["databases"])
    assert len(inventory.summary_text()) < 1000


def test_summary_lists_the_largest_databases_first() -> None:
    databases = {f"db{i:03d}": {"autogen": list(range(i * 10, i * 10 + i))} for i in range(1, 60)}

    listed = list(_inventory(databases).summary()["databases"])

    assert listed[0] == "db059"
    assert listed == sorted(listed, reverse=True)


def test_summary_text_names_databases_policies_and_totals() -> None:
    text = _inventory(SMALL).summary_text()

    assert text == (
        "2 databases (metrics: autogen, one_week; telegraf: autogen), 6 shards, 8 files, "
        "10.0 MiB in total, InfluxDB backup 20261123T030000Z"
    )


def test_summary_text_of_a_backup_without_shards() -> None:
    assert _inventory({}).summary_text().startswith("metastore only, 0 shards, 2 files")


def test_human_bytes() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 1024**4) == "5.0 TiB"
