"""Each Task's Retry list against the error classes: a new transient error cannot silently end runs.

Step Functions matches a Retry rule's names exactly against the Lambda's ``errorType``, which is
the exception's class name: naming a base class retries none of its subclasses. So every
``TransientError`` subclass has to be named in every Retry list that should retry it, and the
definition's Retry lists are written by hand. The classes are found by walking the subclasses
(every core module imported first), never from a list kept in this test.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

import aiven_backup
from aiven_backup import errors
from tests.support.state_machine import (
    ALL_STATES,
    ALL_TASKS,
    BUILT_IN_ERROR_PREFIXES,
    retried_names,
)

# Every Task and state, those inside a Map's iterations too.
STATES, TASKS = ALL_STATES, ALL_TASKS

# Wildcards that would retry every error a Task raises, fatal ones included.
RETRY_EVERYTHING = ("States.ALL", "States.TaskFailed")


def _core_error_classes(base: type[errors.BackupError]) -> Iterator[type[errors.BackupError]]:
    """Every subclass of ``base`` the core defines, at any depth, in whichever core module."""
    for module in pkgutil.walk_packages(aiven_backup.__path__, f"{aiven_backup.__name__}."):
        importlib.import_module(module.name)
    seen: set[type[errors.BackupError]] = set()
    frontier = list(base.__subclasses__())
    while frontier:
        cls = frontier.pop()
        if cls in seen:
            continue
        seen.add(cls)
        frontier.extend(cls.__subclasses__())
        if cls.__module__.startswith(f"{aiven_backup.__name__}."):  # not a test's own subclass
            yield cls


CORE_ERRORS: list[type[errors.BackupError]] = [
    errors.BackupError,
    *_core_error_classes(errors.BackupError),
]
TRANSIENT = frozenset(cls.__name__ for cls in _core_error_classes(errors.TransientError))
FATAL = frozenset(cls.__name__ for cls in CORE_ERRORS if not issubclass(cls, errors.TransientError))

# The retry decision, written once. Everything below checks the definition against it.
# - The workflow steps retry every transient error, CleanupIncomplete excepted. One rule for all
#   of them rather than "what this step raises today": a step that never raises a name loses nothing
#   by listing it, a step that raises one it does not list ends the run for a fault that would have
#   passed, and which step reaches Aiven, the download host or S3 moves as the core changes.
# - CleanupIncomplete means "the failure notification could not be published". Only HandleFailure
#   raises it, and it is the only error HandleFailure retries: every other fault during cleanup is
#   written into the notification instead of raised.
FAILURE_HANDLER_ONLY = frozenset({errors.CleanupIncomplete.__name__})
WORKFLOW_STEPS = (
    "StartBackup",
    "PollBackup",
    "CopyBackup",
    "VerifyBackup",
    "VerifyShards",  # inside the VerifyEachBatch Map
    "FinishVerification",
    "FinishBackup",
)
SHOULD_RETRY: dict[str, frozenset[str]] = {
    **dict.fromkeys(WORKFLOW_STEPS, TRANSIENT - FAILURE_HANDLER_ONLY),
    "HandleFailure": FAILURE_HANDLER_ONLY,
}


def our_retried_names(task: str) -> set[str]:
    return {n for n in retried_names(STATES[task]) if not n.startswith(BUILT_IN_ERROR_PREFIXES)}


def test_the_error_classes_are_found_by_walking_the_core() -> None:
    assert errors.S3Unavailable.__name__ in TRANSIENT
    assert errors.UploadFailed.__name__ in FATAL
    assert not TRANSIENT & FATAL


def test_every_task_has_a_retry_decision() -> None:
    assert set(SHOULD_RETRY) == set(TASKS), (
        "decide in SHOULD_RETRY which transient errors each Task retries: "
        f"undecided {sorted(set(TASKS) - set(SHOULD_RETRY))}, "
        f"not a Task {sorted(set(SHOULD_RETRY) - set(TASKS))}"
    )


@pytest.mark.parametrize("task", TASKS)
def test_task_retries_exactly_the_transient_errors_decided_for_it(task: str) -> None:
    retried = our_retried_names(task)
    expected = SHOULD_RETRY[task]
    missing, extra = sorted(expected - retried), sorted(retried - expected)
    assert not missing, f"{task}'s Retry does not name {missing}: such an error ends the run"
    assert not extra, f"{task}'s Retry names {extra}, which SHOULD_RETRY does not give it"


@pytest.mark.parametrize("name", sorted(STATES))
def test_no_fatal_error_is_retried(name: str) -> None:
    retried = set(retried_names(STATES[name]))
    assert not retried & FATAL, f"{name} retries fatal errors {sorted(retried & FATAL)}"
    wildcards = sorted(retried.intersection(RETRY_EVERYTHING))
    assert not wildcards, f"{name} retries {wildcards}, which matches fatal errors too"
    for error in retried - FATAL:
        if not error.startswith(BUILT_IN_ERROR_PREFIXES):
            assert getattr(errors, error).transient, f"{error} is retried but not transient"


def test_the_transient_flag_agrees_with_the_class() -> None:
    """The copier reads ``error.transient``; the state machine goes by the class name."""
    disagree = [
        cls.__name__
        for cls in CORE_ERRORS
        if cls.transient != issubclass(cls, errors.TransientError)
    ]
    assert not disagree, f"transient flag and TransientError base disagree: {disagree}"
