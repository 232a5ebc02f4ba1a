"""The `exec-watchdog` command line. Exit codes: 0 success, 1 a check failed, 2 bad usage or configuration."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from exec_watchdog import version
from exec_watchdog.adapters.migrate import StoreNotMigrated
from exec_watchdog.cli import handlers
from exec_watchdog.settings import ConfigError, Settings, load_settings
from exec_watchdog.telemetry.masking import mask_text

CONFIG_HELP = "a TOML file of settings (the environment overrides it; default: $WATCHDOG_CONFIG)"
SETTINGS_NOTE = "Settings come from WATCHDOG_* variables and --config (see `exec-watchdog config`)."
Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exec-watchdog",
        description="Finds stuck, orphaned and idle agent executions and recovers them.",
    )
    parser.add_argument("--config", type=Path, help=CONFIG_HELP)
    parser.add_argument("--version", action="version", version=f"exec-watchdog {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)

    def command(name: str, summary: str, more: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=summary, description=f"{more} {SETTINGS_NOTE}")

    run = command(
        "run",
        "the service: consume lifecycle events, detect, recover",
        "Consumes lifecycle events from Kafka, decides per execution (suspected, orphan, idle) and carries "
        "out probes, terminates, failure marks and recovery events; serves /healthz, /readyz and /metrics.",
    )
    run.add_argument("--kafka-bootstrap", dest="kafka_bootstrap", help="overrides WATCHDOG_KAFKA_BOOTSTRAP")
    run.add_argument("--group-id", dest="group_id", help="overrides WATCHDOG_GROUP_ID")
    run.add_argument("--http-port", dest="http_port", type=int, help="overrides WATCHDOG_HTTP_PORT")
    run.set_defaults(handler=handlers.run_run)

    bridge = command(
        "bridge",
        "publish lifecycle events read from the platform database",
        "For platforms that emit no lifecycle events: every BRIDGE_INTERVAL_S reads the platform's running "
        "executions and its agents' running lists, follows their log streams for activity, and publishes "
        "started, heartbeat, activity and end events.",
    )
    bridge.add_argument("--kafka-bootstrap", dest="kafka_bootstrap", help="overrides WATCHDOG_KAFKA_BOOTSTRAP")
    bridge.set_defaults(handler=handlers.run_bridge)

    demo = command(
        "demo",
        "see it work: local broker, stand-in agents, a story, live view",
        "Starts a local broker, stand-in agents and the real service on SQLite, plays about twenty "
        "executions (healthy, hung, orphaned, unreachable) and shows what the watchdog does.",
    )
    demo.add_argument("--duration", type=float, default=60.0, help="seconds before it ends (default 60)")
    demo.add_argument("--plain", action="store_true", help="print recoveries as lines instead of a live view")
    demo.set_defaults(handler=handlers.run_demo)

    sim = command(
        "simulate",
        "offline: input events as JSON lines in, decisions out",
        "Runs the decision core over a file of input events (lifecycle events, ticks, probe and command "
        "results) and prints transitions, commands and recovery events; no broker, store or agent.",
    )
    sim.add_argument("file", nargs="?", help="JSON lines file (default: standard input)")
    sim.set_defaults(handler=handlers.run_simulate)

    audit = command(
        "audit",
        "the timeline of one execution, with the reasons",
        "Reads the store's decision records and effect outcomes for one execution: every input, "
        "transition, command and recovery event, with its cause and the thresholds in force.",
    )
    audit.add_argument("execution_id")
    audit.add_argument("--json", action="store_true", help="machine-readable")
    audit.set_defaults(handler=handlers.run_audit)

    replay = command(
        "replay",
        "re-run recorded history: --verify, --what-if, --export",
        "Reads the recorded inputs back from Kafka and decides again: compares with what was decided "
        "(--verify), shows what other settings would have decided (--what-if), or writes them for simulate.",
    )
    replay.add_argument("--verify", action="store_true", help="compare every decision with the recorded one")
    replay.add_argument("--what-if", dest="what_if", action="store_true", help="replay under other settings")
    replay.add_argument("--set", action="append", metavar="SETTING=VALUE", help="with --what-if; repeatable")
    replay.add_argument("--export", metavar="FILE", help="write the recorded inputs as JSON lines for simulate")
    replay.add_argument("--since", type=handlers.timestamp, help="start at this time (RFC 3339)")
    replay.add_argument("--execution", help="only this execution")
    replay.add_argument("--kafka-bootstrap", dest="kafka_bootstrap", help="overrides WATCHDOG_KAFKA_BOOTSTRAP")
    replay.set_defaults(handler=handlers.run_replay)

    schemas = command(
        "schemas",
        "write the JSON Schemas of every event",
        "Writes one JSON Schema file per input and output event into a folder.",
    )
    schemas.add_argument("dir", nargs="?", default="schemas-json", help="output folder (default: schemas-json)")
    schemas.set_defaults(handler=handlers.run_schemas)

    db = command(
        "db",
        "the store's schema: upgrade it, or show its revision",
        "Brings the store's schema up to date (upgrade) or prints its revision (current).",
    )
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(handler=handlers.run_db)

    standin = command(
        "standin-agents",
        "serve stand-in agents that speak the agent API (demos, tests)",
        "Serves agents that answer the agent API like Trinity's agent server, for demos and trials by hand.",
    )
    standin.add_argument("--host", default="127.0.0.1")
    standin.add_argument("--port", type=int, default=8000)
    standin.add_argument("--single", metavar="AGENT", help="one agent, answering at the root path")
    standin.add_argument("--running", action="append", metavar="EXECUTION_ID", help="an execution it runs")
    standin.set_defaults(handler=handlers.run_standin_agents)

    status = command(
        "status",
        "what the watchdog thinks right now: suspected, idle, unreachable agents, incident",
        "Reads the status every running instance writes to the store (every SNAPSHOT_INTERVAL_S): "
        "executions by state, the ones suspected, idle or confirmed orphan with since when and why, agents "
        "whose probes fail with the cause, the incident, the consumer lag. No HTTP port needed.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable")
    status.set_defaults(handler=handlers.run_status)

    config = command(
        "config",
        "print the effective configuration, secrets masked",
        "Prints every setting as the commands see it, as JSON, secrets and URL credentials masked.",
    )
    config.set_defaults(handler=handlers.run_config)
    return parser


_OVERRIDES = ("kafka_bootstrap", "group_id", "http_port")


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")  # outputs carry non-ASCII text (contract §3)
    args = build_parser().parse_args(argv)
    overrides = {name: getattr(args, name, None) for name in _OVERRIDES}
    try:
        args.config = args.config or _config_from_environment()
        settings = load_settings(args.config, **overrides)
    except ConfigError as error:
        print(f"exec-watchdog: configuration error\n{mask_text(str(error))}", file=sys.stderr)
        return handlers.EXIT_USAGE
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except StoreNotMigrated as error:
        print(f"exec-watchdog: {mask_text(str(error))}", file=sys.stderr)
        return handlers.EXIT_USAGE


def _config_from_environment() -> Path | None:
    named = os.environ.get("WATCHDOG_CONFIG")
    return Path(named) if named else None


if __name__ == "__main__":
    sys.exit(main())
