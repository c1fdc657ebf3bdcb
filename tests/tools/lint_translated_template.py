"""Translate template.yaml to plain CloudFormation offline and lint the result with cfn-lint.

cfn-lint no longer expands SAM resources, so errors inside them (a bad runtime, a Ref to a missing
parameter, a malformed policy) pass ``sam validate --lint``. Translating first catches them.
Runs in the SAM CLI's virtual environment, which has aws-sam-translator and cfn-lint; the
translation is the one the structural tests read (``tests/support/sam_template.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from local_runner.template import load_template  # noqa: E402
from tests.support.sam_template import translate_template  # noqa: E402


def main(template_path: str) -> int:
    # No stack name: SAM would resolve ${AWS::StackName} into a Sub without variables, which
    # cfn-lint flags (W1020) although CloudFormation is content with it.
    translated = translate_template(load_template(ROOT / template_path), stack_name=None)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(translated, out, indent=1)
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", out.name],
        check=False,
    )
    if completed.returncode == 0:
        print(
            f"cfn-lint: translated {template_path} is clean "
            f"({len(translated['Resources'])} CloudFormation resources)"
        )
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
