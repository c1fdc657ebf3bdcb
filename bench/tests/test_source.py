"""The https source honours validators as a download host does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.source import SourceServer, strong_etag
from bench.tls import Certificates


@pytest.fixture
def served(tmp_path: Path, certificates: Certificates) -> Iterator[tuple[str, Path, httpx.Client]]:
    path = tmp_path / "file.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with (
        SourceServer(
            path,
            honour_range=True,
            send_length=True,
            tls_cert=certificates.server_cert,
            tls_key=certificates.server_key,
        ) as source,
        httpx.Client(verify=certificates.client_context()) as client,
    ):
        yield source.url, path, client


def test_a_range_with_a_matching_if_range_is_served(
    served: tuple[str, Path, httpx.Client],
) -> None:
    url, path, client = served

    answer = client.get(url, headers={"Range": "bytes=10-19", "If-Range": strong_etag(path)})

    assert answer.status_code == 206
    assert answer.content == path.read_bytes()[10:20]
    assert answer.headers["ETag"] == strong_etag(path)
    assert "Last-Modified" in answer.headers


def test_a_range_whose_if_range_does_not_match_gets_the_whole_file(
    served: tuple[str, Path, httpx.Client],
) -> None:
    url, path, client = served

    answer = client.get(url, headers={"Range": "bytes=10-19", "If-Range": '"another"'})

    assert answer.status_code == 200
    assert answer.content == path.read_bytes()


def test_a_failed_if_match_is_refused(served: tuple[str, Path, httpx.Client]) -> None:
    url, _, client = served

    assert client.get(url, headers={"If-Match": '"another"'}).status_code == 412
