"""What each contender runs: the command lines and environment of one copy of URL into the sink.

Every contender gets a minimal environment (no ``AWS_PROFILE``, user config or the machine's
``AWS_CA_BUNDLE``), so the machine's settings cannot tilt one of them; credentials are the sink's.
Over https each client trusts the run's throwaway CA, and only it: botocore and the AWS CLI through
``AWS_CA_BUNDLE``, the copier's download client through ``SSL_CERT_FILE`` (httpx's default
context reads it, as do ``http.client`` and urllib3 through OpenSSL's default paths, so the
copier runs exactly as the Lambda calls it), ``curl --cacert`` and ``rclone --ca-cert`` (rclone
fails when ``AWS_CA_BUNDLE`` is set, so it is not).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bench.sinks import Sink

REPO_ROOT = Path(__file__).resolve().parent.parent
DEBIAN_AWS = "/usr/bin/aws"  # a pip-installed `aws` may come first on PATH; this is Debian's awscli
RCLONE = "/usr/bin/rclone"
CURL = "/usr/bin/curl"

COPIER = "copier"
AWS_CLI = "aws"
RCLONE_COPYURL = "rclone"
CEILING = "ceiling"
CONTENDERS = (COPIER, AWS_CLI, RCLONE_COPYURL, CEILING)
PEERS = (AWS_CLI, RCLONE_COPYURL)
LABELS = {
    COPIER: "copier (copy_url_to_s3)",
    AWS_CLI: "curl | aws s3 cp -",
    RCLONE_COPYURL: "rclone copyurl",
    CEILING: "sink ceiling (boto3, in-memory)",
}


@dataclass(frozen=True)
class CopierSettings:
    """The copier's part size, concurrency and checksum (which the ceiling copies too), and the
    folder its package is imported from."""

    part_size: int
    upload_concurrency: int
    read_concurrency: int
    checksum_algorithm: str | None
    time_budget_s: float
    layer_dir: str


@dataclass(frozen=True)
class Job:
    """One copy: from ``url`` (``size`` bytes) into ``bucket``/``key`` on ``sink``."""

    url: str
    sink: Sink
    bucket: str
    key: str
    size: int
    ca_bundle: Path | None = None  # the CA of the https source and sink; None over plain http


def _base_env(home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _copier(job: Job, settings: CopierSettings) -> list[list[str]]:
    return [
        [
            sys.executable,
            "-m",
            "bench.run_copier",
            "--url",
            job.url,
            "--endpoint",
            job.sink.endpoint,
            "--bucket",
            job.bucket,
            "--key",
            job.key,
            "--expected-size",
            str(job.size),
            "--time-budget-s",
            str(settings.time_budget_s),
        ]
    ]


def _aws_cli(job: Job) -> list[list[str]]:
    upload = [DEBIAN_AWS, "s3", "cp", "-", f"s3://{job.bucket}/{job.key}"]
    upload += ["--endpoint-url", job.sink.endpoint, "--only-show-errors"]
    download = [CURL, "-sS", "--fail", job.url]
    if job.ca_bundle:
        download += ["--cacert", str(job.ca_bundle)]
    return [download, upload]


def _rclone(job: Job) -> list[list[str]]:
    command = [RCLONE, "copyurl", job.url, f"sink:{job.bucket}/{job.key}"]
    if job.ca_bundle:
        command += ["--ca-cert", str(job.ca_bundle)]
    if job.sink.is_moto:
        command.append("--s3-no-head")  # rclone's check after upload gets a 400 from moto
    return [command]


def _rclone_env(job: Job, home: Path) -> dict[str, str]:
    return {
        "RCLONE_CONFIG": str(home / "rclone.conf"),
        "RCLONE_CONFIG_SINK_TYPE": "s3",
        "RCLONE_CONFIG_SINK_PROVIDER": "Other",
        "RCLONE_CONFIG_SINK_ENDPOINT": job.sink.endpoint,
        "RCLONE_CONFIG_SINK_REGION": "us-east-1",
        "RCLONE_CONFIG_SINK_ACCESS_KEY_ID": job.sink.access_key,
        "RCLONE_CONFIG_SINK_SECRET_ACCESS_KEY": job.sink.secret_key,
        "RCLONE_CONFIG_SINK_FORCE_PATH_STYLE": "true",
    }


def _ceiling(job: Job, settings: CopierSettings) -> list[list[str]]:
    command = [sys.executable, "-m", "bench.run_ceiling", "--endpoint", job.sink.endpoint]
    command += ["--bucket", job.bucket, "--key", job.key, "--size", str(job.size)]
    command += ["--part-size", str(settings.part_size)]
    command += ["--concurrency", str(settings.upload_concurrency)]
    command += ["--checksum", settings.checksum_algorithm or "none"]
    return [command]


def commands_for(
    contender: str, job: Job, settings: CopierSettings, home: Path
) -> tuple[list[list[str]], dict[str, str]]:
    """The pipeline of commands and the environment that run ``contender`` for ``job``."""
    env = _base_env(home) | job.sink.aws_env()
    if contender == COPIER:
        env["PYTHONPATH"] = f"{REPO_ROOT}:{settings.layer_dir}"
        if job.ca_bundle:
            env["SSL_CERT_FILE"] = str(job.ca_bundle)
        return _copier(job, settings), env
    if contender == AWS_CLI:
        return _aws_cli(job), env
    if contender == RCLONE_COPYURL:
        env.pop("AWS_CA_BUNDLE", None)  # rclone fails with it; --ca-cert says the same
        return _rclone(job), env | _rclone_env(job, home)
    if contender == CEILING:
        env["PYTHONPATH"] = str(REPO_ROOT)
        return _ceiling(job, settings), env
    raise ValueError(f"unknown contender {contender!r}; expected one of {', '.join(CONTENDERS)}")
