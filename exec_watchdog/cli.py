"""The `exec-watchdog` command line. Exit codes: 0 success, 1 a check failed, 2 bad usage or configuration."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from exec_watchdog.adapters.migrate import StoreNotMigrated
from exec_watchdog.settings import ConfigError, Settings, load_settings
from exec_watchdog.telemetry.masking import mask_text

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2
Handler = Callable[[argparse.Namespace, Settings], int]


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.audit.simulate import simulate

    if args.file is None or args.file == "-":
        simulate(sys.stdin, settings.policy(), sys.stdout, sys.stderr)
        return EXIT_OK
    try:
        with open(args.file, encoding="utf-8") as lines:
            simulate(lines, settings.policy(), sys.stdout, sys.stderr)
    except OSError as error:
        print(f"exec-watchdog simulate: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.export import write_schemas

    for path in write_schemas(Path(args.dir)):
        print(path)
    return EXIT_OK


def _cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(settings.masked(), indent=2, sort_keys=True, default=str))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.service.run import run_service

    return run_service(settings)


def _cmd_bridge(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.bridge.run import run_bridge

    return run_bridge(settings)


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.adapters.store import Store
    from exec_watchdog.audit.view import render, timeline

    store = Store(settings.database_url, settings.group_id, migrate=settings.auto_migrate)
    try:
        found = timeline(store, args.execution_id)
    finally:
        store.close()
    if found is None:
        print(f"exec-watchdog audit: nothing is recorded about execution {args.execution_id}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print(found.model_dump_json(indent=2) if args.json else render(found))
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.audit.replay import ReplayRequest, run_replay
    from exec_watchdog.settings import load_settings

    modes = [m for m, on in (("verify", args.verify), ("what-if", args.what_if), ("export", args.export)) if on]
    if len(modes) != 1:
        print("exec-watchdog replay: give exactly one of --verify, --what-if, --export FILE", file=sys.stderr)
        return EXIT_USAGE
    changes = dict(_assignment(a) for a in args.set or [])
    if modes[0] != "what-if" and changes:
        print("exec-watchdog replay: --set goes with --what-if", file=sys.stderr)
        return EXIT_USAGE
    what_if = None
    if modes[0] == "what-if":
        try:
            values = {k.lower().removeprefix("watchdog_"): _setting_value(v) for k, v in changes.items()}
            what_if = load_settings(args.config, **values)
        except ConfigError as error:
            print(f"exec-watchdog replay --what-if: {error}", file=sys.stderr)
            return EXIT_USAGE
    request = ReplayRequest(
        modes[0], since=args.since, execution_id=args.execution, changes=changes, export_path=args.export
    )
    return run_replay(settings, request, what_if)


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"exec-watchdog replay: --set takes SETTING=VALUE, got {text!r}")
    return name.strip().upper(), value.strip()


def _setting_value(text: str) -> object:
    """--set values: JSON objects and lists for settings that take them, text otherwise."""
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time, e.g. 2026-11-28T21:00:00Z") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset; add Z or +HH:MM")
    return moment


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.demo.run import run_demo

    return run_demo(args.duration, plain=True if args.plain else None)


def _cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import create_engine

    from exec_watchdog.adapters import migrate

    engine = create_engine(settings.database_url)
    try:
        if args.action == "upgrade":
            migrate.upgrade(engine)
        print(f"store schema revision: {migrate.current(engine) or 'none'} (this build: {migrate.head()})")
    finally:
        engine.dispose()
    return EXIT_OK


def _cmd_standin_agents(args: argparse.Namespace, settings: Settings) -> int:
    import signal
    import threading

    from exec_watchdog.demo.standin_fleet import StandinFleet

    fleet = StandinFleet(
        auth_secret=None if settings.agent_auth_secret is None else settings.agent_auth_secret.get_secret_value()
    )
    port = fleet.start(args.host, args.port, args.single)
    for x in args.running or []:
        fleet.start_execution(args.single or "research-bot", x)
    print(
        f"stand-in agents on {args.host}:{port}" + (f" (agent {args.single} at /)" if args.single else ""), flush=True
    )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    fleet.stop()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exec-watchdog",
        description="Finds stuck, orphaned and idle agent executions and recovers them.",
    )
    parser.add_argument("--config", type=Path, help="a TOML file of settings (environment overrides it)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="the service: consume lifecycle events, detect, recover")
    run.add_argument("--kafka-bootstrap", dest="kafka_bootstrap", help="overrides WATCHDOG_KAFKA_BOOTSTRAP")
    run.add_argument("--group-id", dest="group_id", help="overrides WATCHDOG_GROUP_ID")
    run.add_argument("--http-port", dest="http_port", type=int, help="overrides WATCHDOG_HTTP_PORT")
    run.set_defaults(handler=_cmd_run)

    bridge = commands.add_parser("bridge", help="publish lifecycle events read from the platform database")
    bridge.add_argument("--kafka-bootstrap", dest="kafka_bootstrap", help="overrides WATCHDOG_KAFKA_BOOTSTRAP")
    bridge.set_defaults(handler=_cmd_bridge)

    demo = commands.add_parser("demo", help="see it work: local broker, stand-in agents, a story, live view")
    demo.add_argument("--duration", type=float, default=60.0, help="seconds before it ends (default 60)")
    demo.add_argument("--plain", action="store_true", help="print recoveries as lines instead of a live view")
    demo.set_defaults(handler=_cmd_demo)

    sim = commands.add_parser("simulate", help="offline: input events as JSON lines in, decisions out")
    sim.add_argument("file", nargs="?", help="JSON lines file (default: standard input)")
    sim.set_defaults(handler=_cmd_simulate)

    audit = commands.add_parser("audit", help="the timeline of one execution, with the reasons")
    audit.add_argument("execution_id")
    audit.add_argument("--json", action="store_true", help="machine-readable")
    audit.set_defaults(handler=_cmd_audit)

    replay = commands.add_parser("replay", help="re-run recorded history: --verify, --what-if, --export")
    replay.add_argument("--verify", action="store_true", help="compare every decision with the recorded one")
    replay.add_argument("--what-if", dest="what_if", action="store_true", help="replay under other settings")
    replay.add_argument("--set", action="append", metavar="SETTING=VALUE", help="with --what-if; repeatable")
    replay.add_argument("--export", metavar="FILE", help="write the recorded inputs as JSON lines for simulate")
    replay.add_argument("--since", type=_timestamp, help="start at this time (RFC 3339)")
    replay.add_argument("--execution", help="only this execution")
    replay.add_argument("--kafka-bootstrap", dest="kafka_bootstrap", help="overrides WATCHDOG_KAFKA_BOOTSTRAP")
    replay.set_defaults(handler=_cmd_replay)

    schemas = commands.add_parser("schemas", help="write the JSON Schemas of every event")
    schemas.add_argument("dir", nargs="?", default="schemas-json", help="output folder (default: schemas-json)")
    schemas.set_defaults(handler=_cmd_schemas)

    db = commands.add_parser("db", help="the store's schema: upgrade it, or show its revision")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(handler=_cmd_db)

    standin = commands.add_parser(
        "standin-agents", help="serve stand-in agents that speak the agent API (demos, tests)"
    )
    standin.add_argument("--host", default="127.0.0.1")
    standin.add_argument("--port", type=int, default=8000)
    standin.add_argument("--single", metavar="AGENT", help="one agent, answering at the root path")
    standin.add_argument("--running", action="append", metavar="EXECUTION_ID", help="an execution it runs")
    standin.set_defaults(handler=_cmd_standin_agents)

    config = commands.add_parser("config", help="print the effective configuration, secrets masked")
    config.set_defaults(handler=_cmd_config)
    return parser


_OVERRIDES = ("kafka_bootstrap", "group_id", "http_port")


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")  # outputs carry non-ASCII text (contract §3)
    args = build_parser().parse_args(argv)
    overrides = {name: getattr(args, name, None) for name in _OVERRIDES}
    try:
        settings = load_settings(args.config, **overrides)
    except ConfigError as error:
        print(f"exec-watchdog: configuration error\n{mask_text(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except StoreNotMigrated as error:
        print(f"exec-watchdog: {mask_text(str(error))}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
