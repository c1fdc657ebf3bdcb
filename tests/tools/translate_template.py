"""Print template.yaml translated to plain CloudFormation (JSON) on stdout.

Runs in the SAM CLI's virtual environment (it has aws-sam-translator); the structural tests in
``tests/unit/template/`` call it through ``tests/support/translated.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.tools.lint_translated_template import translate

if __name__ == "__main__":
    json.dump(translate(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"), sys.stdout)
