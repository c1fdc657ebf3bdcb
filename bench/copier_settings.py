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
    copier = importlib.import_module("aiven_backup.copier")
    config: CopyConfig = copier.CopyConfig()
    return config


def copier_settings(size: int, time_budget_s: float) -> CopierSettings:
    """What ``CopyConfig()`` chooses for a source of ``size`` bytes with a known length."""
    config = default_copy_config()
    return CopierSettings(
        part_size=config.min_part_size,
        upload_concurrency=config.upload_concurrency,
        checksum_algorithm=None,
        time_budget_s=time_budget_s,
    )
