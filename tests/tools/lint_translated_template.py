"""Translate template.yaml to plain CloudFormation offline and lint the result with cfn-lint.

cfn-lint no longer expands SAM resources, so errors inside them (a bad runtime, a Ref to a missing
parameter, a malformed policy) pass ``sam validate --lint``. Translating first catches them.
Runs in the SAM CLI's virtual environment, which has aws-sam-translator and cfn-lint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator insists on one

from samtranslator.translator.transform import transform  # noqa: E402

from local_runner.template import load_template  # noqa: E402


class _NoManagedPolicies:
    """The template uses inline statements and policy templates only: no IAM look-ups needed."""

    def load(self) -> dict[str, str]:
        return {}


def _local_paths_to_s3(template: dict[str, Any]) -> None:
    # `sam package` would upload these; the translator wants S3 locations or inline definitions.
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://translated-artifacts/{props[key].strip('/')}.zip"
        if isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((ROOT / props.pop("DefinitionUri")).read_text())


def translate(template_path: str) -> dict[str, Any]:
    """template.yaml as plain CloudFormation, as ``sam deploy`` would hand it over."""
    template = load_template(ROOT / template_path)
    _local_paths_to_s3(template)
    # The translator asks for pseudo parameters; any region will do offline.
    parameters = {
        "AWS::Region": "us-east-1",
        "AWS::Partition": "aws",
        "AWS::AccountId": "123456789012",
    }
    translated: dict[str, Any] = transform(template, parameters, _NoManagedPolicies())
    return translated


def main(template_path: str) -> int:
    translated = translate(template_path)
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
