"""Read the metastore a portable backup carries (``<stamp>.meta``) and check it against the
manifest's shards.

The meta file is protobuf ``{1: bytes Data, 2: uint64 MaxNodeID}`` (``backup_util.PortablePacker``);
Data is InfluxDB's ``meta.Data`` (``services/meta/internal/meta.proto``, 1.8). Only what the check
needs is read, by a small hand-written protobuf walker: ``Data.Databases`` (5) -> ``Name`` (1),
``RetentionPolicies`` (3) -> ``Name`` (1), ``ShardGroups`` (5) -> ``ID`` (1), ``StartTime`` (2),
``EndTime`` (3), ``DeletedAt`` (4), ``Shards`` (5) -> ``ID`` (1).

What ``influxd backup -portable`` (1.8, ``cmd/influxd/backup``) writes: the whole metastore, and
one shard file per shard the metastore lists that exists on the server's disk
(``snapshotter.writeDatabaseInfo`` skips the others). So:

- a manifest shard the metastore does not list under the same database and retention policy is a
  real disagreement: ``influxd restore -portable`` maps shard files through the metastore and
  skips such a file ("Meta info not found for shard"), losing its data -> ``MetaManifestMismatch``;
- a metastore shard without a file is normal: a shard group the precreator made ahead of time
  (``services/precreator``: the next group, every period, written to or not) or that never got a
  write has no shard on disk, and a backup of some databases (``-database``) still carries the
  whole metastore. Those shards are reported (``MetastoreCheck.without_file``), not refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from aiven_backup.errors import MetaManifestMismatch, MetastoreCorrupt
from aiven_backup.verify.manifest import ManifestEntry

_VARINT = 0
_FIXED64 = 1
_BYTES = 2
_FIXED32 = 5
_LISTED = 5

Field = tuple[int, int | bytes]
"""(field number, value): an int for varint and fixed fields, bytes for length-delimited ones."""


class _Malformed(Exception):
    pass


@dataclass(frozen=True)
class MetaShard:
    """One shard the metastore lists. Times are nanoseconds since the epoch."""

    database: str
    policy: str
    shard_id: int
    group_id: int
    start_ns: int
    end_ns: int
    deleted: bool


@dataclass(frozen=True)
class Metastore:
    databases: tuple[str, ...]
    shards: tuple[MetaShard, ...]


@dataclass(frozen=True)
class MetastoreCheck:
    """What the check found: the metastore, and its live shards (not in a deleted group, in a
    database the backup covers) that have no shard file: groups never written to."""

    metastore: Metastore
    without_file: tuple[MetaShard, ...]


def check_metastore(
    meta_bytes: bytes, shards: Sequence[ManifestEntry], *, limited: bool, location: str
) -> MetastoreCheck:
    """Check the meta file ``meta_bytes`` against the manifest's ``shards``.

    Raises ``MetastoreCorrupt`` when it does not parse, ``MetaManifestMismatch`` when the manifest
    names shards the metastore does not list under their database and retention policy.
    ``limited`` (a backup of some databases) narrows ``without_file`` to the manifest's databases.
    """
    metastore = parse_metastore(meta_bytes, location)
    known = {shard.shard_id: shard for shard in metastore.shards}
    unknown = [
        entry
        for entry in shards
        if (found := known.get(entry.shard_id)) is None
        or (found.database, found.policy) != (entry.database, entry.policy)
    ]
    if unknown:
        listed = ", ".join(_described(entry, known) for entry in unknown[:_LISTED])
        more = f" and {len(unknown) - _LISTED} more" if len(unknown) > _LISTED else ""
        raise MetaManifestMismatch(
            f"{location}: the manifest names {len(unknown)} shard(s) the metastore does not list "
            f"under their database and retention policy: {listed}{more}; influxd restore would "
            "skip their files ('Meta info not found for shard') and lose their data, so the "
            "backup cannot be fully restored: request a new one"
        )
    in_manifest = {entry.shard_id for entry in shards}
    covered = {entry.database for entry in shards} if limited else set(metastore.databases)
    without_file = tuple(
        shard
        for shard in metastore.shards
        if not shard.deleted and shard.database in covered and shard.shard_id not in in_manifest
    )
    return MetastoreCheck(metastore=metastore, without_file=without_file)


def _described(entry: ManifestEntry, known: dict[int, MetaShard]) -> str:
    found = known.get(entry.shard_id)
    text = f"shard {entry.shard_id} ({entry.database}.{entry.policy}"
    if found is not None:
        return f"{text}; the metastore has it in {found.database}.{found.policy})"
    return f"{text}; unknown to the metastore)"


def parse_metastore(meta_bytes: bytes, location: str) -> Metastore:
    """The databases and shards of the meta file ``meta_bytes``; ``MetastoreCorrupt`` if it is no
    InfluxDB metastore."""
    try:
        data = _only_bytes(meta_bytes, 1, "the meta file's Data")
        return _metastore(data)
    except _Malformed as error:
        raise MetastoreCorrupt(
            f"{location}: the meta file does not parse as an InfluxDB metastore ({error}); "
            "influxd restore cannot recreate the databases from it: request a new backup"
        ) from None


def _metastore(data: bytes) -> Metastore:
    databases: list[str] = []
    shards: list[MetaShard] = []
    for number, value in fields(data):
        if number != 5:
            continue
        database_fields = list(fields(_as_bytes(value, "a database")))
        database = _name(database_fields, "a database")
        databases.append(database)
        for policy_bytes in _repeated(database_fields, 3, f"database {database!r}"):
            policy_fields = list(fields(policy_bytes))
            policy = _name(policy_fields, f"a retention policy of {database!r}")
            where = f"{database}.{policy}"
            for group_bytes in _repeated(policy_fields, 5, where):
                shards.extend(_group_shards(group_bytes, database, policy))
    return Metastore(databases=tuple(databases), shards=tuple(shards))


def _group_shards(group_bytes: bytes, database: str, policy: str) -> Iterator[MetaShard]:
    group_fields = list(fields(group_bytes))
    where = f"a shard group of {database}.{policy}"
    group_id = _varint_field(group_fields, 1, where)
    start, end = _varint_field(group_fields, 2, where), _varint_field(group_fields, 3, where)
    deleted_at = _varint_field(group_fields, 4, where, default=0)
    for shard_bytes in _repeated(group_fields, 5, f"shard group {group_id}"):
        shard_id = _varint_field(list(fields(shard_bytes)), 1, f"a shard of group {group_id}")
        yield MetaShard(
            database=database,
            policy=policy,
            shard_id=shard_id,
            group_id=group_id,
            start_ns=_signed(start),
            end_ns=_signed(end),
            deleted=deleted_at != 0,
        )


def fields(message: bytes) -> Iterator[Field]:
    """The fields of one protobuf message, in order; groups (wire types 3, 4) are refused."""
    position, end = 0, len(message)
    while position < end:
        tag, position = _varint(message, position)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise _Malformed(f"field number 0 at byte {position}")
        if wire_type == _VARINT:
            value, position = _varint(message, position)
            yield number, value
        elif wire_type == _BYTES:
            length, position = _varint(message, position)
            if position + length > end:
                raise _Malformed(f"field {number} runs {length} bytes past the end")
            yield number, message[position : position + length]
            position += length
        elif wire_type in (_FIXED64, _FIXED32):
            size = 8 if wire_type == _FIXED64 else 4
            if position + size > end:
                raise _Malformed(f"field {number} runs past the end")
            yield number, int.from_bytes(message[position : position + size], "little")
            position += size
        else:
            raise _Malformed(f"unsupported wire type {wire_type} at byte {position}")


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    for index in range(position, min(len(data), position + 10)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index + 1
        shift += 7
    raise _Malformed(f"a varint at byte {position} is cut short")


def _only_bytes(message: bytes, number: int, what: str) -> bytes:
    found = [value for n, value in fields(message) if n == number]
    if len(found) != 1:
        raise _Malformed(f"{what} (field {number}) appears {len(found)} times")
    return _as_bytes(found[0], what)


def _as_bytes(value: int | bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise _Malformed(f"{what} is a number, expected a message")
    return value


def _repeated(message_fields: list[Field], number: int, where: str) -> Iterator[bytes]:
    for n, value in message_fields:
        if n == number:
            yield _as_bytes(value, f"field {number} of {where}")


def _name(message_fields: list[Field], what: str) -> str:
    names = [value for n, value in message_fields if n == 1]
    if len(names) != 1 or not isinstance(names[0], bytes) or not names[0]:
        raise _Malformed(f"{what} has no name")
    try:
        return names[0].decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Malformed(f"{what} has a name that is not UTF-8") from error


def _varint_field(
    message_fields: list[Field], number: int, where: str, *, default: int | None = None
) -> int:
    values = [value for n, value in message_fields if n == number]
    if not values:
        if default is None:
            raise _Malformed(f"{where} lacks its required field {number}")
        return default
    value = values[-1]  # protobuf: the last occurrence of a scalar wins
    if not isinstance(value, int):
        raise _Malformed(f"field {number} of {where} is not a number")
    return value


def _signed(value: int) -> int:
    """An int64 sent as a varint (two's complement in 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value
