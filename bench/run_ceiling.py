"""The sink's ceiling: boto3 multipart upload of in-memory bytes, no source at all.

Same part size, concurrency and checksum as the copier, so the only difference from the copier is
that nothing is downloaded. ``python -m bench.run_ceiling --endpoint URL --bucket B --key K
--size BYTES --part-size BYTES --concurrency N``; credentials from the environment. Prints one JSON
line (parts, upload seconds) on success.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef


def upload(
    s3: S3Client,
    *,
    bucket: str,
    key: str,
    size: int,
    part_size: int,
    concurrency: int,
    checksum: str | None,
) -> int:
    """Upload ``size`` bytes as parts of ``part_size`` (one random buffer, reused); return parts."""
    block = os.urandom(part_size)
    checksum_args: dict[str, Any] = {"ChecksumAlgorithm": checksum} if checksum else {}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **checksum_args)["UploadId"]

    def send(number: int) -> CompletedPartTypeDef:
        length = min(part_size, size - (number - 1) * part_size)
        body = block if length == part_size else block[:length]
        answer = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            **checksum_args,
        )
        part: dict[str, Any] = {"PartNumber": number, "ETag": answer["ETag"]}
        echoed = answer.get(f"Checksum{checksum}") if checksum else None  # s3rver echoes none
        if echoed:
            part[f"Checksum{checksum}"] = echoed
        return cast("CompletedPartTypeDef", part)

    count = -(-size // part_size)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        parts = list(pool.map(send, range(1, count + 1)))
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--part-size", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--checksum", default=None, help="ChecksumAlgorithm, e.g. CRC32; or none")
    args = parser.parse_args()
    checksum = None if args.checksum in {None, "", "none"} else str(args.checksum)
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=args.concurrency),
    )
    started = time.perf_counter()
    parts = upload(
        s3,
        bucket=args.bucket,
        key=args.key,
        size=args.size,
        part_size=args.part_size,
        concurrency=args.concurrency,
        checksum=checksum,
    )
    print(json.dumps({"parts": parts, "upload_s": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main()
