"""The `exec-watchdog` command: first the install check, then the command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from exec_watchdog.install_check import foreign_package

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    problem = foreign_package()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    from exec_watchdog.cli import main as cli_main  # imports the packages just checked

    return cli_main(argv)
