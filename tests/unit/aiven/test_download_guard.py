"""The download-host guard refuses URLs that could turn the copier against internal addresses."""

from __future__ import annotations

import pytest

from aiven_backup.download_guard import (
    DEFAULT_ALLOWED_HOSTS,
    check_download_url,
    parse_allowed_hosts,
)
from aiven_backup.errors import DownloadUrlRejected

AIVEN_URL = "https://avnadmin:s3cr3t-pw@my-influx-myproj.aivencloud.com:12345/backup.tar"


@pytest.mark.parametrize(
    "url",
    [
        AIVEN_URL,
        "https://public-my-influx-myproj.aivencloud.com:12345/b.tar",
        "https://MY-INFLUX.AivenCloud.com/b.tar",
        "https://my-influx.aivencloud.com./b.tar",
    ],
)
def test_accepts_https_on_the_default_aiven_pattern(url: str) -> None:
    check_download_url(url)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://169.254.169.254/latest/meta-data/", "'169.254.169.254'"),
        ("https://127.0.0.1:8443/b.tar", "'127.0.0.1'"),
        ("https://[::1]/b.tar", "'::1'"),
        ("https://[fe80::1]/b.tar", "'fe80::1'"),
        ("https://10.0.0.5/b.tar", "'10.0.0.5'"),
        ("https://192.168.1.1/b.tar", "'192.168.1.1'"),
        ("https://8.8.8.8/b.tar", "'8.8.8.8'"),
        ("https://2130706433/b.tar", "'2130706433'"),
        ("https://0x7f.1/b.tar", "'0x7f.1'"),
        ("https://localhost/b.tar", "'localhost'"),
        ("https://evil.localhost/b.tar", "'evil.localhost'"),
    ],
)
def test_refuses_ip_literals_and_local_names_by_default(url: str, fragment: str) -> None:
    with pytest.raises(DownloadUrlRejected) as caught:
        check_download_url(url)

    message = str(caught.value)
    assert fragment in message
    assert "allow-list" in message


def test_a_wildcard_never_admits_an_ip_address() -> None:
    with pytest.raises(DownloadUrlRejected):
        check_download_url("https://169.254.169.254/", ["*"])
    with pytest.raises(DownloadUrlRejected):
        check_download_url("https://127.0.0.1/", ["127.0.0.*"])


def test_a_wildcard_admits_any_dns_name() -> None:
    check_download_url("https://backups.example.org/b.tar", ["*"])


def test_loopback_is_accepted_when_named_exactly() -> None:
    check_download_url("https://127.0.0.1:8443/b.tar", ["*.aivencloud.com", "127.0.0.1"])
    check_download_url("https://[::1]:8443/b.tar", ["0:0:0:0:0:0:0:1"])
    check_download_url("https://localhost:8443/b.tar", ["localhost"])


def test_plain_http_is_refused_even_on_an_allowed_host() -> None:
    with pytest.raises(DownloadUrlRejected, match="insecure-download option") as caught:
        check_download_url("http://my-influx.aivencloud.com/b.tar")

    assert "'http'" in str(caught.value)


def test_plain_http_is_accepted_only_with_allow_insecure() -> None:
    check_download_url("http://u:p@127.0.0.1:9000/b.tar", ["127.0.0.1"], allow_insecure=True)


@pytest.mark.parametrize("url", ["ftp://my.aivencloud.com/b.tar", "file:///etc/passwd", "b.tar"])
def test_other_schemes_are_refused_even_with_allow_insecure(url: str) -> None:
    with pytest.raises(DownloadUrlRejected, match="scheme"):
        check_download_url(url, ["*"], allow_insecure=True)


def test_a_host_outside_the_list_is_refused_with_the_list_and_how_to_widen_it() -> None:
    with pytest.raises(DownloadUrlRejected) as caught:
        check_download_url("https://user:hunter2@backups.example.org/b.tar")

    message = str(caught.value)
    assert "'backups.example.org'" in message
    assert "*.aivencloud.com" in message
    assert "AllowedDownloadHosts" in message
    assert "hunter2" not in message
    assert "user:***@backups.example.org" in message


def test_suffix_tricks_do_not_match_the_aiven_pattern() -> None:
    for url in (
        "https://aivencloud.com.evil.example/b.tar",
        "https://evilaivencloud.com/b.tar",
        "https://aivencloud.com/b.tar",
    ):
        with pytest.raises(DownloadUrlRejected):
            check_download_url(url)


def test_malformed_urls_are_refused_without_leaking_credentials() -> None:
    with pytest.raises(DownloadUrlRejected) as caught:
        check_download_url("https://u:topsecret@my.aivencloud.com:notaport/b.tar")

    assert "topsecret" not in str(caught.value)
    with pytest.raises(DownloadUrlRejected, match="no host"):
        check_download_url("https:///b.tar")


def test_parse_allowed_hosts_splits_trims_and_lowercases() -> None:
    assert parse_allowed_hosts(" *.AivenCloud.com , 127.0.0.1,,backups.example.org. ") == (
        "*.aivencloud.com",
        "127.0.0.1",
        "backups.example.org",
    )


def test_parse_allowed_hosts_falls_back_to_the_default_when_empty() -> None:
    assert parse_allowed_hosts("") == DEFAULT_ALLOWED_HOSTS
    assert parse_allowed_hosts(" , ") == DEFAULT_ALLOWED_HOSTS


@pytest.mark.parametrize("entry", ["https://x.aivencloud.com", "a/b", "u@h", "*", "*.*"])
def test_parse_allowed_hosts_rejects_entries_that_are_not_host_patterns(entry: str) -> None:
    with pytest.raises(ValueError, match="AllowedDownloadHosts"):
        parse_allowed_hosts(entry)
