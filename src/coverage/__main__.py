"""``python -m eldercare_coverage``: the same command line as ``eldercare-coverage``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
