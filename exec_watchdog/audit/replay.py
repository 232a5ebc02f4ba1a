"""`exec-watchdog replay`: --verify, --what-if, --export over the recorded history."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from consumers.decision_records import event_time
from consumers.log_reader import LogReader
from consumers.partition import Applied
from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.export_file import ExportHeader, PolicyChange
from exec_watchdog.audit.replay_run import MissingHistory, PartitionHistory, Replayer
from exec_watchdog.audit.replay_verify import first_difference
from exec_watchdog.audit.what_if import Report, Truth, is_answer
from exec_watchdog.service.collector import tune_for_long_lived_state
from exec_watchdog.settings import Settings
from schemas.inputs import Tick
from schemas.outputs import RecoveryEvent
from statemachine.policy import Policy
from statemachine.timestamps import to_micros

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class ReplayRequest:
    mode: str  # "verify", "what-if" or "export"
    since: datetime | None = None
    execution_id: str | None = None
    changes: dict[str, str] | None = None
    export_path: str | None = None
    as_json: bool = False


def run_replay(settings: Settings, request: ReplayRequest, what_if_settings: Settings | None = None) -> int:
    if not settings.kafka_bootstrap:
        print(
            "exec-watchdog replay: setting WATCHDOG_KAFKA_BOOTSTRAP is not set; replays re-read the logs from Kafka",
            file=sys.stderr,
        )
        return EXIT_USAGE
    tune_for_long_lived_state()
    store = Store(settings.database_url, settings.group_id, migrate=settings.auto_migrate)
    replayer = Replayer(
        store,
        LogReader(settings.kafka()),
        lifecycle_topic=settings.lifecycle_topic,
        control_topic=settings.control_topic,
    )
    try:
        return asyncio.run(_replay(replayer, request, None if what_if_settings is None else what_if_settings.policy()))
    except MissingHistory as error:
        print(f"exec-watchdog replay: {error}", file=sys.stderr)
        return EXIT_DIFFERENT
    finally:
        store.close()


async def _replay(replayer: Replayer, request: ReplayRequest, what_if: Policy | None) -> int:
    since_us = None if request.since is None else to_micros(request.since)
    partitions = replayer.partitions()
    if not partitions:
        print("exec-watchdog replay: nothing is recorded in this store for this group and topic", file=sys.stderr)
        return EXIT_DIFFERENT
    if request.mode == "verify":
        return await _verify(replayer, partitions, request, since_us)
    if request.mode == "export":
        return await _export(replayer, partitions, request, since_us)
    assert what_if is not None
    recorded = [await replayer.run(p, since_us=since_us) for p in partitions]
    changed = [
        await replayer.run(
            p,
            since_us=since_us,
            policy=what_if,
            keep_control=lambda r: not is_answer(r),
            respond=Truth.of(h.lifecycle, h.control).respond,
        )
        for p, h in zip(partitions, recorded, strict=True)
    ]
    report = Report(request.changes or {})
    for history in recorded:
        report.add(
            [history],
            [c for c in changed if c.partition == history.partition],
            Truth.of(history.lifecycle, history.control),
        )
    print(report.render())
    return EXIT_OK


async def _verify(replayer: Replayer, partitions: list[int], request: ReplayRequest, since_us: int | None) -> int:
    checked = 0
    for p in partitions:
        history = await replayer.run(p, since_us=since_us)
        difference = first_difference(history, execution_id=request.execution_id, since_us=since_us)
        if difference is not None:
            print(difference.render())
            return EXIT_DIFFERENT
        checked += len(history.applied) + history.quiet
    print(f"replay --verify: {checked} inputs re-applied over {len(partitions)} partitions; every decision identical")
    return EXIT_OK


async def _export(replayer: Replayer, partitions: list[int], request: ReplayRequest, since_us: int | None) -> int:
    """Each partition that holds what is asked for, opened by its header (policy included); with
    `--execution`, only that execution's partition, its ticks and its inputs (and every input of the
    partition if the mass-failure brake acted there: the others' suspicions then shape its decisions)."""
    assert request.export_path is not None
    written = 0
    histories = [await replayer.run(p, every_input=True) for p in partitions]
    if request.execution_id is not None:
        histories = [h for h in histories if any(_about(a, request.execution_id) for a in h.applied)]
    with open(request.export_path, "w", encoding="utf-8") as out:
        for history in histories:
            written += _write_partition(history, replayer, out, request.execution_id, since_us)
    print(f"replay --export: {written} inputs written to {request.export_path}; `exec-watchdog simulate` replays them")
    return EXIT_OK


def _write_partition(
    history: PartitionHistory, replayer: Replayer, out: TextIO, execution_id: str | None, since_us: int | None
) -> int:
    braked = any(isinstance(o, RecoveryEvent) and o.action == "incident" for a in history.applied for o in a.outputs)
    only = None if braked else execution_id
    digest = history.digests[0] if history.digests else history.policies[0]
    out.write(ExportHeader(partition=history.partition, policy=replayer.policy(digest)).model_dump_json() + "\n")
    written = 0
    for applied, in_force in zip(history.applied, history.digests, strict=True):
        if in_force != digest:
            digest = in_force
            out.write(PolicyChange(policy=replayer.policy(digest)).model_dump_json() + "\n")
        keep = isinstance(applied.event, Tick) or only is None or _about(applied, only)
        if keep and (since_us is None or event_time(applied.event) >= since_us):
            out.write(applied.event.model_dump_json(exclude_none=True) + "\n")
            written += 1
    return written


def _about(applied: Applied, execution_id: str) -> bool:
    subjects = {c.execution_id for c in applied.changes}
    return execution_id in subjects or getattr(applied.event, "execution_id", None) == execution_id
