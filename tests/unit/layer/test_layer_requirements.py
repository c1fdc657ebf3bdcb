"""The layer ships the AWS SDK the tests run on.

aws-xray-sdk (Powertools' tracer extra) depends on botocore, so the layer always carries a
botocore that shadows the runtime's; pinning it (and boto3 and s3transfer with it) to the
versions installed here makes the tested SDK the deployed one.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAYER_REQUIREMENTS = ROOT / "layers" / "core" / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
SDK = ("boto3", "botocore", "s3transfer")
_REQUIREMENT = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)(\[[^]]*\])?\s*(?P<spec>[^;#]*)")


def requirements(path: Path) -> dict[str, str]:
    """Package name (lowercase) -> its version specifier, for each requirement line of ``path``."""
    found = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        match = _REQUIREMENT.fullmatch(text)
        assert match is not None, f"{path.name}: cannot read {line!r}"
        found[match["name"].lower()] = match["spec"].strip()
    return found


@pytest.mark.parametrize("package", SDK)
def test_the_layer_pins_the_sdk_to_the_version_the_tests_run_on(package: str) -> None:
    pinned = requirements(LAYER_REQUIREMENTS).get(package)

    assert pinned == f"=={version(package)}", (
        f"layers/core/requirements.txt must pin {package}=={version(package)} (installed here), "
        f"found {pinned!r}"
    )


@pytest.mark.parametrize("package", SDK)
def test_the_development_requirements_do_not_pin_the_sdk_elsewhere(package: str) -> None:
    # requirements-dev.txt includes the layer's file; a second pin there could drift from it.
    assert package not in requirements(DEV_REQUIREMENTS)
