"""Where to download ``<backup_name>.tar`` from, for a service and an access route.

The backup host's URI is looked up, in order, in:
1. ``connection_info.user_backup_uri`` (a string, or a list whose first entry is used);
2. ``service_uri_params``: a ``user_backup_uri`` string, a ``user_backup`` object of parts, or
   ``user_backup_host``/``user_backup_port`` parts (+ ``_user``, ``_password``, ``_path``,
   ``_ssl``).
   The plain ``host``/``port`` there are the InfluxDB HTTP endpoint, not the backup host, so
   they are never used;
3. ``components`` entries with ``component == "user_backup"`` (``host``, ``port``, ``route``,
   optional ``path`` and ``ssl``); credentials come from 1 or 2 when present.

Routes: ``auto`` is ``public`` for a service in a VPC whose ``public_access.user_backup`` is
enabled, else the URI as given (route ``dynamic``). ``public`` outside a VPC is also the URI as
given: such services are reachable from the internet already. A component with the wanted route
wins; otherwise ``public`` prefixes ``public-`` to the hostname, ``private`` uses the URI as given,
and ``privatelink`` needs a component (its host names cannot be derived).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from aiven_backup.aiven.models import ACCESS_ROUTES, AccessRoute, Service
from aiven_backup.backup_name import validate_backup_name
from aiven_backup.errors import BackupUriNotFound, InvalidExecutionInput
from aiven_backup.redaction import register_secret

BACKUP_COMPONENT = "user_backup"
DYNAMIC_ROUTE = "dynamic"
PUBLIC_HOST_PREFIX = "public-"
_REDACTED_PLACEHOLDER = "<redacted>"


def effective_route(service: Service, route: AccessRoute | str) -> str:
    """The route used: ``public``, ``private``, ``privatelink`` or ``dynamic`` (URI as given)."""
    if route not in ACCESS_ROUTES:
        raise InvalidExecutionInput(
            "access_route", f"{route!r} is not one of {', '.join(ACCESS_ROUTES)}"
        )
    if route == "auto":
        public = service.in_vpc and route_enabled(service, "public")
        return "public" if public else DYNAMIC_ROUTE
    if route == "public":
        return "public" if service.in_vpc else DYNAMIC_ROUTE
    return route


def route_enabled(service: Service, route: str) -> bool:
    """Whether ``user_config.<route>_access.user_backup`` is switched on."""
    access = service.user_config.get(f"{route}_access")
    return isinstance(access, Mapping) and access.get("user_backup") is True


@dataclass(frozen=True)
class _Endpoint:
    scheme: str
    userinfo: str | None  # percent-encoded, exactly as it appears in a URL
    host: str
    port: int | None
    path: str
    query: str = ""

    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if self.port is None else f"{host}:{self.port}"
        if self.userinfo is not None:
            netloc = f"{self.userinfo}@{netloc}"
        return urlunsplit((self.scheme, netloc, self.path, self.query, ""))


def resolve_backup_url(service: Service, backup_name: str, route: AccessRoute | str) -> str:
    """The full download URL ``<user_backup_uri>/<backup_name>.tar`` for the route."""
    validate_backup_name(backup_name)
    route_used = effective_route(service, route)
    given = _from_connection_info(service) or _from_service_uri_params(service)
    components = [
        item
        for item in service.components
        if item.get("component") == BACKUP_COMPONENT and isinstance(item.get("host"), str)
    ]
    credentials = given.userinfo if given else None
    for_route = next((c for c in components if c.get("route") == route_used), None)

    if route_used != DYNAMIC_ROUTE and for_route is not None:
        endpoint = _from_component(for_route, credentials)
    elif route_used == "privatelink":
        raise BackupUriNotFound(
            f"Aiven service '{service.full_name}' lists no user_backup component with route "
            "'privatelink'; enable privatelink_access.user_backup and set up the PrivateLink "
            "connection, or choose another access route."
        )
    elif given is not None:
        endpoint = given
    elif components:
        fallback = next((c for c in components if c.get("route") == DYNAMIC_ROUTE), components[0])
        endpoint = _from_component(fallback, credentials)
    else:
        raise BackupUriNotFound(
            f"Aiven service '{service.full_name}' exposes no user_backup_uri (looked in "
            "connection_info, service_uri_params and components). Check that the service is an "
            "Aiven for InfluxDB service with user backups available, and that the token may read "
            "its secrets."
        )

    public_rewrite = route_used == "public" and for_route is None
    if public_rewrite and not endpoint.host.startswith(PUBLIC_HOST_PREFIX):
        endpoint = replace(endpoint, host=PUBLIC_HOST_PREFIX + endpoint.host)

    _check_credentials(service, endpoint)
    path = endpoint.path.rstrip("/") + "/" + quote(backup_name, safe="") + ".tar"
    return replace(endpoint, path=path).url()


def _check_credentials(service: Service, endpoint: _Endpoint) -> None:
    if endpoint.userinfo is None:
        return
    if _REDACTED_PLACEHOLDER in endpoint.userinfo or "%3Credacted%3E" in endpoint.userinfo:
        raise BackupUriNotFound(
            f"the user_backup_uri of Aiven service '{service.full_name}' came back with its "
            "password redacted: the token's user may not read service secrets. Use a token of a "
            "user with write or admin access to the project."
        )
    _, _, password = endpoint.userinfo.partition(":")
    register_secret(password)


def _parse(uri: str, where: str, service: Service) -> _Endpoint:
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError:
        raise BackupUriNotFound(
            f"the user_backup_uri in {where} of Aiven service '{service.full_name}' is not a "
            "valid URL"
        ) from None
    if not parts.scheme or not parts.hostname:
        raise BackupUriNotFound(
            f"the user_backup_uri in {where} of Aiven service '{service.full_name}' names no "
            "scheme or host"
        )
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else None
    return _Endpoint(parts.scheme, userinfo, parts.hostname, port, parts.path, parts.query)


def _from_connection_info(service: Service) -> _Endpoint | None:
    value = service.connection_info.get("user_backup_uri")
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str) and item), None)
    if isinstance(value, str) and value:
        return _parse(value, "connection_info", service)
    return None


def _from_service_uri_params(service: Service) -> _Endpoint | None:
    params = service.service_uri_params
    uri = params.get("user_backup_uri")
    if isinstance(uri, str) and uri:
        return _parse(uri, "service_uri_params", service)
    nested = params.get("user_backup")
    if isinstance(nested, str) and nested:
        return _parse(nested, "service_uri_params", service)
    if isinstance(nested, Mapping) and isinstance(nested.get("host"), str):
        return _from_parts(nested)
    prefix = "user_backup_"
    prefixed = {
        key[len(prefix) :]: value for key, value in params.items() if key.startswith(prefix)
    }
    if isinstance(prefixed.get("host"), str):
        return _from_parts(prefixed)
    return None


def _from_component(component: Mapping[str, Any], credentials: str | None) -> _Endpoint:
    endpoint = _from_parts(component)
    return endpoint if endpoint.userinfo is not None else replace(endpoint, userinfo=credentials)


def _from_parts(parts: Mapping[str, Any]) -> _Endpoint:
    user, password = parts.get("user"), parts.get("password")
    userinfo = None
    if isinstance(user, str) and user:
        userinfo = quote(user, safe="")
        if isinstance(password, str) and password:
            userinfo += ":" + quote(password, safe="")
    path = parts.get("path")
    port = parts.get("port")
    return _Endpoint(
        scheme="http" if parts.get("ssl") is False else "https",
        userinfo=userinfo,
        host=str(parts["host"]),
        port=int(port) if isinstance(port, int | str) and str(port).isdigit() else None,
        path="/" + path.strip("/") if isinstance(path, str) and path.strip("/") else "",
    )
