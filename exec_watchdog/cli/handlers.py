"""What each `exec-watchdog` command does, once its arguments and settings are read."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from exec_watchdog.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from exec_watchdog.adapters.store import Store

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


def run_simulate(args: argparse.Namespace, settings: Settings) -> int:
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


def run_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.export import write_schemas

    for path in write_schemas(Path(args.dir)):
        print(path)
    return EXIT_OK


def run_config(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(settings.masked(), indent=2, sort_keys=True, default=str))
    return EXIT_OK


def run_run(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.service.run import run_service

    return run_service(settings)


def run_bridge(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.bridge.run import run_bridge

    return run_bridge(settings)


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.audit.view import render, timeline

    store = existing_store("audit", settings)
    if store is None:
        return EXIT_USAGE
    try:
        found = timeline(store, args.execution_id)
    finally:
        store.close()
    if found is None:
        print(f"exec-watchdog audit: nothing is recorded about execution {args.execution_id}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print(found.model_dump_json(indent=2) if args.json else render(found))
    return EXIT_OK


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.audit.replay import ReplayRequest, run_replay

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


def timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time, e.g. 2026-11-28T21:00:00Z") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset; add Z or +HH:MM")
    return moment


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.demo.run import run_demo

    return run_demo(args.duration, plain=True if args.plain else None)


def run_db(args: argparse.Namespace, settings: Settings) -> int:
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


def run_standin_agents(args: argparse.Namespace, settings: Settings) -> int:
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


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from exec_watchdog.audit.status_view import render_status, status_json

    store = existing_store("status", settings)
    if store is None:
        return EXIT_USAGE
    try:
        rows = store.status.all()
    finally:
        store.close()
    show = status_json if args.json else render_status
    print(show(settings.group_id, rows, settings.snapshot_interval_s))
    return EXIT_OK


def existing_store(command: str, settings: Settings) -> Store | None:
    """The store a reading command opens, or None (said on stderr) when it is not there."""
    from exec_watchdog.adapters.store import Store

    missing = missing_store(settings.database_url)
    if missing is not None:
        print(f"exec-watchdog {command}: {missing}", file=sys.stderr)
        return None
    return Store(settings.database_url, settings.group_id, migrate=settings.auto_migrate)


def missing_store(url: str) -> str | None:
    """Why a reading command must not open this store: a SQLite file that is not there would be
    created empty, and the answer would be "nothing is recorded" instead of "wrong place"."""
    if not url.startswith("sqlite:///") or url in ("sqlite://", "sqlite:///:memory:"):
        return None
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    if path.exists():
        return None
    return (
        f"setting WATCHDOG_DATABASE_URL: there is no store at {path.resolve()}; give the service's own "
        "DATABASE_URL (a relative SQLite path counts from the current directory)"
    )
