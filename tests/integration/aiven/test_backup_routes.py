"""The download URL for every route x VPC x URI location, fetched over real HTTP.

The simulator's download host answers only on the host names a service really exposes for a
route (``127.0.0.1`` as given, ``public-127.0.0.1`` for public access of a VPC service,
``privatelink-1-127.0.0.1``), with the service's basic-auth credentials, and only for the name
of a finished backup. So a 200 with the backup's bytes proves the resolved URL right.
"""

from __future__ import annotations

import httpx
import pytest

from aiven_backup.aiven import AccessRoute, AivenClient, Service, preflight, resolve_backup_url
from aiven_backup.download_guard import check_download_url
from aiven_backup.errors import AccessRouteNotEnabled, BackupUriNotFound, DownloadUrlRejected
from local_runner.aiven_simulator import AivenSimulator, UriLocation
from tests.support.aiven import PROJECT, SERVICE

BACKUP = b"portable-backup-bytes " * 100
BACKUP_NAME = "nightly:2026-11-23+v1"
ENCODED_NAME = "nightly%3A2026-11-23%2Bv1"
ALL_ROUTES = {"public": True, "private": True, "privatelink": True}
LOOPBACK_NAMES = ["127.0.0.1", "public-127.0.0.1", "privatelink-1-127.0.0.1"]
LOCATIONS: list[UriLocation] = ["connection_info", "service_uri_params", "components"]

# (route, vpc) -> host name the URL must use; None: no URL can be derived without a component.
EXPECTED_HOST = {
    ("auto", False): "127.0.0.1",
    ("public", False): "127.0.0.1",
    ("private", False): "127.0.0.1",
    ("privatelink", False): "privatelink-1-127.0.0.1",
    ("auto", True): "public-127.0.0.1",
    ("public", True): "public-127.0.0.1",
    ("private", True): "127.0.0.1",
    ("privatelink", True): "privatelink-1-127.0.0.1",
}


def fetch(sim: AivenSimulator, url: str) -> httpx.Response:
    check_download_url(url, LOOPBACK_NAMES, allow_insecure=True)
    with httpx.Client(transport=sim.download_transport()) as http:
        return http.get(url)


def make_backup(sim: AivenSimulator, client: AivenClient) -> None:
    task = client.create_user_backup(PROJECT, SERVICE, BACKUP_NAME)
    assert client.get_task(PROJECT, SERVICE, task.task_id).succeeded


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("vpc", [False, True], ids=["internet", "vpc"])
@pytest.mark.parametrize("route", ["auto", "public", "private", "privatelink"])
def test_resolved_url_serves_the_backup(
    sim: AivenSimulator, client: AivenClient, route: AccessRoute, vpc: bool, location: UriLocation
) -> None:
    svc = sim.add_service(
        PROJECT, SERVICE, vpc=vpc, routes=ALL_ROUTES, uri_location=location, backup=BACKUP
    )
    service = client.get_service(PROJECT, SERVICE)
    preflight(service, route)
    make_backup(sim, client)
    host = EXPECTED_HOST[(route, vpc)]

    if route == "privatelink" and location != "components":
        with pytest.raises(BackupUriNotFound, match="privatelink"):
            resolve_backup_url(service, BACKUP_NAME, route)
        return
    url = resolve_backup_url(service, BACKUP_NAME, route)
    response = fetch(sim, url)

    expected = (
        f"http://avnadmin:{svc.password}@{host}:{sim.port}"
        f"/backups/{PROJECT}/{SERVICE}/{ENCODED_NAME}.tar"
    )
    assert url == expected
    assert response.status_code == 200
    assert response.content == BACKUP


@pytest.mark.parametrize("location", LOCATIONS)
def test_auto_on_a_vpc_service_without_public_access_uses_the_uri_as_given(
    sim: AivenSimulator, client: AivenClient, location: UriLocation
) -> None:
    svc = sim.add_service(
        PROJECT,
        SERVICE,
        vpc=True,
        routes={"public": False},
        uri_location=location,
        backup=BACKUP,
    )
    service = client.get_service(PROJECT, SERVICE)
    preflight(service, "auto")
    make_backup(sim, client)

    url = resolve_backup_url(service, BACKUP_NAME, "auto")

    assert url.startswith(f"http://avnadmin:{svc.password}@127.0.0.1:{sim.port}/")
    assert fetch(sim, url).content == BACKUP


def test_the_public_host_is_refused_when_public_access_is_off(
    sim: AivenSimulator, client: AivenClient
) -> None:
    """The check is real: a rewritten host the service does not expose is not served."""
    sim.add_service(PROJECT, SERVICE, vpc=True, routes={"public": False}, backup=BACKUP)
    service = client.get_service(PROJECT, SERVICE)
    make_backup(sim, client)

    url = resolve_backup_url(service, BACKUP_NAME, "public")

    assert "@public-127.0.0.1:" in url
    assert fetch(sim, url).status_code == 404


@pytest.mark.parametrize(
    ("route", "vpc", "routes", "setting"),
    [
        ("public", True, {"public": False}, "public_access.user_backup"),
        ("private", False, {"private": False}, "private_access.user_backup"),
        ("private", True, {"private": False}, "private_access.user_backup"),
        ("privatelink", True, {"privatelink": False}, "privatelink_access.user_backup"),
    ],
)
def test_preflight_names_the_setting_of_a_disabled_route(
    sim: AivenSimulator,
    client: AivenClient,
    *,
    route: AccessRoute,
    vpc: bool,
    routes: dict[str, bool],
    setting: str,
) -> None:
    sim.add_service(PROJECT, SERVICE, vpc=vpc, routes=routes)
    service = client.get_service(PROJECT, SERVICE)

    with pytest.raises(AccessRouteNotEnabled) as caught:
        preflight(service, route)

    assert setting in str(caught.value)
    assert f"'{PROJECT}/{SERVICE}'" in str(caught.value)


def test_without_include_secrets_the_password_would_be_redacted(
    sim: AivenSimulator, client: AivenClient
) -> None:
    """The client asks for secrets; a redacted URI is refused with a reason, not downloaded."""
    sim.add_service(PROJECT, SERVICE)
    with httpx.Client(base_url=sim.base_url) as http:
        body = http.get(
            f"/v1/project/{PROJECT}/service/{SERVICE}",
            headers={"Authorization": f"aivenv1 {sim.token}"},
        ).json()
    service = Service.from_api(PROJECT, body["service"])

    with pytest.raises(BackupUriNotFound, match="redacted"):
        resolve_backup_url(service, BACKUP_NAME, "auto")


def test_the_guard_refuses_the_simulators_url_until_loopback_is_allowed_explicitly(
    sim: AivenSimulator, client: AivenClient
) -> None:
    svc = sim.add_service(PROJECT, SERVICE, backup=BACKUP)
    make_backup(sim, client)
    url = resolve_backup_url(client.get_service(PROJECT, SERVICE), BACKUP_NAME, "auto")

    with pytest.raises(DownloadUrlRejected, match=r"'127\.0\.0\.1'") as by_default:
        check_download_url(url, allow_insecure=True)
    with pytest.raises(DownloadUrlRejected, match="'http'") as insecure:
        check_download_url(url, ["127.0.0.1"])
    check_download_url(url, ["127.0.0.1"], allow_insecure=True)

    for caught in (by_default, insecure):
        assert svc.password not in str(caught.value)
        assert f"avnadmin:***@127.0.0.1:{sim.port}" in str(caught.value)
    assert sim.download_requests == []
