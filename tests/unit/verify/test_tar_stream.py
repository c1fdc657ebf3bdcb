"""The tar inside a shard file, read from its decompressed chunks: the same members and bodies as
``tarfile`` finds, however the chunks fall, and every way the stream can be cut named."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator

import pytest

from aiven_backup.verify.tar_stream import TarStream, TarStreamDamaged

LONG_NAME = "db/autogen/1/" + "x" * 150 + ".tsm"


class Chunks:
    """``data`` handed out in chunks of the given sizes, cycled."""

    def __init__(self, data: bytes, sizes: tuple[int, ...]) -> None:
        self._data = memoryview(data)
        self._sizes = sizes
        self._next = 0

    def next_chunk(self) -> memoryview:
        size = self._sizes[self._next % len(self._sizes)]
        self._next += 1
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk


def _tar(members: dict[str, bytes], tar_format: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tar_format) as archive:
        for name, body in members.items():
            if name.endswith("/"):
                info = tarfile.TarInfo(name.rstrip("/"))
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return out.getvalue()


def _read_all(stream: TarStream) -> Iterator[tuple[str, bytes | None]]:
    for member in stream.members():
        yield member.name, b"".join(stream.body()) if member.isfile() else None


MEMBERS = {
    "db/": b"",
    "db/autogen/1/": b"",
    "db/autogen/1/000000001-000000001.tsm": bytes(range(256)) * 40,
    "db/autogen/1/empty.tombstone": b"",
    LONG_NAME: b"a long name's body",
    "db/autogen/1/odd": b"1234567",
}
EXPECTED = [
    ("db", None),
    ("db/autogen/1", None),
    ("db/autogen/1/000000001-000000001.tsm", bytes(range(256)) * 40),
    ("db/autogen/1/empty.tombstone", b""),
    (LONG_NAME, b"a long name's body"),
    ("db/autogen/1/odd", b"1234567"),
]


@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
@pytest.mark.parametrize("sizes", [(1,), (7, 511), (512,), (513, 3), (1 << 20,)])
def test_members_and_bodies_are_what_tarfile_wrote_however_the_chunks_fall(
    tar_format: int, sizes: tuple[int, ...]
) -> None:
    data = _tar(MEMBERS, tar_format)

    found = list(_read_all(TarStream(Chunks(data, sizes))))

    assert found == EXPECTED


def test_a_body_not_read_is_skipped() -> None:
    stream = TarStream(Chunks(_tar(MEMBERS), (100,)))

    names = [member.name for member in stream.members()]

    assert names == [name for name, _ in EXPECTED]


def test_the_stream_may_end_between_members_without_the_end_of_archive_blocks() -> None:
    data = _tar({"db/autogen/1/a": b"abc"})
    whole_member = 512 + 512

    found = list(_read_all(TarStream(Chunks(data[:whole_member], (300,)))))

    assert found == [("db/autogen/1/a", b"abc")]


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (100, r"it ends inside the header at byte 0$"),
        (512 + 600, r"it ends at byte 1112, inside 'db/autogen/1/a'"),
        (512 + 1024 + 100, r"it ends inside the header at byte 1536 \(after 'db/autogen/1/a'\)"),
    ],
)
def test_a_stream_cut_inside_a_member_is_damaged_naming_where(cut: int, message: str) -> None:
    data = _tar({"db/autogen/1/a": bytes(1000), "db/autogen/1/b": b"b"}, tarfile.USTAR_FORMAT)

    with pytest.raises(TarStreamDamaged, match=message):
        list(_read_all(TarStream(Chunks(data[:cut], (64,)))))


def test_a_stream_cut_inside_a_pax_record_is_damaged() -> None:
    data = _tar({LONG_NAME: b"x"})

    with pytest.raises(TarStreamDamaged, match="it ends inside the extended header at byte 0"):
        list(_read_all(TarStream(Chunks(data[:600], (64,)))))


def test_a_header_with_a_wrong_checksum_is_damaged() -> None:
    data = bytearray(_tar({"db/autogen/1/a": b"abc"}, tarfile.USTAR_FORMAT))
    data[148:156] = b"9999999\0"

    with pytest.raises(
        TarStreamDamaged, match=r"the header at byte 0 is not valid \(invalid header\)"
    ):
        list(_read_all(TarStream(Chunks(bytes(data), (512,)))))


def test_an_unreadable_pax_record_is_damaged() -> None:
    data = bytearray(_tar({LONG_NAME: b"x"}))
    data[512:520] = b"garbage!"  # the pax record's length and key

    with pytest.raises(TarStreamDamaged, match="the pax header at byte 0 is unreadable"):
        list(_read_all(TarStream(Chunks(bytes(data), (512,)))))
