"""The simulator serves many services, each with its own state, faults and backup, and counts
how many are downloading at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from local_runner.aiven_simulator import AivenSimulator
from tests.support.aiven import PROJECT, TOKEN

CREATE = {"task_type": "create_user_backup", "create_user_backup": {"backup_name": "b1"}}


@pytest.fixture
def api(sim: AivenSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": f"aivenv1 {TOKEN}"}) as c:
        yield c


def service_path(name: str) -> str:
    return f"/v1/project/{PROJECT}/service/{name}"


def download(sim: AivenSimulator, name: str) -> httpx.Response:
    uri = sim.backup_uri(PROJECT, name)
    return httpx.get(f"{uri}/b1.tar", timeout=10)


def test_the_service_list_shows_every_service_with_its_own_type_and_state(
    sim: AivenSimulator, api: httpx.Client
) -> None:
    sim.add_service(PROJECT, "influx-a")
    sim.add_service(PROJECT, "influx-b", state="POWEROFF")
    sim.add_service(PROJECT, "pg-main", service_type="pg")

    listed = api.get(f"/v1/project/{PROJECT}/service").json()["services"]

    assert sorted((s["service_name"], s["service_type"], s["state"]) for s in listed) == [
        ("influx-a", "influxdb", "RUNNING"),
        ("influx-b", "influxdb", "POWEROFF"),
        ("pg-main", "pg", "RUNNING"),
    ]


def test_a_fault_of_one_service_leaves_the_others_alone(
    sim: AivenSimulator, api: httpx.Client
) -> None:
    sim.add_service(PROJECT, "stormy")
    sim.add_service(PROJECT, "calm")
    sim.service(PROJECT, "stormy").faults.api_status(429, count=3)

    stormy = [api.get(service_path("stormy")).status_code for _ in range(4)]
    calm = api.get(service_path("calm")).status_code
    listing = api.get(f"/v1/project/{PROJECT}/service").status_code

    assert stormy == [429, 429, 429, 200]
    assert calm == 200
    assert listing == 200


def test_each_service_serves_its_own_backup_with_its_own_download_faults(
    sim: AivenSimulator, api: httpx.Client
) -> None:
    sim.add_service(PROJECT, "one", backup=b"one's bytes", polls_until_done=0)
    sim.add_service(PROJECT, "two", backup=b"two's bytes", polls_until_done=0)
    for name in ("one", "two"):
        assert api.post(f"{service_path(name)}/task", json=CREATE).status_code == 200
    sim.service(PROJECT, "two").faults.download_status(503)

    assert download(sim, "one").content == b"one's bytes"
    assert download(sim, "two").status_code == 503
    assert download(sim, "two").content == b"two's bytes"


def test_a_hold_keeps_matching_calls_waiting_until_released(
    sim: AivenSimulator, api: httpx.Client
) -> None:
    sim.add_service(PROJECT, "held")
    sim.add_service(PROJECT, "free")
    hold = sim.service(PROJECT, "held").faults.api_hold(methods=("GET",))
    answers: list[int] = []
    waiting = threading.Thread(
        target=lambda: answers.append(api.get(service_path("held")).status_code)
    )

    waiting.start()
    assert hold.entered.wait(10)
    free = api.get(service_path("free")).status_code
    still_waiting = waiting.is_alive()
    hold.release()
    waiting.join(10)

    assert free == 200
    assert still_waiting
    assert answers == [200]
    assert api.get(service_path("held")).status_code == 200


def test_in_lockstep_downloads_wait_for_every_backup_in_progress(
    sim: AivenSimulator, api: httpx.Client
) -> None:
    names = [f"svc-{index}" for index in range(3)]
    for name in names:
        sim.add_service(PROJECT, name, polls_until_done=0)
        api.post(f"{service_path(name)}/task", json=CREATE)
    sim.hold_downloads_in_lockstep(timeout=30)

    first = threading.Thread(target=download, args=(sim, names[0]))
    first.start()
    first.join(0.5)
    held = first.is_alive()  # two more backups are in progress: it waits for them
    others = [threading.Thread(target=download, args=(sim, name)) for name in names[1:]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(30)

    assert held
    assert not first.is_alive()
    assert sim.peak_concurrent_downloads == 3
    assert not sim.lockstep_timed_out


def test_a_finished_download_no_longer_holds_the_others(
    sim: AivenSimulator, api: httpx.Client
) -> None:
    for name in ("done-first", "later"):
        sim.add_service(PROJECT, name, polls_until_done=0)
    api.post(f"{service_path('done-first')}/task", json=CREATE)
    sim.hold_downloads_in_lockstep(timeout=30)

    assert download(sim, "done-first").status_code == 200  # alone in progress: not held
    api.post(f"{service_path('later')}/task", json=CREATE)
    assert download(sim, "later").status_code == 200  # done-first finished: not waited for

    assert sim.peak_concurrent_downloads == 1
    assert not sim.lockstep_timed_out


def test_two_downloads_of_one_service_at_once_count_once(
    sim: AivenSimulator, api: httpx.Client
) -> None:
    for name in ("twice", "once"):
        sim.add_service(PROJECT, name, polls_until_done=0)
        api.post(f"{service_path(name)}/task", json=CREATE)
    sim.hold_downloads_in_lockstep(timeout=30)
    uri = sim.backup_uri(PROJECT, "twice")
    probe = {"Range": "bytes=0-0"}  # a probe leaves "twice" in progress

    both = [
        threading.Thread(target=lambda: httpx.get(f"{uri}/b1.tar", headers=probe, timeout=30))
        for _ in range(2)
    ]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(0.5)
    held = [thread.is_alive() for thread in both]  # both in flight, waiting for "once"
    download(sim, "once")
    for thread in both:
        thread.join(30)

    assert held == [True, True]
    assert sim.peak_concurrent_downloads == 2
