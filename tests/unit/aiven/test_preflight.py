"""Preflight refuses, with an actionable message, what cannot be backed up."""

from __future__ import annotations

from typing import Any

import pytest

from aiven_backup.aiven import ACCESS_ROUTES, AccessRoute, Service, preflight
from aiven_backup.errors import AccessRouteNotEnabled, ServiceNotInfluxDB, ServiceNotRunning


def make_service(**changes: Any) -> Service:
    fields: dict[str, Any] = {
        "project": "acme",
        "name": "metrics",
        "service_type": "influxdb",
        "state": "RUNNING",
        "project_vpc_id": None,
        "user_config": {},
        "connection_info": {},
        "service_uri_params": {},
        "components": (),
    }
    fields.update(changes)
    return Service(**fields)


def test_a_running_influxdb_reached_as_given_passes() -> None:
    preflight(make_service(), "auto")
    preflight(make_service(), "public")


def test_another_service_type_is_refused() -> None:
    with pytest.raises(ServiceNotInfluxDB) as caught:
        preflight(make_service(service_type="pg"), "auto")

    assert "'acme/metrics' is a 'pg' service" in str(caught.value)


@pytest.mark.parametrize(
    ("state", "advice"),
    [
        ("POWEROFF", "--power-on metrics"),
        ("REBUILDING", "Wait until Aiven reports it RUNNING"),
        ("REBALANCING", "Wait until Aiven reports it RUNNING"),
        ("SOMETHING_NEW", "Wait until Aiven reports it RUNNING"),
    ],
)
def test_a_service_that_is_not_running_is_refused_with_what_to_do(state: str, advice: str) -> None:
    with pytest.raises(ServiceNotRunning) as caught:
        preflight(make_service(state=state), "auto")

    assert f"'acme/metrics' is {state}, not RUNNING" in str(caught.value)
    assert advice in str(caught.value)


def test_a_powered_off_service_mentions_influxdb_end_of_life() -> None:
    with pytest.raises(ServiceNotRunning, match="end of life on 2025-04-30"):
        preflight(make_service(state="POWEROFF"), "auto")


@pytest.mark.parametrize(
    ("route", "vpc", "setting"),
    [
        ("public", True, "public_access.user_backup"),
        ("private", False, "private_access.user_backup"),
        ("privatelink", True, "privatelink_access.user_backup"),
    ],
)
def test_a_disabled_route_names_the_setting_to_enable(
    route: AccessRoute, vpc: bool, setting: str
) -> None:
    service = make_service(project_vpc_id="v" if vpc else None)

    with pytest.raises(AccessRouteNotEnabled) as caught:
        preflight(service, route)

    assert f"{setting} is not enabled" in str(caught.value)
    assert f"-c {setting}=true" in str(caught.value)


def test_enabled_routes_pass() -> None:
    config = {
        f"{route}_access": {"user_backup": True} for route in ("public", "private", "privatelink")
    }
    service = make_service(project_vpc_id="v", user_config=config)

    for route in ACCESS_ROUTES:
        preflight(service, route)


def test_checks_run_in_order_type_then_state_then_route() -> None:
    with pytest.raises(ServiceNotInfluxDB):
        preflight(make_service(service_type="pg", state="POWEROFF"), "private")
    with pytest.raises(ServiceNotRunning):
        preflight(make_service(state="POWEROFF"), "private")
