"""``python -m fastnst`` (and ``torchrun -m fastnst``) runs the CLI."""

import sys

from .cli import main

sys.exit(main())
