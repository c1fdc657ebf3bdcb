"""``python -m local_runner``: one complete backup on this machine, through the real state machine.

Progress goes to stderr; ``--json`` prints one JSON object on stdout. Exit 0 when the execution
succeeded, 1 when it failed, 2 on bad arguments. ``--catalog`` adds the service's catalogue (what
GET /catalog answers) after the run; ``python -m local_runner catalog ...`` lists any bucket's
(see ``local_runner/catalog_cli.py``).

``--services a,b,c`` or ``--all-services`` back up many services through the fan-out state
machine instead; ``--json`` then prints its summary with a ``results`` list (one object per
service: ``service``, ``status``, ``key``, ``size``, and ``error`` and ``cause`` on failure), and
the exit status is 0 only when every service succeeded or was skipped for not running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from aiven_backup.api.catalog import BackupCatalog
from aiven_backup.workflow.execution_input import InputDefaults
from local_runner import catalog_cli
from local_runner.aiven_simulator import AivenSimulator
from local_runner.real_backup import make_real_backup_tar
from local_runner.sample_backup import build_sample_backup
from local_runner.stack import (
    BUCKET,
    SINGLE_STATE_MACHINE,
    ExecutionResult,
    LocalStack,
    StackOptions,
)

DEMO_PROJECT = "demo-project"
DEMO_SERVICE = "demo-influx"
# What --all-services finds in the embedded simulator: two InfluxDB services to back up, one
# powered off (skipped) and one of another type (left out).
DEMO_ACCOUNT = (
    ("demo-influx", "influxdb", "RUNNING"),
    ("demo-influx-2", "influxdb", "RUNNING"),
    ("demo-influx-retired", "influxdb", "POWEROFF"),
    ("demo-pg", "pg", "RUNNING"),
)
DEMO_TOKEN = "demo-token"  # noqa: S105 - the embedded simulator's, not a secret


@dataclass(frozen=True)
class AivenTarget:
    api_url: str
    token: str
    allowed_hosts: tuple[str, ...]
    allow_insecure: bool
    backup_kind: str


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_runner",
        description="Run one backup through the real state machine on moto, with the handlers "
        "in-process. Without --aiven-api-url an embedded Aiven simulator serves a sample backup.",
    )
    parser.add_argument("--project", default=None, help=f"Aiven project (demo: {DEMO_PROJECT})")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--service", default=None, help=f"Aiven service (demo: {DEMO_SERVICE})")
    which.add_argument(
        "--services",
        default=None,
        metavar="A,B,C",
        help="back up these services of the project, through the fan-out state machine",
    )
    which.add_argument(
        "--all-services",
        action="store_true",
        help="back up every InfluxDB service of the project, through the fan-out state machine",
    )
    parser.add_argument(
        "--max-concurrent-services",
        type=int,
        default=4,
        metavar="N",
        help="with --services/--all-services: how many at once (MaxConcurrentServices)",
    )
    parser.add_argument("--backup-name", default=None, help="default: <service>-<UTC stamp>")
    parser.add_argument("--mode", choices=["request", "existing"], default="request")
    parser.add_argument(
        "--verify",
        type=Path,
        default=None,
        metavar="TAR",
        help="verify this local backup tar (one downloaded from Aiven's console, say) instead "
        "of backing up a service: it is put into the local bucket and run in mode 'verify', "
        "with no Aiven call and no lock",
    )
    parser.add_argument(
        "--verify-key",
        default=None,
        metavar="KEY",
        help="with --verify: the key it is put under (default: by-hand/<file name>)",
    )
    parser.add_argument(
        "--aiven-api-url", default=None, help="a real Aiven API (token from $AIVEN_TOKEN)"
    )
    parser.add_argument(
        "--allow-download-host",
        action="append",
        default=[],
        metavar="PATTERN",
        help="add a host pattern the backup may be downloaded from (repeatable)",
    )
    parser.add_argument(
        "--allow-insecure-download", action="store_true", help="allow plain http downloads"
    )
    parser.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--output", type=Path, default=None, help="write the backup here")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--catalog",
        action="store_true",
        help="also list the service's backups in the bucket, as GET /catalog does "
        "(for another bucket: python -m local_runner catalog --help)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the handlers' own logs")
    args = parser.parse_args(argv)
    if args.poll_interval <= 0:
        parser.error("--poll-interval must be positive")
    if args.aiven_api_url and not os.environ.get("AIVEN_TOKEN"):
        parser.error(
            "--aiven-api-url needs the Aiven token in the AIVEN_TOKEN environment variable"
        )
    if args.mode == "existing" and not args.backup_name and args.aiven_api_url:
        parser.error("--mode existing needs --backup-name (the backup already on the service)")
    args.fanout = args.services is not None or args.all_services
    if args.verify is not None:
        if args.fanout or args.aiven_api_url:
            parser.error("--verify checks a local tar: it calls no Aiven API and backs up nothing")
        if not args.verify.is_file():
            parser.error(f"--verify: {args.verify} is not a file")
    elif args.verify_key:
        parser.error("--verify-key goes with --verify")
    if args.fanout:
        if args.output:
            parser.error(
                "--output writes one backup; with --services or --all-services, --json shows "
                "where each one landed"
            )
        if args.mode == "existing" and not args.backup_name:
            parser.error("--mode existing needs --backup-name (the backup on every service)")
        if not 1 <= args.max_concurrent_services <= 40:
            parser.error("--max-concurrent-services must be from 1 to 40")
        if args.services is not None and not [n for n in args.services.split(",") if n.strip()]:
            parser.error("--services needs at least one service name, e.g. --services a,b")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["catalog"]:
        return catalog_cli.main(arguments[1:])
    args = parse_args(arguments)
    # moto's interpreter logs every failed state at ERROR with internals; the runner reports
    # failures itself. Powertools warns when a step published no metric (metrics are off here).
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    progress = sys.stderr
    with contextlib.ExitStack() as stack:
        if args.verify is not None:
            target = AivenTarget(
                api_url="https://api.aiven.io/v1",  # never called in mode 'verify'
                token="not-used",  # noqa: S106 - mode verify calls no Aiven API
                allowed_hosts=("*.aivencloud.com",),
                allow_insecure=False,
                backup_kind=f"the local file {args.verify}",
            )
            project = args.project or DEMO_PROJECT
            service = args.service or DEMO_SERVICE
        elif args.aiven_api_url:
            target = AivenTarget(
                api_url=args.aiven_api_url,
                token=os.environ["AIVEN_TOKEN"],
                allowed_hosts=tuple(args.allow_download_host) or ("*.aivencloud.com",),
                allow_insecure=args.allow_insecure_download,
                backup_kind="the real service's backup",
            )
            project, service = args.project, args.service
        else:
            project = args.project or DEMO_PROJECT
            service = args.service or DEMO_SERVICE
            target = stack.enter_context(
                _simulated_aiven(project, _demo_services(args, service), args, progress)
            )
            target = AivenTarget(
                api_url=target.api_url,
                token=target.token,
                allowed_hosts=target.allowed_hosts + tuple(args.allow_download_host),
                allow_insecure=True,
                backup_kind=target.backup_kind,
            )
        if args.fanout:
            result, summary = _run_fanout(args, project, target, progress)
        else:
            result, summary = _run(args, project, service, target, progress)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    elif args.fanout:
        _print_fanout_summary(summary, progress)
    else:
        _print_summary(summary, progress)
    if args.fanout:
        return 0 if _every_service_fine(summary) else 1
    return 0 if result.status == "SUCCEEDED" else 1


def _stack_options(
    args: argparse.Namespace, target: AivenTarget, parameters: dict[str, str]
) -> StackOptions:
    poll = max(1, round(args.poll_interval))
    return StackOptions(
        aiven_api_url=target.api_url,
        aiven_token=target.token,
        parameters=parameters,
        environment={
            "ALLOWED_DOWNLOAD_HOSTS": ",".join(target.allowed_hosts),
            "ALLOW_INSECURE_DOWNLOAD": "true" if target.allow_insecure else "false",
            "POLL_INITIAL_SECONDS": str(poll),
            "POLL_MAX_SECONDS": str(poll * 4),
            "POWERTOOLS_LOG_LEVEL": "INFO" if args.verbose else "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        },
    )


def _run(
    args: argparse.Namespace,
    project: str | None,
    service: str | None,
    target: AivenTarget,
    progress: TextIO,
) -> tuple[ExecutionResult, dict[str, Any]]:
    options = _stack_options(
        args, target, {"AivenProject": project or "", "AivenService": service or ""}
    )
    execution_input: dict[str, Any] = {"mode": args.mode}
    if args.verify is not None:
        verify_key = args.verify_key or f"by-hand/{args.verify.name}"
        execution_input = {"mode": "verify", "s3_key": verify_key}
    for key, value in (
        ("project", project),
        ("service", service),
        ("backup_name", args.backup_name),
    ):
        if value:
            execution_input[key] = value
    if args.verify is None:
        print(f"Aiven: {target.api_url} ({target.backup_kind})", file=progress)
    print(f"Execution input: {json.dumps(execution_input)}", file=progress)
    # Handlers log to stdout in Lambda; here stdout is reserved for --json.
    with LocalStack(options) as local, contextlib.redirect_stdout(progress):
        if args.verify is not None:
            print(f"Putting {args.verify} into s3://{BUCKET}/{verify_key}", file=progress)
            local.s3.upload_file(str(args.verify), BUCKET, verify_key)
        arn = local.start(execution_input)
        result = _follow(local, arn, progress)
        summary = _summarise(local, result)
        if args.catalog:
            landed = result.output or {}
            summary["catalog"] = BackupCatalog(local.s3, BUCKET, InputDefaults()).answer(
                {
                    "project": str(landed.get("project") or project or ""),
                    "service": str(landed.get("service") or service or ""),
                }
            )
        if args.output and result.status == "SUCCEEDED" and summary.get("key"):
            body = local.s3.get_object(Bucket=BUCKET, Key=summary["key"])["Body"]
            with args.output.open("wb") as out:
                for chunk in body.iter_chunks(8 * 1024 * 1024):
                    out.write(chunk)
            summary["output"] = str(args.output)
    summary["backup_kind"] = target.backup_kind
    return result, summary


def _follow(local: LocalStack, arn: str, progress: TextIO) -> ExecutionResult:
    """Print each state as it is entered, polls and bytes copied, until the execution ends."""
    seen = 0
    started = time.monotonic()
    while True:
        status = local.sfn.describe_execution(executionArn=arn)["status"]
        events = local.history(arn)
        for event in events[seen:]:
            line = _describe_event(event)
            if line:
                print(f"[{time.monotonic() - started:6.1f}s] {line}", file=progress)
        seen = len(events)
        if status != "RUNNING":
            return local.wait(arn)
        time.sleep(0.2)


def _describe_event(event: dict[str, Any]) -> str | None:
    kind = event["type"]
    if kind.endswith("StateEntered"):
        return f"-> {event['stateEnteredEventDetails']['name']}"
    if kind == "TaskStateExited":
        details = event["stateExitedEventDetails"]
        output = json.loads(details.get("output") or "{}")
        if details["name"] == "PollBackup" and not output.get("ready"):
            return f"   not ready yet; next poll in {output.get('wait', {}).get('seconds')} s"
        if details["name"] == "CopyBackup":
            copy = output.get("copy", {})
            state = "done" if copy.get("done") else "continuing"
            return f"   copied {copy.get('bytes_copied', 0):,} bytes ({state})"
    if kind in ("ExecutionFailed", "TaskFailed", "LambdaFunctionFailed"):
        failure: dict[str, Any] = next(
            (v for k, v in event.items() if k.endswith("EventDetails")), {}
        )
        return f"   {kind}: {failure.get('error')}"
    return None


def _summarise(local: LocalStack, result: ExecutionResult) -> dict[str, Any]:
    notifications = local.notifications()
    output: dict[str, Any] = dict(result.output or {})
    summary: dict[str, Any] = {
        "status": result.status,
        "execution_arn": result.arn,
        "bucket": output.get("bucket", BUCKET),
        "key": output.get("key"),
        "size": output.get("size"),
        "inventory": output.get("inventory"),
        "inventory_key": output.get("inventory_key"),
        "notification": (
            {"subject": notifications[-1]["subject"], "message": notifications[-1]["message"]}
            if notifications
            else None
        ),
    }
    if result.status != "SUCCEEDED":
        summary["error"] = result.error
        summary["cause"] = result.cause
    summary["incomplete_uploads"] = len(local.incomplete_uploads())
    return summary


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    print("", file=out)
    print(f"Execution {summary['status']}", file=out)
    if summary["status"] == "SUCCEEDED":
        print(f"  object:    s3://{summary['bucket']}/{summary['key']}", file=out)
        print(f"  size:      {summary['size']:,} bytes", file=out)
        print(f"  inventory: s3://{summary['bucket']}/{summary['inventory_key']}", file=out)
        if summary.get("output"):
            print(f"  saved to:  {summary['output']}", file=out)
    else:
        print(f"  error: {summary.get('error')}", file=out)
        print(f"  cause: {summary.get('cause')}", file=out)
    if summary.get("catalog"):
        print("\nCatalogue:", file=out)
        catalog_cli.print_catalog(summary["catalog"], out)
    if summary.get("notification"):
        print("\nNotification:", file=out)
        print(f"  Subject: {summary['notification']['subject']}", file=out)
        for line in summary["notification"]["message"].splitlines():
            print(f"  {line}", file=out)


def _run_fanout(
    args: argparse.Namespace, project: str | None, target: AivenTarget, progress: TextIO
) -> tuple[ExecutionResult, dict[str, Any]]:
    """Many services through the fan-out state machine: its summary, with every result."""
    services = "*" if args.all_services else args.services
    options = _stack_options(
        args,
        target,
        {
            "AivenProject": project or "",
            "AivenService": services,
            "MaxConcurrentServices": str(args.max_concurrent_services),
        },
    )
    execution_input: dict[str, Any] = {"services": services, "mode": args.mode}
    for key, value in (("project", project), ("backup_name", args.backup_name)):
        if value:
            execution_input[key] = value
    print(f"Aiven: {target.api_url} ({target.backup_kind})", file=progress)
    print(f"Fan-out input: {json.dumps(execution_input)}", file=progress)
    with LocalStack(options) as local, contextlib.redirect_stdout(progress):
        arn = local.start_fanout(execution_input)
        result = _follow_fanout(local, arn, progress)
        summary = _summarise_fanout(local, result)
    summary["backup_kind"] = target.backup_kind
    return result, summary


def _follow_fanout(local: LocalStack, arn: str, progress: TextIO) -> ExecutionResult:
    """Print the fan-out's own states, and each service's run as it ends."""
    seen = 0
    reported: set[str] = set()
    started = time.monotonic()
    single = local.state_machine_arns[SINGLE_STATE_MACHINE]
    while True:
        status = local.sfn.describe_execution(executionArn=arn)["status"]
        events = local.history(arn)
        for event in events[seen:]:
            if event["type"] in ("TaskStateEntered", "MapStateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                if name != "BackUpService":
                    print(f"[{time.monotonic() - started:6.1f}s] -> {name}", file=progress)
        seen = len(events)
        for run in local.sfn.list_executions(stateMachineArn=single)["executions"]:
            if run["status"] != "RUNNING" and run["name"] not in reported:
                reported.add(run["name"])
                print(
                    f"[{time.monotonic() - started:6.1f}s]    run {run['name']}: {run['status']}",
                    file=progress,
                )
        if status != "RUNNING":
            return local.wait(arn)
        time.sleep(0.2)


def _summarise_fanout(local: LocalStack, result: ExecutionResult) -> dict[str, Any]:
    notifications = local.notifications()
    summaries = [n for n in notifications if n["attributes"].get("kind") == "summary"]
    output: dict[str, Any] = dict(result.output or {})
    summary: dict[str, Any] = {
        "status": output.get("status", result.status),
        "kind": "summary",
        "execution_arn": result.arn,
        "execution_status": result.status,
        "projects": output.get("projects", []),
        "bucket": output.get("bucket", BUCKET),
        "counts": output.get("counts", {}),
        "results": output.get("results", []),
        "notification": (
            {"subject": summaries[-1]["subject"], "message": summaries[-1]["message"]}
            if summaries
            else None
        ),
        "service_notifications": len(notifications) - len(summaries),
    }
    if result.status != "SUCCEEDED":
        summary["error"] = result.error
        summary["cause"] = result.cause
    summary["incomplete_uploads"] = len(local.incomplete_uploads())
    return summary


def _every_service_fine(summary: dict[str, Any]) -> bool:
    """Every service succeeded, or was skipped because Aiven reports it not RUNNING."""
    if summary.get("execution_status") != "SUCCEEDED":
        return False
    return all(
        entry["status"] == "SUCCEEDED"
        or (entry["status"] == "SKIPPED" and entry.get("reason") == "ServiceNotRunning")
        for entry in summary["results"]
    )


def _print_fanout_summary(summary: dict[str, Any], out: TextIO) -> None:
    print("", file=out)
    if summary["execution_status"] != "SUCCEEDED":
        print(f"Fan-out {summary['execution_status']}", file=out)
        print(f"  error: {summary.get('error')}", file=out)
        print(f"  cause: {summary.get('cause')}", file=out)
    else:
        print(f"Fan-out {summary['status']}: {summary['counts']}", file=out)
        for entry in summary["results"]:
            where = entry.get("key") or entry.get("error") or entry.get("reason")
            print(
                f"  {entry['status']:<9} {entry['project']}/{entry['service']}  {where}", file=out
            )
    if summary.get("notification"):
        print("\nSummary notification:", file=out)
        print(f"  Subject: {summary['notification']['subject']}", file=out)
        for line in summary["notification"]["message"].splitlines():
            print(f"  {line}", file=out)


def _demo_services(args: argparse.Namespace, service: str) -> list[tuple[str, str, str]]:
    """The services the embedded simulator holds: (name, type, state)."""
    if args.all_services:
        return list(DEMO_ACCOUNT)
    if args.services is not None:
        names = dict.fromkeys(n.strip() for n in args.services.split(",") if n.strip())
        return [(name, "influxdb", "RUNNING") for name in names]
    return [(service, "influxdb", "RUNNING")]


@contextlib.contextmanager
def _simulated_aiven(
    project: str,
    services: list[tuple[str, str, str]],
    args: argparse.Namespace,
    progress: TextIO,
) -> Iterator[AivenTarget]:
    backup, kind = _demo_backup(progress)
    with AivenSimulator(token=DEMO_TOKEN) as simulator:
        for name, service_type, state in services:
            if args.mode == "existing":
                simulator.add_service(
                    project,
                    name,
                    service_type=service_type,
                    state=state,
                    backup=backup,
                    existing_backup_name=args.backup_name or "demo-existing",
                )
            else:
                simulator.add_service(
                    project,
                    name,
                    service_type=service_type,
                    state=state,
                    backup=backup,
                    polls_until_done=1,
                )
        yield AivenTarget(
            api_url=simulator.base_url,
            token=DEMO_TOKEN,
            allowed_hosts=("127.0.0.1",),
            allow_insecure=True,
            backup_kind=kind,
        )


def _demo_backup(progress: TextIO) -> tuple[bytes, str]:
    """A real influxd backup when influxd is installed, else the built-in real-format sample."""
    with tempfile.TemporaryDirectory(prefix="influx-demo-") as workdir:
        print("Preparing the backup the simulator serves...", file=progress)
        real = make_real_backup_tar(Path(workdir))
    if real is not None:
        return real, "a real InfluxDB portable backup made by influxd just now"
    return (
        build_sample_backup(),
        "the built-in sample in InfluxDB portable format (influxd not installed)",
    )
