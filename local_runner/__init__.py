"""Runs the real state machine here: moto for AWS, handlers in-process, an Aiven simulator.

In Lambda the core package comes from the layer (``/opt/python``); here it is ``layers/core``.
"""

import sys
from pathlib import Path

_CORE_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "core")
if _CORE_LAYER not in sys.path:
    sys.path.insert(0, _CORE_LAYER)
