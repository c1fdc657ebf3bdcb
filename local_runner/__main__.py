"""Entry point of ``python -m local_runner``; see local_runner/cli.py."""

import sys

from local_runner.cli import main

sys.exit(main())
