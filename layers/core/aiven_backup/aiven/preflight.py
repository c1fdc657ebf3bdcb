"""Can this service be backed up over this route? Checked before any backup is requested."""

from __future__ import annotations

from aiven_backup.aiven.api_errors import INFLUXDB_END_OF_LIFE_NOTE
from aiven_backup.aiven.backup_uri import DYNAMIC_ROUTE, effective_route, route_enabled
from aiven_backup.aiven.models import AccessRoute, Service
from aiven_backup.errors import AccessRouteNotEnabled, ServiceNotInfluxDB, ServiceNotRunning

INFLUXDB = "influxdb"
RUNNING = "RUNNING"

_STATE_ADVICE = {
    "POWEROFF": (
        "Power it on in the Aiven console (or `avn service update --project {project} "
        "--power-on {service}`), wait until it is RUNNING, then start the backup again. "
        + INFLUXDB_END_OF_LIFE_NOTE
    ),
    "REBUILDING": "Wait until Aiven reports it RUNNING again, then start the backup again.",
    "REBALANCING": "Wait until Aiven reports it RUNNING again, then start the backup again.",
}
_DEFAULT_ADVICE = "Wait until Aiven reports it RUNNING, then start the backup again."


def preflight(service: Service, route: AccessRoute) -> None:
    """Raise the named error if the service is not a running InfluxDB reachable over ``route``."""
    if service.service_type != INFLUXDB:
        raise ServiceNotInfluxDB(
            f"Aiven service '{service.full_name}' is a '{service.service_type}' service, not "
            f"'{INFLUXDB}'; this product backs up Aiven for InfluxDB services only. Check the "
            "service name in the execution input or the schedule."
        )
    if service.state != RUNNING:
        advice = _STATE_ADVICE.get(service.state, _DEFAULT_ADVICE)
        raise ServiceNotRunning(
            f"Aiven service '{service.full_name}' is {service.state}, not {RUNNING}, so no backup "
            "can be made now. " + advice.format(project=service.project, service=service.name)
        )
    route_used = effective_route(service, route)
    if route_used != DYNAMIC_ROUTE and not route_enabled(service, route_used):
        setting = f"{route_used}_access.user_backup"
        raise AccessRouteNotEnabled(
            f"Aiven service '{service.full_name}' does not allow user backup downloads over the "
            f"'{route_used}' route: its user config setting {setting} is not enabled. Enable it "
            f"(`avn service update --project {service.project} -c {setting}=true "
            f"{service.name}`) or choose another access_route (auto, public, private, "
            "privatelink)."
        )
