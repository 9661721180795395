"""``python -m fieldvault``: the same command line as the ``fieldvault`` script."""

from __future__ import annotations

from fieldvault.cli import main

if __name__ == "__main__":
    main()
