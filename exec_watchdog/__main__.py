"""`python -m exec_watchdog`: the same as the `exec-watchdog` command."""

import sys

from exec_watchdog.entry import main

sys.exit(main())
