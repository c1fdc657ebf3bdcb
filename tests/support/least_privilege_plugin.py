"""The least-privilege check as part of the test run (registered in tests/conftest.py).

Every process of the run (the controller and each xdist worker) records its handlers' AWS calls
into one directory the controller makes (``local_runner/call_recording.py``); when the session
ends, the controller checks them against template.yaml (``tests/support/least_privilege.py``) and
fails the run, with the report in the terminal summary, on a call a role would refuse, a grant
no run used without a reason in the template, a function never invoked or no call at all.

``--least-privilege=auto`` (the default) checks only a run of the whole suite (``pytest`` or
``pytest tests``, no ``-k``/``-m``/``--lf``/``--deselect``): a part of the suite leaves grants
unused that the rest uses. ``on`` checks any run (the refused calls are what matter then), ``off``
never does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from local_runner.call_recording import LOG_DIR_VARIABLE
from tests.support import least_privilege

_REPORT = pytest.StashKey[least_privilege.Report]()
_DIRECTORY = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--least-privilege",
        choices=("auto", "on", "off"),
        default="auto",
        help="check the handlers' recorded AWS calls against template.yaml's roles "
        "(auto: only on a run of the whole suite)",
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config) or config.getoption("least_privilege") == "off":
        return  # a worker records into the directory it inherited in its environment
    directory = Path(tempfile.mkdtemp(prefix="aiven-backup-calls-"))
    config.stash[_DIRECTORY] = directory
    os.environ[LOG_DIR_VARIABLE] = str(directory)  # before xdist starts the workers


def _whole_suite(config: pytest.Config) -> bool:
    root = config.rootpath
    everything = {root, root / "tests"}
    return (
        not config.option.collectonly
        and not config.option.keyword
        and not config.option.markexpr
        and not config.getoption("lf", False)
        and not config.getoption("deselect", None)
        and all((config.invocation_params.dir / arg).resolve() in everything for arg in config.args)
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _is_worker(config) or _DIRECTORY not in config.stash:
        return
    directory = config.stash[_DIRECTORY]
    os.environ.pop(LOG_DIR_VARIABLE, None)
    mode = config.getoption("least_privilege")
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    if interrupted or config.option.collectonly or (mode == "auto" and not _whole_suite(config)):
        shutil.rmtree(directory, ignore_errors=True)
        return
    report = least_privilege.check(least_privilege.load_recording(directory))
    config.stash[_REPORT] = report
    if report.problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(directory, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(_REPORT, None)
    if report is None:
        return
    if report.problems:
        terminalreporter.section("least privilege: FAILED", sep="=", red=True)
        terminalreporter.write_line(report.text())
        directory = terminalreporter.config.stash[_DIRECTORY]
        terminalreporter.write_line(f"(the recorded calls are in {directory})")
    else:
        terminalreporter.write_line(
            report.text() + ": every call allowed, every grant used or its reason given"
        )
