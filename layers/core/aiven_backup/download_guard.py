"""Refuse download URLs that are not https on an allowed host, before a byte is fetched.

A tampered execution input or API answer must not turn the copier against internal addresses
(the instance metadata service at 169.254.169.254, loopback, private networks). So:

- the scheme is ``https`` (``http`` only with ``allow_insecure``);
- the host matches one of the allow-list's glob patterns (default ``*.aivencloud.com``);
- IP literals (every one, including decimal/hex spellings such as ``2130706433``) and ``localhost``
  are accepted only when the allow-list names them exactly (``127.0.0.1``, ``::1``,
  ``localhost``): a wildcard never admits them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from aiven_backup.errors import DownloadUrlRejected
from aiven_backup.redaction import redact_url

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("*.aivencloud.com",)
ALLOWED_HOSTS_SETTING = "the AllowedDownloadHosts stack parameter (ALLOWED_DOWNLOAD_HOSTS)"

_WIDEN_HINT = (
    f"If this really is the backup host, add it to the download host allow-list "
    f"({ALLOWED_HOSTS_SETTING}, comma-separated patterns such as '*.aivencloud.com')"
)


def parse_allowed_hosts(text: str) -> tuple[str, ...]:
    """Patterns from a comma-separated setting; the default list when ``text`` names none."""
    patterns = tuple(
        entry.strip().lower().rstrip(".") for entry in text.split(",") if entry.strip()
    )
    for pattern in patterns:
        if "/" in pattern or "@" in pattern or not pattern.strip("*."):
            raise ValueError(
                f"{ALLOWED_HOSTS_SETTING} entry {pattern!r} is not a host name pattern; "
                "give bare host names or globs such as '*.aivencloud.com' or '127.0.0.1'"
            )
    return patterns or DEFAULT_ALLOWED_HOSTS


def check_download_url(
    url: str,
    allowed_hosts: Sequence[str] = DEFAULT_ALLOWED_HOSTS,
    *,
    allow_insecure: bool = False,
) -> None:
    """Raise ``DownloadUrlRejected`` unless ``url`` may be downloaded from."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise DownloadUrlRejected(f"the download URL {shown} is not a valid URL") from None

    allowed_schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in allowed_schemes:
        message = (
            f"the download URL {shown} uses scheme {parts.scheme or 'none'!r}; "
            f"only {' or '.join(allowed_schemes)} is allowed"
        )
        if parts.scheme == "http":
            message += " (plain http only with the insecure-download option, for local tests)"
        raise DownloadUrlRejected(message)
    if not host:
        raise DownloadUrlRejected(f"the download URL {shown} names no host")

    host = host.rstrip(".")
    patterns = [pattern.lower().rstrip(".") for pattern in allowed_hosts]
    if _is_special_host(host):
        if not any(_same_host(host, pattern) for pattern in patterns):
            raise DownloadUrlRejected(
                f"the download URL {shown} points at {host!r}, an IP address or local name; "
                "such hosts are refused unless the allow-list names them exactly. " + _WIDEN_HINT
            )
        return
    if not any(fnmatchcase(host, pattern) for pattern in patterns):
        raise DownloadUrlRejected(
            f"the download URL {shown} points at host {host!r}, which matches none of the "
            f"allowed patterns {list(patterns)}. " + _WIDEN_HINT
        )


def _is_special_host(host: str) -> bool:
    """IP literals in any spelling the resolver accepts, and localhost names."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        pass
    else:
        return True
    try:
        socket.inet_aton(host)  # also accepts '2130706433', '0x7f.1', '127.1'
    except OSError:
        return False
    return True


def _same_host(host: str, pattern: str) -> bool:
    if host == pattern:
        return True
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(pattern)
    except ValueError:
        return False
