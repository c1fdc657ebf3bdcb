"""``python -m local_runner catalog``: what a bucket holds for one service, as GET /catalog says.

Reads any S3 bucket with the usual AWS credentials (``--endpoint-url`` for an S3-compatible
server on this machine). ``python -m local_runner --catalog`` prints the same for the bucket of
the local run it just made. Exit 0 on an answer, 1 when S3 refused, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import boto3

from aiven_backup.api.catalog import BackupCatalog
from aiven_backup.api.errors import InvalidRequestError
from aiven_backup.errors import BackupError
from aiven_backup.verify import human_bytes
from aiven_backup.workflow.execution_input import DEFAULT_S3_PREFIX, InputDefaults


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_runner catalog",
        description="List a service's backups in a bucket, newest first: size, time, retention "
        "class, Object Lock, verified or not, and the inventory's summary.",
    )
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--project", required=True, help="Aiven project")
    parser.add_argument("--service", required=True, help="Aiven service")
    parser.add_argument("--s3-prefix", default=DEFAULT_S3_PREFIX)
    parser.add_argument("--limit", default="20", help="1 to 100 (default 20)")
    parser.add_argument("--endpoint-url", default=None, help="an S3-compatible endpoint")
    parser.add_argument("--region", default=None)
    parser.add_argument("--json", action="store_true", help="print the JSON GET /catalog answers")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url, region_name=args.region)
    query = {
        "project": args.project,
        "service": args.service,
        "s3_prefix": args.s3_prefix,
        "limit": args.limit,
    }
    try:
        answer = BackupCatalog(s3, args.bucket, InputDefaults()).answer(query)
    except InvalidRequestError as error:
        print(f"python -m local_runner catalog: {error}", file=sys.stderr)
        return 2
    except BackupError as error:
        print(f"could not list the catalogue: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print_catalog(answer, sys.stdout)
    return 0


def print_catalog(answer: Mapping[str, Any], out: TextIO) -> None:
    """The catalogue as a person reads it: one backup per line, its contents under it."""
    backups = answer["backups"]
    shown = f"{answer['count']} of {answer['total']}" if answer["truncated"] else answer["count"]
    print(
        f"s3://{answer['bucket']}/{answer['prefix']}: {shown} backup(s) of "
        f"{answer['project']}/{answer['service']}, newest first",
        file=out,
    )
    for entry in backups:
        lock = entry["lock"]
        locked = f"{lock['mode']} until {lock['retain_until']}" if lock else "not locked"
        verified = "verified" if entry["verified"] else "NOT VERIFIED"
        print(
            f"  {entry['last_modified']}  {human_bytes(entry['size']):>10}  "
            f"{entry['retention_class'] or '-':<8} {verified:<13} {locked:<40} {entry['key']}",
            file=out,
        )
        inventory = entry["inventory"]
        if inventory:
            databases = ", ".join(inventory["databases"]) or "metastore only"
            points = "" if inventory["points"] is None else f", {inventory['points']:,} points"
            span = (
                f", data {inventory['first_point']} -> {inventory['last_point']}"
                if inventory["first_point"] and inventory["last_point"]
                else ""
            )
            print(f"      {databases}; {inventory['shard_count']} shards{points}{span}", file=out)
        else:
            print("      no inventory", file=out)
