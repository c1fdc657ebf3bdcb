"""The sample backup has exactly the layout ``influxd backup -portable`` writes."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from local_runner.sample_backup import (
    build_non_backup_tar,
    build_sample_backup,
    sample_backup_files,
)

STAMP = "20261123T030000Z"


def _outer_files(tar_bytes: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def _varint(data: bytes) -> tuple[int, int]:
    value = shift = 0
    for position, byte in enumerate(data):
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position + 1
    raise AssertionError("unterminated varint")


def test_files_are_named_and_ordered_like_influxd_writes_them() -> None:
    files = _outer_files(build_sample_backup())

    assert list(files) == [
        f"{STAMP}.meta",
        *(f"{STAMP}.s{shard}.tar.gz" for shard in range(1, 7)),
        f"{STAMP}.manifest",
    ]


def test_manifest_has_the_documented_shape_and_sizes() -> None:
    files = _outer_files(build_sample_backup())

    manifest = json.loads(files[f"{STAMP}.manifest"])

    assert set(manifest) == {"meta", "limited", "files"}
    assert manifest["limited"] is False
    assert manifest["meta"]["fileName"] == f"{STAMP}.meta"
    assert [(f["database"], f["policy"], f["shardID"]) for f in manifest["files"]] == [
        ("telegraf", "autogen", 1),
        ("telegraf", "autogen", 2),
        ("metrics", "autogen", 3),
        ("metrics", "autogen", 4),
        ("metrics", "one_week", 5),
        ("metrics", "one_week", 6),
    ]
    for entry in manifest["files"]:
        assert set(entry) == {"database", "policy", "shardID", "fileName", "size", "lastModified"}
        assert entry["fileName"] == f"{STAMP}.s{entry['shardID']}.tar.gz"
        assert entry["lastModified"] == 0
        assert entry["size"] == len(gzip.decompress(files[entry["fileName"]]))


def test_meta_is_the_protobuf_wrapper_whose_data_length_the_manifest_states() -> None:
    files = _outer_files(build_sample_backup())
    manifest = json.loads(files[f"{STAMP}.manifest"])

    meta = files[f"{STAMP}.meta"]
    data_length, varint_bytes = _varint(meta[1:])

    assert meta[0] == 0x0A
    assert data_length == manifest["meta"]["size"]
    # field 2 (MaxNodeID, varint 0) closes the message
    assert meta[1 + varint_bytes + data_length :] == b"\x10\x00"
    assert b"telegraf" in meta
    assert b"one_week" in meta


def test_each_shard_is_a_gzipped_tar_of_a_tsm_file_under_db_rp_id() -> None:
    files = _outer_files(build_sample_backup(shard_payload_bytes=2000))

    shard = files[f"{STAMP}.s5.tar.gz"]
    inner = gzip.decompress(shard)
    with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
        members = archive.getmembers()
        tsm = archive.extractfile(members[0]).read()  # type: ignore[union-attr]

    assert shard[:2] == b"\x1f\x8b"
    assert [m.name for m in members] == ["metrics/one_week/5/000000001-000000001.tsm"]
    assert tsm[:5] == b"\x16\xd1\x16\xd1\x01"
    assert 1000 <= len(tsm) <= 3000
    # Go's archive/tar: headers, bodies, two zero blocks, no padding to a 10 KiB record
    assert len(inner) == 512 + -(-len(tsm) // 512) * 512 + 1024


def test_same_arguments_give_the_same_bytes_and_the_seed_changes_them() -> None:
    assert build_sample_backup(seed=3) == build_sample_backup(seed=3)
    assert build_sample_backup(seed=3) != build_sample_backup(seed=4)


def test_folder_puts_every_file_under_it() -> None:
    with tarfile.open(fileobj=io.BytesIO(build_sample_backup(folder="backup"))) as archive:
        names = archive.getnames()

    assert names[0] == "backup"
    assert all(name.startswith("backup/") for name in names[1:])
    assert f"backup/{STAMP}.manifest" in names


def test_no_shards_gives_a_null_files_list() -> None:
    files = _outer_files(build_sample_backup(shards_per_policy=0))

    assert json.loads(files[f"{STAMP}.manifest"])["files"] is None
    assert list(files) == [f"{STAMP}.meta", f"{STAMP}.manifest"]


def test_drop_files_leaves_a_file_out_but_in_the_manifest() -> None:
    dropped = f"{STAMP}.s2.tar.gz"

    files = _outer_files(build_sample_backup(drop_files=[dropped]))

    assert dropped not in files
    assert dropped in {f["fileName"] for f in json.loads(files[f"{STAMP}.manifest"])["files"]}


def test_drop_files_refuses_names_the_backup_does_not_have() -> None:
    with pytest.raises(ValueError, match=r"nope\.tar\.gz"):
        build_sample_backup(drop_files=["nope.tar.gz"])


def test_stamp_must_look_like_influxds() -> None:
    with pytest.raises(ValueError, match="stamp"):
        sample_backup_files(stamp="2026-11-23")


def test_non_backup_tar_holds_ordinary_files_and_no_manifest() -> None:
    names = list(_outer_files(build_non_backup_tar()))

    assert names
    assert not any(name.endswith(".manifest") for name in names)
