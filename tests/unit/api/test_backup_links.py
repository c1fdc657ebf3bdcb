"""The status URL a caller can follow: under the stage or the custom domain's base path."""

from __future__ import annotations

import pytest

from aiven_backup.api.links import BackupLinks

EXECUTE_API = "1234567890.execute-api.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("domain_name", "request_path", "resource_path", "expected"),
    [
        # the execute-api host: the path carries the stage
        (EXECUTE_API, "/v1/backups", "/backups", f"https://{EXECUTE_API}/v1/backups/b-1"),
        (EXECUTE_API, "/v1/backups/b-0", "/backups/{id}", f"https://{EXECUTE_API}/v1/backups/b-1"),
        # a custom domain with a base path mapping: the path carries the mapping, not the stage
        (
            "backups.example.com",
            "/influx/backups",
            "/backups",
            "https://backups.example.com/influx/backups/b-1",
        ),
        # a custom domain mapped at its root
        (
            "backups.example.com",
            "/backups/b-0/",
            "/backups/{id}",
            "https://backups.example.com/backups/b-1",
        ),
    ],
)
def test_the_url_keeps_the_prefix_the_caller_used(
    domain_name: str, request_path: str, resource_path: str, expected: str
) -> None:
    links = BackupLinks.for_request(
        domain_name=domain_name, request_path=request_path, resource_path=resource_path, stage="v1"
    )

    assert links.backup("b-1") == expected


def test_without_the_request_path_the_stage_is_the_prefix() -> None:
    links = BackupLinks.for_request(
        domain_name=EXECUTE_API, request_path=None, resource_path="/backups", stage="v1"
    )

    assert links.backup("b-1") == f"https://{EXECUTE_API}/v1/backups/b-1"


def test_without_the_domain_the_url_is_relative_to_the_host_but_keeps_the_stage() -> None:
    links = BackupLinks.for_request(
        domain_name=None, request_path="/v1/backups", resource_path="/backups", stage="v1"
    )

    assert links.backup("b-1") == "/v1/backups/b-1"
