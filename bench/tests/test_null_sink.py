"""The null sink checks what real S3 checks, keeps only sizes and CRC32s, and answers as S3."""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.request
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from bench.null_sink import NullSinkServer, crc32_combine
from bench.tests.conftest import sink_endpoint

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
BUCKET = "bench"


def b64crc(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code"))


def sink_json(server: NullSinkServer, ca: Path, path: str) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(f"{sink_endpoint(server)}{path}", context=context) as answer:
        found: dict[str, Any] = json.loads(answer.read())
        return found


def upload_parts(s3: S3Client, upload_id: str, key: str, parts: list[bytes]) -> list[Any]:
    """Parts sent as the copier sends them: its own CRC32 in the header."""
    done = []
    for number, data in enumerate(parts, 1):
        answer = s3.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumCRC32=b64crc(data),
        )
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    return done


def test_crc32_combine_equals_the_crc32_of_the_concatenation() -> None:
    first, second = os.urandom(1000), os.urandom(5 * MIB + 3)
    combined = crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second))
    assert combined == zlib.crc32(first + second)
    assert crc32_combine(zlib.crc32(first), 0, 0) == zlib.crc32(first)


def test_a_full_object_upload_is_checked_and_read_back_like_s3(
    s3: S3Client, null_sink: NullSinkServer, ca_bundle: Path
) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(123_457)]
    whole = b"".join(parts)
    upload_id = s3.create_multipart_upload(
        Bucket=BUCKET, Key="k", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    done = upload_parts(s3, upload_id, "k", parts)

    answer = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": done},
        ChecksumCRC32=b64crc(whole),
        ChecksumType="FULL_OBJECT",
        MpuObjectSize=len(whole),
    )

    assert answer["ChecksumCRC32"] == b64crc(whole)
    head = s3.head_object(Bucket=BUCKET, Key="k", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(whole)
    assert head["ChecksumCRC32"] == b64crc(whole)
    assert head["ChecksumType"] == "FULL_OBJECT"
    record = sink_json(null_sink, ca_bundle, "/_sink/object?bucket=bench&key=k")
    assert record["crc32"] == zlib.crc32(whole)
    # Without the copier's signing hook botocore also signs a payload whose checksum the caller
    # supplied: the sink checks that SHA-256 too.
    assert record["part_checks"] == {"crc32-header": 2, "content-sha256": 2}
    assert sink_json(null_sink, ca_bundle, "/_sink/stats")["errors_total"] == 0


def test_boto3s_own_trailer_checksums_are_checked_and_a_composite_crc_is_reported(
    s3: S3Client, null_sink: NullSinkServer, ca_bundle: Path
) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="c", ChecksumAlgorithm="CRC32")[
        "UploadId"
    ]
    done: list[Any] = []
    for number, data in enumerate(parts, 1):  # botocore computes the CRC32, sends it as trailer
        answer = s3.upload_part(
            Bucket=BUCKET,
            Key="c",
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="CRC32",
        )
        done.append(
            {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]}
        )
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="c", UploadId=upload_id, MultipartUpload={"Parts": done}
    )

    stats = sink_json(null_sink, ca_bundle, "/_sink/stats")
    assert stats["checks"]["UploadPart:crc32-trailer"] == 2
    raw = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    composite = f"{base64.b64encode(zlib.crc32(raw).to_bytes(4, 'big')).decode()}-2"
    head = s3.head_object(Bucket=BUCKET, Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == composite


@pytest.mark.parametrize(
    "corruption",
    [{"ChecksumCRC32": "AAAAAA=="}, {"ContentMD5": "AAAAAAAAAAAAAAAAAAAAAA=="}],
    ids=["crc32", "md5"],
)
def test_a_part_that_does_not_match_its_checksum_is_refused_and_not_kept(
    s3: S3Client, corruption: dict[str, str]
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="bad")["UploadId"]

    with pytest.raises(ClientError) as refused:
        s3.upload_part(
            Bucket=BUCKET,
            Key="bad",
            UploadId=upload_id,
            PartNumber=1,
            Body=os.urandom(MIB),
            **corruption,  # type: ignore[arg-type]
        )

    assert error_code(refused.value) == "BadDigest"
    assert s3.list_parts(Bucket=BUCKET, Key="bad", UploadId=upload_id).get("Parts", []) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"ChecksumCRC32": "AAAAAA==", "ChecksumType": "FULL_OBJECT"}, "BadDigest"),
        ({"MpuObjectSize": 1}, "InvalidRequest"),
        ({"etag": '"0000"'}, "InvalidPart"),
        ({"small_first_part": True}, "EntityTooSmall"),
    ],
    ids=["object-crc", "object-size", "etag", "small-part"],
)
def test_a_completion_that_does_not_match_the_parts_is_refused(
    s3: S3Client, change: dict[str, Any], code: str
) -> None:
    first = 4 * MIB if change.pop("small_first_part", False) else 5 * MIB
    upload_id = s3.create_multipart_upload(
        Bucket=BUCKET, Key="x", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    done = upload_parts(s3, upload_id, "x", [os.urandom(first), os.urandom(10)])
    if "etag" in change:
        done[0]["ETag"] = change.pop("etag")

    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="x", UploadId=upload_id, MultipartUpload={"Parts": done}, **change
        )

    assert error_code(refused.value) == code
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key="x")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_part_for_an_unknown_upload_is_refused_before_its_body_is_sent(s3: S3Client) -> None:
    with pytest.raises(ClientError) as refused:
        s3.upload_part(
            Bucket=BUCKET, Key="k", UploadId="nope", PartNumber=1, Body=os.urandom(3 * MIB)
        )

    assert error_code(refused.value) == "NoSuchUpload"


def test_aborted_uploads_are_listed_until_aborted_and_then_gone(s3: S3Client) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="a")["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]] == [
        upload_id
    ]

    s3.abort_multipart_upload(Bucket=BUCKET, Key="a", UploadId=upload_id)

    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=BUCKET, Key="a", UploadId=upload_id)
    assert error_code(gone.value) == "NoSuchUpload"


def test_list_parts_pages_through_the_parts_with_their_crc32(s3: S3Client) -> None:
    parts = [os.urandom(100) for _ in range(3)]
    upload_id = s3.create_multipart_upload(
        Bucket=BUCKET, Key="p", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    upload_parts(s3, upload_id, "p", parts)

    first = s3.list_parts(Bucket=BUCKET, Key="p", UploadId=upload_id, MaxParts=2)
    rest = s3.list_parts(
        Bucket=BUCKET,
        Key="p",
        UploadId=upload_id,
        PartNumberMarker=first["NextPartNumberMarker"],
    )

    assert first["IsTruncated"] is True
    assert [p["PartNumber"] for p in first["Parts"] + rest["Parts"]] == [1, 2, 3]
    assert [p["ChecksumCRC32"] for p in first["Parts"] + rest["Parts"]] == [
        b64crc(p) for p in parts
    ]


def test_a_put_object_keeps_its_size_and_crc_and_a_bucket_empties_and_goes(
    s3: S3Client, null_sink: NullSinkServer, ca_bundle: Path
) -> None:
    data = os.urandom(70_000)
    s3.put_object(Bucket=BUCKET, Key="small", Body=data)
    record = sink_json(null_sink, ca_bundle, "/_sink/object?bucket=bench&key=small")
    assert (record["size"], record["crc32"]) == (len(data), zlib.crc32(data))

    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    with pytest.raises(ClientError) as full:
        s3.delete_bucket(Bucket=BUCKET)
    s3.delete_object(Bucket=BUCKET, Key="small")
    s3.delete_bucket(Bucket=BUCKET)

    assert keys == ["small"]
    assert error_code(full.value) == "BucketNotEmpty"
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket=BUCKET)
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_calls_it_does_not_implement_are_refused_and_counted(
    s3: S3Client, null_sink: NullSinkServer, ca_bundle: Path
) -> None:
    with pytest.raises(ClientError) as refused:
        s3.get_object_tagging(Bucket=BUCKET, Key="k")

    assert error_code(refused.value) == "NotImplemented"
    errors = sink_json(null_sink, ca_bundle, "/_sink/stats")["errors"]
    assert [e["code"] for e in errors] == ["NotImplemented"]
