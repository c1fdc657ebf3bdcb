"""Where a backup can be followed: URLs built from how the caller reached the API.

API Gateway serves a REST API under its stage (``https://<id>.execute-api.<region>.amazonaws.com/v1``)
or under a custom domain's base path (``https://backups.example.com/influx``), and a URL without
that prefix answers 403. The request itself says which: ``requestContext.path`` is the path the
caller used, prefix included (``/v1/backups/<id>``), while the route's own segments are in
``resourcePath`` (``/backups/{id}``). What is left when the route's segments are taken off is the
prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

COLLECTION = "backups"


@dataclass(frozen=True)
class BackupLinks:
    """URLs of ``/backups`` and of one backup, under the prefix the caller used."""

    collection_url: str

    @classmethod
    def for_request(
        cls,
        *,
        domain_name: str | None,
        request_path: str | None,
        resource_path: str,
        stage: str | None,
    ) -> BackupLinks:
        """From the request context: ``domainName``, ``path``, ``resourcePath``, ``stage``.

        Without a ``path`` (an event a person wrote) the prefix is the stage; without a
        ``domainName`` the URL is relative to the host the request came to.
        """
        route_depth = len(_segments(resource_path))
        if request_path is not None and len(_segments(request_path)) >= route_depth:
            prefix = _segments(request_path)[: len(_segments(request_path)) - route_depth]
        else:
            prefix = [stage] if stage else []
        path = "/" + "/".join([*prefix, COLLECTION])
        return cls(f"https://{domain_name}{path}" if domain_name else path)

    def backup(self, execution_name: str) -> str:
        """Where ``GET /backups/{id}`` reports this backup."""
        return f"{self.collection_url}/{execution_name}"


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]
