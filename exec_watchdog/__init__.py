"""exec-watchdog: finds stuck, orphaned and idle agent executions and recovers them, replayably.

Rooms: `adapters` (store, agents, platform), `telemetry` (metrics, logs), `service` (`run`),
`bridge`, `audit` (audit, replay, simulate), `demo`; the command line and settings at this level.
The decision core and the Kafka edges are the top-level packages `schemas`, `statemachine`,
`consumers` and `producers`.
"""

from importlib import metadata


def version() -> str:
    """The installed build's version (`--version`, `watchdog_build_info`)."""
    try:
        return metadata.version("exec-watchdog")
    except metadata.PackageNotFoundError:
        return "unknown"
