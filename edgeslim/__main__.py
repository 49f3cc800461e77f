"""``python -m edgeslim`` (and ``torchrun -m edgeslim``) runs the CLI."""

import sys

from edgeslim.cli import main

sys.exit(main())
