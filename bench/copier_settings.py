"""Which copier is measured, and its default part size, concurrency and checksum.

The working tree is shared with people changing the copier while a run goes on, so by default
the core package is measured as committed at a git ref (``HEAD``), extracted once into a
temporary folder; ``worktree`` measures the files as they are.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.contenders import REPO_ROOT, CopierSettings

if TYPE_CHECKING:
    from aiven_backup.copier import CopyConfig

WORKTREE = "worktree"
LAYER = "layers/core"


@dataclass(frozen=True)
class CopierSource:
    """Where the measured ``aiven_backup`` package is, and which commit it is."""

    ref: str
    commit: str
    subject: str
    layer_dir: Path


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def copier_source(ref: str, scratch: Path) -> CopierSource:
    """The core package at ``ref`` (extracted under ``scratch``), or the working tree's."""
    # The last commit that touched the package names what is measured better than the ref does.
    last_change = ["log", "-1", "--format=%H%n%s", "HEAD" if ref == WORKTREE else ref, "--", LAYER]
    commit, subject = _git(*last_change).split("\n", 1)
    if ref == WORKTREE:
        return CopierSource(ref, commit + " + uncommitted changes", subject, REPO_ROOT / LAYER)
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", commit, LAYER],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(scratch, filter="data")
    return CopierSource(ref, commit, subject, scratch / LAYER)


def default_copy_config(layer_dir: Path) -> CopyConfig:
    """``CopyConfig()`` of the package in ``layer_dir`` (imported once per process)."""
    if str(layer_dir) not in sys.path:
        sys.path.insert(0, str(layer_dir))
    config: CopyConfig = importlib.import_module("aiven_backup.copier").CopyConfig()
    return config


def copier_settings(size: int, time_budget_s: float, layer_dir: Path) -> CopierSettings:
    """What ``CopyConfig()`` chooses for a source of ``size`` bytes with a known length."""
    config = default_copy_config(layer_dir)
    plan_parts = importlib.import_module("aiven_backup.copier").plan_parts
    return CopierSettings(
        part_size=plan_parts(size, config).base_size,
        upload_concurrency=config.upload_concurrency,
        read_concurrency=config.read_concurrency,
        checksum_algorithm=config.checksum_algorithm,
        time_budget_s=time_budget_s,
        layer_dir=str(layer_dir),
    )


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-copier-")
