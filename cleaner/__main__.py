"""`python -m cleaner`: the same command line as the `cleaner` console script."""

from __future__ import annotations

import sys

from cleaner.cli import main

if __name__ == "__main__":
    sys.exit(main())
