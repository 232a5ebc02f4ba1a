"""The `exec-watchdog` command line. Exit codes: 0 success, 1 a check failed, 2 bad usage or configuration."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from app.settings import ConfigError, Settings, load_settings

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2
Handler = Callable[[argparse.Namespace, Settings], int]


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from app.simulate import simulate

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
    from app.run import run_service

    return run_service(settings)


def _cmd_bridge(args: argparse.Namespace, settings: Settings) -> int:
    from app.bridge import run_bridge

    return run_bridge(settings)


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

    sim = commands.add_parser("simulate", help="offline: input events as JSON lines in, decisions out")
    sim.add_argument("file", nargs="?", help="JSON lines file (default: standard input)")
    sim.set_defaults(handler=_cmd_simulate)

    schemas = commands.add_parser("schemas", help="write the JSON Schemas of every event")
    schemas.add_argument("dir", nargs="?", default="schemas-json", help="output folder (default: schemas-json)")
    schemas.set_defaults(handler=_cmd_schemas)

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
        print(f"exec-watchdog: configuration error\n{error}", file=sys.stderr)
        return EXIT_USAGE
    handler: Handler = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
