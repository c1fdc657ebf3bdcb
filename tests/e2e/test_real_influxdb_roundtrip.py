"""A real portable backup survives packing and transport: restored, it holds every point it had."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from local_runner.influxdb import InfluxServer, Point, SeriesKey
from local_runner.real_backup import pack_backup_dir, seed_sample_data
from tests.support.influxdb import Transport


def _unpack(tar: bytes, into: Path) -> Path:
    """Extract the outer tar; return the folder that holds the manifest, wherever it is."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    manifests = list(into.rglob("*.manifest"))
    assert len(manifests) == 1, f"expected one manifest in the tar, found {manifests}"
    return manifests[0].parent


@pytest.mark.influxdb
@pytest.mark.parametrize("folder", [None, "metrics-influx-backup"], ids=["at-root", "in-folder"])
def test_a_portable_backup_restores_every_point_into_a_fresh_influxd(
    source_influxd: InfluxServer,
    target_influxd: InfluxServer,
    transport: Transport,
    tmp_path: Path,
    folder: str | None,
) -> None:
    seeded = seed_sample_data(source_influxd)
    backup_dir = source_influxd.backup_portable(tmp_path / "backup")
    tar = pack_backup_dir(backup_dir, folder)

    delivered = transport(tar)
    restore_dir = _unpack(delivered, tmp_path / "restore")
    target_influxd.restore_portable(restore_dir)

    manifest = json.loads(next(restore_dir.glob("*.manifest")).read_text())
    named = {manifest["meta"]["fileName"]} | {f["fileName"] for f in manifest["files"]}
    # influxd restore skips a missing shard file without a word: the manifest is the check.
    assert named <= {path.name for path in restore_dir.iterdir()}
    assert target_influxd.databases() == source_influxd.databases() == seeded.databases
    for db in seeded.databases:
        source_shards = source_influxd.shard_ids(db)
        assert len(source_shards) > 1, f"{db} should span several shards"
        assert sorted(f["shardID"] for f in manifest["files"] if f["database"] == db) == (
            source_shards
        )
        assert len(target_influxd.shard_ids(db)) == len(source_shards)
        assert target_influxd.retention_policies(db) == source_influxd.retention_policies(db)
        assert target_influxd.field_types(db) == source_influxd.field_types(db)

        source_points = source_influxd.dump_points(db)
        assert _points_per_policy(source_points) == seeded.points_per_policy(db)
        assert target_influxd.dump_points(db) == source_points


def _points_per_policy(dump: dict[SeriesKey, list[Point]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for (_, _, rp), points in dump.items():
        counts[rp] += len(points)
    return dict(counts)


def _backup_like_dir(directory: Path) -> dict[str, bytes]:
    files = {
        "20240301T000000Z.manifest": b'{"files": []}',
        "20240301T000000Z.s10.tar.gz": b"shard ten",
        "20240301T000000Z.s2.tar.gz": b"shard two",
        "20240301T000000Z.meta": b"\x0a\x00",
    }
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return files


def _members(tar: bytes) -> list[tuple[str, bytes | None]]:
    """(name, content) of each member, in order; a folder's content is None."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return [(member.name, _content(archive, member)) for member in archive.getmembers()]


def _content(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
    file = archive.extractfile(member)
    return None if file is None else file.read()


def test_pack_backup_dir_puts_the_files_at_the_root_in_the_order_influxd_writes_them(
    tmp_path: Path,
) -> None:
    files = _backup_like_dir(tmp_path / "backup")

    tar = pack_backup_dir(tmp_path / "backup")

    assert _members(tar) == [
        ("20240301T000000Z.meta", files["20240301T000000Z.meta"]),
        ("20240301T000000Z.s2.tar.gz", files["20240301T000000Z.s2.tar.gz"]),
        ("20240301T000000Z.s10.tar.gz", files["20240301T000000Z.s10.tar.gz"]),
        ("20240301T000000Z.manifest", files["20240301T000000Z.manifest"]),
    ]


def test_pack_backup_dir_can_put_the_files_in_a_folder(tmp_path: Path) -> None:
    files = _backup_like_dir(tmp_path / "backup")

    tar = pack_backup_dir(tmp_path / "backup", folder="metrics-influx-backup")

    members = _members(tar)
    assert members[0] == ("metrics-influx-backup", None)
    assert dict(members[1:]) == {
        f"metrics-influx-backup/{name}": data for name, data in files.items()
    }
