"""Parsing the portable-backup manifest: the documented shape, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiven_backup.errors import NotAnInfluxBackup
from aiven_backup.verify import ManifestEntry, parse_manifest

DOCUMENTED = {
    "meta": {"fileName": "20261123T030000Z.meta", "size": 412},
    "limited": False,
    "files": [
        {
            "database": "db",
            "policy": "autogen",
            "shardID": 2,
            "fileName": "20261123T030000Z.s2.tar.gz",
            "size": 2048,
            "lastModified": 0,
        }
    ],
}


def _raw(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_documented_manifest_is_parsed() -> None:
    manifest = parse_manifest(_raw(DOCUMENTED), "m")

    assert manifest.meta_file_name == "20261123T030000Z.meta"
    assert manifest.meta_size == 412
    assert manifest.limited is False
    assert manifest.files == (
        ManifestEntry(
            database="db",
            policy="autogen",
            shard_id=2,
            file_name="20261123T030000Z.s2.tar.gz",
            size=2048,
            last_modified=0,
        ),
    )


def test_null_files_means_no_shards() -> None:
    assert parse_manifest(_raw({**DOCUMENTED, "files": None}), "m").files == ()


def test_unknown_keys_are_tolerated() -> None:
    document = {**DOCUMENTED, "platform": "aiven"}

    assert parse_manifest(_raw(document), "m").meta_size == 412


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x89PNG", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_raw({"files": None}), "'meta' is missing"),
        (_raw({**DOCUMENTED, "files": {"a": 1}}), "'files' is neither null nor a list"),
        (_raw({**DOCUMENTED, "files": ["x"]}), r"files\[0\] is not an object"),
        (
            _raw({**DOCUMENTED, "meta": {"fileName": "", "size": 1}}),
            "meta.fileName must be a non-empty string",
        ),
        (
            _raw({**DOCUMENTED, "files": [{**DOCUMENTED["files"][0], "shardID": "2"}]}),  # type: ignore[index]
            r"files\[0\].shardID must be a whole number",
        ),
        (
            _raw({**DOCUMENTED, "files": [{**DOCUMENTED["files"][0], "size": True}]}),  # type: ignore[index]
            r"files\[0\].size must be a whole number",
        ),
        (
            _raw({**DOCUMENTED, "meta": {"fileName": "x.meta", "size": -1}}),
            "meta.size must be a whole number >= 0",
        ),
    ],
)
def test_malformed_manifest_is_refused_saying_why(raw: bytes, reason: str) -> None:
    with pytest.raises(NotAnInfluxBackup, match=reason) as caught:
        parse_manifest(raw, "s3://bucket/key (member x.manifest)")

    assert "s3://bucket/key (member x.manifest)" in str(caught.value)
