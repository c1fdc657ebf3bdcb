"""The copier's default part size, concurrency and checksum, which the ceiling reuses."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from bench.contenders import REPO_ROOT, CopierSettings

if TYPE_CHECKING:
    from aiven_backup.copier import CopyConfig

LAYER_DIR = REPO_ROOT / "layers" / "core"


def default_copy_config() -> CopyConfig:
    """``CopyConfig()``, importing the core package from its layer folder as Lambda would."""
    if str(LAYER_DIR) not in sys.path:
        sys.path.append(str(LAYER_DIR))
    config: CopyConfig = importlib.import_module("aiven_backup.copier").CopyConfig()
    return config


def copier_settings(size: int, time_budget_s: float) -> CopierSettings:
    """What ``CopyConfig()`` chooses for a source of ``size`` bytes with a known length."""
    config = default_copy_config()
    plan_parts = importlib.import_module("aiven_backup.copier").plan_parts
    return CopierSettings(
        part_size=plan_parts(size, config).base_size,
        upload_concurrency=config.upload_concurrency,
        read_concurrency=config.read_concurrency,
        checksum_algorithm=config.checksum_algorithm,
        time_budget_s=time_budget_s,
    )
