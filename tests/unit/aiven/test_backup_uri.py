"""Download URL resolution from hand-built services: precedence, rewriting, encoding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from aiven_backup.aiven import Service, effective_route, resolve_backup_url
from aiven_backup.errors import BackupUriNotFound, InvalidBackupName, InvalidExecutionInput
from aiven_backup.redaction import redact

URI = "https://avnadmin:p%40ss@my-influx-myproj.aivencloud.com:12345"


def make_service(
    *,
    vpc: bool = False,
    public: bool = False,
    connection_info: Mapping[str, Any] | None = None,
    service_uri_params: Mapping[str, Any] | None = None,
    components: tuple[Mapping[str, Any], ...] = (),
) -> Service:
    return Service(
        project="myproj",
        name="my-influx",
        service_type="influxdb",
        state="RUNNING",
        project_vpc_id="vpc-1" if vpc else None,
        user_config={"public_access": {"user_backup": public}},
        connection_info=connection_info or {},
        service_uri_params=service_uri_params or {},
        components=components,
    )


def component(host: str, route: str, **extra: Any) -> dict[str, Any]:
    return {"component": "user_backup", "host": host, "port": 12345, "route": route, **extra}


def test_connection_info_uri_plus_encoded_name() -> None:
    service = make_service(connection_info={"user_backup_uri": URI})

    url = resolve_backup_url(service, "influx-2026-11-23T0300Z", "auto")

    assert url == f"{URI}/influx-2026-11-23T0300Z.tar"


def test_the_name_is_percent_encoded() -> None:
    service = make_service(connection_info={"user_backup_uri": URI})

    assert resolve_backup_url(service, "a:b+c", "auto").endswith("/a%3Ab%2Bc.tar")


@pytest.mark.parametrize("uri", [f"{URI}/", f"{URI}/backups/", f"{URI}/backups"])
def test_no_double_slash_whatever_the_uri_ends_with(uri: str) -> None:
    service = make_service(connection_info={"user_backup_uri": uri})

    url = resolve_backup_url(service, "b", "auto")

    assert url.removeprefix("https://").count("//") == 0
    assert url.endswith("/b.tar")


def test_public_prefixes_the_hostname_not_the_url_and_keeps_userinfo_and_port() -> None:
    service = make_service(vpc=True, public=True, connection_info={"user_backup_uri": URI})

    url = resolve_backup_url(service, "b", "public")

    assert url == "https://avnadmin:p%40ss@public-my-influx-myproj.aivencloud.com:12345/b.tar"


def test_an_already_public_host_is_not_prefixed_twice() -> None:
    uri = "https://u:p@public-my-influx.aivencloud.com:1"
    service = make_service(vpc=True, public=True, connection_info={"user_backup_uri": uri})

    assert "//u:p@public-my-influx.aivencloud.com:1/" in resolve_backup_url(service, "b", "auto")


def test_a_component_with_the_wanted_route_wins_over_rewriting() -> None:
    service = make_service(
        vpc=True,
        public=True,
        connection_info={"user_backup_uri": URI},
        components=(
            component("my-influx-myproj.aivencloud.com", "dynamic"),
            component("pub-lb.aivencloud.com", "public", path="/store"),
        ),
    )

    url = resolve_backup_url(service, "b", "public")

    assert url == "https://avnadmin:p%40ss@pub-lb.aivencloud.com:12345/store/b.tar"


def test_private_uses_the_uri_as_given_unless_a_private_component_exists() -> None:
    plain = make_service(vpc=True, connection_info={"user_backup_uri": URI})
    with_component = make_service(
        vpc=True,
        connection_info={"user_backup_uri": URI},
        components=(component("private-lb.aivencloud.com", "private"),),
    )

    assert resolve_backup_url(plain, "b", "private") == f"{URI}/b.tar"
    assert "@private-lb.aivencloud.com:12345/" in resolve_backup_url(with_component, "b", "private")


def test_privatelink_needs_a_component() -> None:
    without = make_service(connection_info={"user_backup_uri": URI})
    with_component = make_service(
        connection_info={"user_backup_uri": URI},
        components=(component("privatelink-1-x.aivencloud.com", "privatelink"),),
    )

    with pytest.raises(BackupUriNotFound, match="privatelink"):
        resolve_backup_url(without, "b", "privatelink")
    assert "@privatelink-1-x.aivencloud.com:12345/" in resolve_backup_url(
        with_component, "b", "privatelink"
    )


def test_connection_info_may_hold_a_list() -> None:
    service = make_service(connection_info={"user_backup_uri": ["", URI]})

    assert resolve_backup_url(service, "b", "auto") == f"{URI}/b.tar"


@pytest.mark.parametrize(
    "params",
    [
        {"user_backup_uri": URI},
        {"user_backup": URI},
        {
            "user_backup": {
                "host": "my-influx-myproj.aivencloud.com",
                "port": 12345,
                "user": "avnadmin",
                "password": "p@ss",
            }
        },
        {
            "user_backup_host": "my-influx-myproj.aivencloud.com",
            "user_backup_port": "12345",
            "user_backup_user": "avnadmin",
            "user_backup_password": "p@ss",
        },
    ],
)
def test_service_uri_params_forms(params: dict[str, Any]) -> None:
    service = make_service(service_uri_params={"host": "influx-api.example", **params})

    assert resolve_backup_url(service, "b", "auto") == f"{URI}/b.tar"


def test_the_influxdb_endpoint_in_service_uri_params_is_not_taken_for_the_backup_host() -> None:
    service = make_service(service_uri_params={"host": "influx-api.example", "port": "443"})

    with pytest.raises(BackupUriNotFound, match="no user_backup_uri"):
        resolve_backup_url(service, "b", "auto")


def test_components_alone_borrow_no_credentials_and_prefer_the_dynamic_entry() -> None:
    service = make_service(
        components=(
            {"component": "influxdb", "host": "api.example", "port": 1, "route": "dynamic"},
            component("other.aivencloud.com", "private"),
            component("my-influx-myproj.aivencloud.com", "dynamic"),
        ),
    )

    url = resolve_backup_url(service, "b", "auto")

    assert url == "https://my-influx-myproj.aivencloud.com:12345/b.tar"


def test_components_take_credentials_from_the_given_uri() -> None:
    service = make_service(
        vpc=True,
        public=True,
        service_uri_params={"user_backup_uri": URI},
        components=(component("public-x.aivencloud.com", "public"),),
    )

    assert resolve_backup_url(service, "b", "auto").startswith(
        "https://avnadmin:p%40ss@public-x.aivencloud.com:12345/"
    )


def test_an_ipv6_host_keeps_its_brackets() -> None:
    service = make_service(connection_info={"user_backup_uri": "https://u:p@[fd00::1]:443/x"})

    assert resolve_backup_url(service, "b", "auto") == "https://u:p@[fd00::1]:443/x/b.tar"


def test_nothing_to_find_is_backup_uri_not_found_naming_the_service() -> None:
    with pytest.raises(BackupUriNotFound, match="'myproj/my-influx'"):
        resolve_backup_url(make_service(), "b", "auto")


def test_a_redacted_password_is_refused_with_a_reason() -> None:
    service = make_service(
        connection_info={"user_backup_uri": "https://avnadmin:<redacted>@h.aivencloud.com:1"}
    )

    with pytest.raises(BackupUriNotFound, match="redacted"):
        resolve_backup_url(service, "b", "auto")


def test_a_malformed_uri_is_refused_without_showing_it() -> None:
    service = make_service(connection_info={"user_backup_uri": "https://u:hush@h:notaport"})

    with pytest.raises(BackupUriNotFound) as caught:
        resolve_backup_url(service, "b", "auto")

    assert "hush" not in str(caught.value)


def test_the_password_is_registered_for_redaction() -> None:
    uri = "https://avnadmin:only-in-this-test-9f3@h.aivencloud.com:1"
    service = make_service(connection_info={"user_backup_uri": uri})

    resolve_backup_url(service, "b", "auto")

    assert redact("leaked only-in-this-test-9f3 here") == "leaked *** here"


def test_the_name_is_validated_first() -> None:
    with pytest.raises(InvalidBackupName):
        resolve_backup_url(make_service(connection_info={"user_backup_uri": URI}), "a b", "auto")


@pytest.mark.parametrize(
    ("route", "vpc", "public", "expected"),
    [
        ("auto", False, False, "dynamic"),
        ("auto", False, True, "dynamic"),
        ("auto", True, False, "dynamic"),
        ("auto", True, True, "public"),
        ("public", False, False, "dynamic"),
        ("public", True, False, "public"),
        ("private", True, True, "private"),
        ("privatelink", False, False, "privatelink"),
    ],
)
def test_effective_route(route: str, vpc: bool, public: bool, expected: str) -> None:
    assert effective_route(make_service(vpc=vpc, public=public), route) == expected


def test_an_unknown_route_names_the_field() -> None:
    with pytest.raises(InvalidExecutionInput, match="access_route"):
        effective_route(make_service(), "vpn")
