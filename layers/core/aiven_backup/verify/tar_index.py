"""List the members of a tar stored in S3 by reading only its headers (ranged GETs).

Walks header to header: each 512-byte header gives the member's size, the next header sits
after the body rounded up to 512. ustar, GNU long names (``././@LongLink``, type ``L``) and pax
extended headers (types ``x`` and ``g``, ``path=`` and ``size=``) are understood; the walk stops
at the first all-zero block (end of archive) or at the end of the object. Bodies are never read
except the small ones of pax and long-name records.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiven_backup.errors import NotAnInfluxBackup
from aiven_backup.retry import TRANSFER_RETRY
from aiven_backup.s3.retry import call_with_retries
from aiven_backup.verify.s3_ranges import S3RangeReader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BLOCK = tarfile.BLOCKSIZE
MAX_RECORD_BYTES = 1024 * 1024
"""A pax or long-name record larger than this is damage, not a name."""

_HEADERS_PER_DEADLINE_CHECK = 256
_ZERO_BLOCK = bytes(BLOCK)
_PAX_TYPES = frozenset({tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE})
_RECORD_TYPES = _PAX_TYPES | {tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
_DATA_TYPES = frozenset(tarfile.REGULAR_TYPES)
_TYPE_NAMES = {
    tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
}


@dataclass(frozen=True)
class TarMember:
    """One member: ``offset`` is where its data starts in the tar, ``size`` its data length."""

    name: str
    offset: int
    size: int
    type: str  # "file" | "directory" | "symlink" | "hardlink" | "other"


def index_tar_in_s3(
    s3: S3Client, bucket: str, key: str, *, size: int | None = None
) -> list[TarMember]:
    """The members of the tar at ``s3://bucket/key``; ``size`` saves a HeadObject when known."""
    if size is None:
        size = call_with_retries(
            lambda: s3.head_object(Bucket=bucket, Key=key)["ContentLength"],
            TRANSFER_RETRY,
            "index",
            f"s3://{bucket}/{key}",
        )
    return index_tar(S3RangeReader(s3, bucket, key, size))


def index_tar(reader: S3RangeReader) -> list[TarMember]:
    """Walk the headers through ``reader``; raises ``NotAnInfluxBackup`` if it is no tar."""
    return walk_tar(reader).members


@dataclass(frozen=True)
class IndexCursor:
    """Where an interrupted walk resumes: the next header's offset and the pax and long-name
    records that apply to the members after it. JSON-able."""

    offset: int
    global_records: Mapping[str, str]
    next_records: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "global_records": dict(self.global_records),
            "next_records": dict(self.next_records),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndexCursor:
        return cls(
            offset=int(data["offset"]),
            global_records=dict(data["global_records"]),
            next_records=dict(data["next_records"]),
        )


@dataclass(frozen=True)
class IndexProgress:
    """The members found by one walk; ``cursor`` is where to resume, ``None`` when complete."""

    members: list[TarMember]
    cursor: IndexCursor | None


def walk_tar(
    reader: S3RangeReader,
    cursor: IndexCursor | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> IndexProgress:
    """Walk the headers from ``cursor`` (the start when ``None``) until the end of the archive,
    or until ``should_stop()`` says the time is up (checked every few hundred headers, after at
    least one, so every call makes progress)."""
    if reader.size == 0:
        raise NotAnInfluxBackup(
            f"{reader.location} is empty (0 bytes), not a tar: the download produced nothing; "
            "request a new backup"
        )
    members: list[TarMember] = []
    global_records: dict[str, str] = dict(cursor.global_records) if cursor else {}
    next_records: dict[str, str] = dict(cursor.next_records) if cursor else {}
    offset = cursor.offset if cursor else 0
    headers = 0
    while offset < reader.size:
        if headers and headers % _HEADERS_PER_DEADLINE_CHECK == 0 and should_stop():
            return IndexProgress(members, IndexCursor(offset, global_records, next_records))
        headers += 1
        block = reader.read(offset, BLOCK)
        if block == _ZERO_BLOCK:
            break
        info = _parse_header(block, offset, reader)
        data_offset = offset + BLOCK
        body_size = info.size
        if is_extended_header(info.type):
            body = _read_record(reader, data_offset, info.size)
            if not take_record(info.type, body, global_records, next_records):
                raise NotAnInfluxBackup(
                    f"{reader.location} is a damaged tar: unreadable pax header at byte "
                    f"{offset}; run the backup again"
                )
        else:
            member = _member(info, data_offset, {**global_records, **next_records}, reader)
            members.append(member)
            next_records = {}
            body_size = member.size if has_body(info.type) else 0
        if data_offset + body_size > reader.size:
            raise NotAnInfluxBackup(
                f"{reader.location} is a truncated tar: the member at byte {offset} needs "
                f"{data_offset + body_size} bytes but the object has {reader.size}; "
                "the copy is incomplete, run the backup again"
            )
        offset = data_offset + _padded(body_size)
    return IndexProgress(members, None)


def _parse_header(block: bytes, offset: int, reader: S3RangeReader) -> tarfile.TarInfo:
    try:
        return tarfile.TarInfo.frombuf(block, "utf-8", "replace")
    except tarfile.HeaderError as error:
        if offset == 0:
            raise NotAnInfluxBackup(
                f"{reader.location} is not a tar archive: {describe_bytes(block)}; "
                "an Aiven user backup is a plain .tar, check that the right object was copied"
            ) from error
        raise NotAnInfluxBackup(
            f"{reader.location} is a damaged tar: no valid header at byte {offset} ({error}); "
            "run the backup again"
        ) from error


def _member(
    info: tarfile.TarInfo, data_offset: int, records: dict[str, str], reader: S3RangeReader
) -> TarMember:
    try:
        name, size = name_and_size(info, records)
    except ValueError as error:
        raise NotAnInfluxBackup(
            f"{reader.location} is a damaged tar: {error}; run the backup again"
        ) from error
    kind = "file" if info.type in _DATA_TYPES else _TYPE_NAMES.get(info.type, "other")
    return TarMember(name=normalize_name(name), offset=data_offset, size=size, type=kind)


def name_and_size(info: tarfile.TarInfo, records: Mapping[str, str]) -> tuple[str, int]:
    """A member's name and size: its header's, unless pax or long-name ``records`` override
    them. Raises ``ValueError`` naming the member when a pax size is not a number."""
    name = records.get("path", info.name)
    if "size" not in records:
        return name, info.size
    try:
        return name, int(records["size"])
    except ValueError:
        raise ValueError(f"the pax size of {name!r} is {records['size']!r}") from None


def is_extended_header(type_flag: bytes) -> bool:
    """A pax (``x``, ``g``) or GNU long-name (``L``, ``K``) record: it describes the members
    after it, and is no member itself."""
    return type_flag in _RECORD_TYPES


def _read_record(reader: S3RangeReader, offset: int, size: int) -> bytes:
    if size > MAX_RECORD_BYTES:
        raise NotAnInfluxBackup(
            f"{reader.location} is a damaged tar: a {size}-byte extended header at byte "
            f"{offset - BLOCK}; run the backup again"
        )
    return reader.read(offset, size)


def take_record(
    type_flag: bytes,
    body: bytes | bytearray,
    global_records: dict[str, str],
    next_records: dict[str, str],
) -> bool:
    """Apply an extended header's ``body`` to the records of the members after it: a pax ``g``
    to all of them, a pax ``x`` or a GNU long name to the next one (a GNU long link name is not
    needed). ``False`` when a pax body is not pax records."""
    if type_flag == tarfile.GNUTYPE_LONGNAME:
        next_records["path"] = bytes(body).split(b"\0", 1)[0].decode("utf-8", "replace")
    elif type_flag in _PAX_TYPES or type_flag == tarfile.XGLTYPE:
        records = _pax_records(body)
        if records is None:
            return False
        (global_records if type_flag == tarfile.XGLTYPE else next_records).update(records)
    return True


def _pax_records(body: bytes | bytearray) -> dict[str, str] | None:
    """pax records are ``"<length> <key>=<value>\\n"``, the length counting the whole record;
    ``None`` when ``body`` is not such records."""
    records: dict[str, str] = {}
    position = 0
    while position < len(body) and body[position] != 0:
        space = body.find(b" ", position)
        try:
            length = int(body[position:space])
        except ValueError:
            length = 0
        record = body[space + 1 : position + length]
        if space < 0 or length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            return None
        key, _, value = record[:-1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        position += length
    return records


def has_body(type_flag: bytes) -> bool:
    """Like tar itself: only regular (and unknown) members carry a body to skip."""
    return type_flag in _DATA_TYPES or type_flag not in tarfile.SUPPORTED_TYPES


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def normalize_name(name: str) -> str:
    """``./a/b/`` and ``/a/b`` become ``a/b``."""
    while name.startswith(("./", "/")):
        name = name[2:] if name.startswith("./") else name[1:]
    return name.rstrip("/")


def describe_bytes(prefix: bytes) -> str:
    """What the first bytes of an object look like, for a message an operator can act on."""
    if prefix.startswith(b"\x1f\x8b"):
        return "it starts with 1f 8b, a gzip file (a compressed tar?)"
    if prefix.startswith(b"PK\x03\x04"):
        return "it starts with PK 03 04, a zip file"
    head = prefix[:64]
    if head and all(32 <= byte < 127 or byte in b"\r\n\t" for byte in head):
        text = head.decode("ascii").replace("\n", " ").strip()
        return f"it starts with text {text!r}"
    return f"it starts with bytes {head[:16].hex(' ')}"
