"""The simulator's backup host: when it serves, how (Range, length, HEAD), and its faults."""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Iterator

import httpx
import pytest

from aiven_backup.aiven import AivenClient
from local_runner.aiven_simulator import AivenSimulator, SimulatedService
from tests.support.aiven import PROJECT, SERVICE

BACKUP = bytes(range(256)) * 40  # 10 KiB, every offset distinguishable


@pytest.fixture
def svc(sim: AivenSimulator) -> SimulatedService:
    return sim.add_service(PROJECT, SERVICE, backup=BACKUP)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def url_for(sim: AivenSimulator, name: str) -> str:
    return f"{sim.backup_uri(PROJECT, SERVICE)}/{name}.tar"


def finished_backup(client: AivenClient, name: str = "b1") -> str:
    task = client.create_user_backup(PROJECT, SERVICE, name)
    assert client.get_task(PROJECT, SERVICE, task.task_id).succeeded
    return name


def test_serves_the_backup_only_after_its_task_succeeded(
    sim: AivenSimulator, client: AivenClient, svc: SimulatedService, http: httpx.Client
) -> None:
    svc.polls_until_done = 2
    task = client.create_user_backup(PROJECT, SERVICE, "b1")
    before = http.get(url_for(sim, "b1"))
    client.get_task(PROJECT, SERVICE, task.task_id)
    still_running = http.get(url_for(sim, "b1"))
    client.get_task(PROJECT, SERVICE, task.task_id)
    after = http.get(url_for(sim, "b1"))

    assert (before.status_code, still_running.status_code, after.status_code) == (404, 404, 200)
    assert after.content == BACKUP
    assert after.headers["Content-Length"] == str(len(BACKUP))
    assert after.headers["Accept-Ranges"] == "bytes"


def test_polls_until_done_zero_finishes_in_the_create_answer(
    sim: AivenSimulator, client: AivenClient, svc: SimulatedService, http: httpx.Client
) -> None:
    svc.polls_until_done = 0

    task = client.create_user_backup(PROJECT, SERVICE, "b1")

    assert task.succeeded
    assert http.get(url_for(sim, "b1")).status_code == 200


def test_seconds_until_done_keeps_the_task_running(
    sim: AivenSimulator, client: AivenClient, svc: SimulatedService
) -> None:
    svc.seconds_until_done = 3600

    task = client.create_user_backup(PROJECT, SERVICE, "b1")
    polled = [client.get_task(PROJECT, SERVICE, task.task_id) for _ in range(3)]

    assert [p.success for p in polled] == [None, None, None]


def test_a_failed_task_never_serves_a_backup(
    sim: AivenSimulator, client: AivenClient, svc: SimulatedService, http: httpx.Client
) -> None:
    svc.task_outcome = "failure"
    task = client.create_user_backup(PROJECT, SERVICE, "b1")

    assert client.get_task(PROJECT, SERVICE, task.task_id).success is False
    assert http.get(url_for(sim, "b1")).status_code == 404


def test_a_newer_backup_replaces_the_previous_one(
    sim: AivenSimulator, client: AivenClient, svc: SimulatedService, http: httpx.Client
) -> None:
    finished_backup(client, "b1")
    assert http.get(url_for(sim, "b1")).status_code == 200

    finished_backup(client, "b2")

    assert http.get(url_for(sim, "b1")).status_code == 404
    assert http.get(url_for(sim, "b2")).status_code == 200


def test_a_second_request_while_one_runs_supersedes_it(
    sim: AivenSimulator, client: AivenClient, svc: SimulatedService, http: httpx.Client
) -> None:
    svc.polls_until_done = 2
    first = client.create_user_backup(PROJECT, SERVICE, "b1")
    second = client.create_user_backup(PROJECT, SERVICE, "b2")

    first_state = client.get_task(PROJECT, SERVICE, first.task_id)
    client.get_task(PROJECT, SERVICE, second.task_id)
    second_state = client.get_task(PROJECT, SERVICE, second.task_id)

    assert (first_state.finished, first_state.succeeded) == (True, False)
    assert "replaced by a newer" in first_state.result
    assert second_state.succeeded
    assert http.get(url_for(sim, "b1")).status_code == 404
    assert http.get(url_for(sim, "b2")).content == BACKUP


def test_an_existing_backup_is_served_without_any_task(
    sim: AivenSimulator, http: httpx.Client
) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="made-by-hand")

    response = http.get(url_for(sim, "made-by-hand"))

    assert response.content == BACKUP
    assert sim.requests == []


def test_basic_auth_is_enforced(sim: AivenSimulator, svc: SimulatedService) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")
    bare = f"http://127.0.0.1:{sim.port}/backups/{PROJECT}/{SERVICE}/b1.tar"

    without = httpx.get(bare)
    wrong = httpx.get(bare, auth=("avnadmin", "wrong"))

    assert (without.status_code, wrong.status_code) == (401, 401)
    assert without.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=10-19", 10, 19), ("bytes=10000-", 10000, 10239), ("bytes=-5", 10235, 10239)],
)
def test_ranges_are_honoured(
    sim: AivenSimulator, http: httpx.Client, header: str, start: int, end: int
) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")

    response = http.get(url_for(sim, "b1"), headers={"Range": header})

    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(BACKUP)}"
    assert response.content == BACKUP[start : end + 1]


def test_a_range_past_the_end_is_416(sim: AivenSimulator, http: httpx.Client) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")

    response = http.get(url_for(sim, "b1"), headers={"Range": f"bytes={len(BACKUP)}-"})

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(BACKUP)}"


def test_ranges_switched_off_send_the_whole_body(sim: AivenSimulator, http: httpx.Client) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")
    sim.download.ranges = False

    response = http.get(url_for(sim, "b1"), headers={"Range": "bytes=0-0"})

    assert response.status_code == 200
    assert "Accept-Ranges" not in response.headers
    assert response.content == BACKUP


def test_content_length_switched_off_streams_chunked(
    sim: AivenSimulator, http: httpx.Client
) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")
    sim.download.content_length = False

    full = http.get(url_for(sim, "b1"))
    ranged = http.get(url_for(sim, "b1"), headers={"Range": "bytes=5-9"})

    assert "Content-Length" not in full.headers
    assert full.headers["Transfer-Encoding"] == "chunked"
    assert full.content == BACKUP
    assert ranged.content == BACKUP[5:10]


def test_head_answers_headers_or_403_when_switched_off(
    sim: AivenSimulator, http: httpx.Client
) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")

    allowed = http.head(url_for(sim, "b1"))
    sim.download.head = False
    refused = http.head(url_for(sim, "b1"))

    assert allowed.status_code == 200
    assert allowed.headers["Content-Length"] == str(len(BACKUP))
    assert refused.status_code == 403


def test_a_large_backup_streams_intact(sim: AivenSimulator, http: httpx.Client) -> None:
    big = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)  # ~3 MiB, odd size
    sim.add_service(PROJECT, SERVICE, backup=big, existing_backup_name="big")
    digest = hashlib.sha256()

    with http.stream("GET", url_for(sim, "big")) as response:
        for piece in response.iter_raw():
            digest.update(piece)

    assert digest.digest() == hashlib.sha256(big).digest()


def test_drop_download_after_resets_mid_body_once(sim: AivenSimulator, http: httpx.Client) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")
    sim.faults.drop_download_after(1000)
    received = bytearray()

    with http.stream("GET", url_for(sim, "b1")) as response:
        announced = int(response.headers["Content-Length"])
        with pytest.raises(httpx.TransportError):
            read_into(response, received)

    assert announced == len(BACKUP)

    assert bytes(received) == BACKUP[: len(received)]
    assert len(received) <= 1000
    assert http.get(url_for(sim, "b1")).content == BACKUP  # fired once only


def test_truncate_download_announces_full_length_and_sends_less(sim: AivenSimulator) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")
    sim.faults.truncate_download(4096)

    head, body = raw_get(sim, "/backups/acme/metrics-influx/b1.tar", svc_auth(sim))

    assert f"Content-Length: {len(BACKUP)}" in head
    assert body == BACKUP[:4096]


def test_wrong_content_length_is_announced(sim: AivenSimulator) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")
    sim.faults.wrong_content_length(len(BACKUP) + 100)

    head, body = raw_get(sim, "/backups/acme/metrics-influx/b1.tar", svc_auth(sim))

    assert f"Content-Length: {len(BACKUP) + 100}" in head
    assert body == BACKUP


def test_download_status_faults_then_recovers(sim: AivenSimulator, http: httpx.Client) -> None:
    sim.add_service(PROJECT, SERVICE, backup=BACKUP, existing_backup_name="b1")
    sim.faults.download_status(503, count=2)

    statuses = [http.get(url_for(sim, "b1")).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_trickle_still_delivers_every_byte(sim: AivenSimulator, http: httpx.Client) -> None:
    small = b"0123456789" * 20
    sim.add_service(PROJECT, SERVICE, backup=small, existing_backup_name="b1")
    sim.faults.trickle(2000.0)
    pieces: list[bytes] = []

    with http.stream("GET", url_for(sim, "b1")) as response:
        pieces.extend(response.iter_raw())

    assert b"".join(pieces) == small
    assert len(pieces) > 1  # it arrived in several writes


def test_the_public_hostname_reaches_the_server_through_the_transport(
    sim: AivenSimulator,
) -> None:
    sim.add_service(PROJECT, SERVICE, vpc=True, backup=BACKUP, existing_backup_name="b1")
    url = url_for(sim, "b1").replace("@127.0.0.1:", "@public-127.0.0.1:")

    with httpx.Client(transport=sim.download_transport()) as http:
        response = http.get(url)

    assert response.content == BACKUP
    assert sim.download_requests[-1] == ("GET", f"/backups/{PROJECT}/{SERVICE}/b1.tar", None)


def read_into(response: httpx.Response, sink: bytearray) -> None:
    for piece in response.iter_raw():
        sink.extend(piece)


def svc_auth(sim: AivenSimulator) -> str:
    svc = sim.service(PROJECT, SERVICE)
    return "Basic " + base64.b64encode(f"{svc.user}:{svc.password}".encode()).decode()


def raw_get(sim: AivenSimulator, path: str, authorization: str) -> tuple[str, bytes]:
    """A plain-socket GET, to see exactly what the server sent before closing."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as conn:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\n"
            f"Authorization: {authorization}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(request.encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body
