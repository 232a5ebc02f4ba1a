"""Re-applying recorded history through the current code, partition by partition.

A replay starts from a checkpoint, re-reads both logs up to the recorded frontier, and applies them
with the same merge rule the service uses, switching the policy at every later checkpoint whose
policy differs (that is where the service restarted with new settings). Its results are the applied
inputs with what they decided, to compare (`--verify`), contrast (`--what-if`) or write out
(`--export`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from consumers.log_reader import LogReader
from consumers.partition import Applied, PartitionState
from exec_watchdog.adapters import snapshots
from exec_watchdog.adapters.audit_store import AuditStore, Checkpoint, DecisionRow
from exec_watchdog.adapters.store import Store
from schemas.inputs import InputEvent
from schemas.log_records import LogRecord
from schemas.outputs import Output
from statemachine.engine import Engine
from statemachine.policy import Policy

Respond = Callable[[list[Output]], list[InputEvent]]


@dataclass
class PartitionHistory:
    partition: int
    lifecycle_topic: str
    start: Checkpoint
    applied: list[Applied] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    """The policy digest in force for each applied input."""
    quiet: int = 0
    """Heartbeats of running executions, applied but not listed in `applied` (they decide nothing)."""
    recorded: list[DecisionRow] = field(default_factory=list)
    lifecycle: list[LogRecord] = field(default_factory=list)
    control: list[LogRecord] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)


class MissingHistory(Exception):
    """The store or the broker no longer holds what a replay needs."""


class Replayer:
    def __init__(self, store: Store, reader: LogReader, *, lifecycle_topic: str, control_topic: str) -> None:
        self.store = store
        self.audit: AuditStore = store.audit
        self.reader = reader
        self.lifecycle_topic = lifecycle_topic
        self.control_topic = control_topic

    def partitions(self) -> list[int]:
        return self.audit.partitions(self.lifecycle_topic)

    def policy(self, digest: str) -> Policy:
        values = self.audit.policy(digest)
        if values is None:
            raise MissingHistory(f"policy {digest} is not in the store")
        return Policy.model_validate_json(values)

    async def run(
        self,
        partition: int,
        *,
        since_us: int | None = None,
        policy: Policy | None = None,
        keep_control: Callable[[LogRecord], bool] = lambda r: True,
        respond: Respond | None = None,
        every_input: bool = False,
    ) -> PartitionHistory:
        """Replay one partition; `policy` overrides the recorded ones (what-if).

        Heartbeats that only moved time are counted in `quiet`, not listed, unless `every_input`.
        """
        marks = self.audit.checkpoints(self.lifecycle_topic, partition)
        if not marks:
            raise MissingHistory(f"no checkpoint for partition {partition}")
        start = marks[0]
        if since_us is not None:
            start = next((m for m in reversed(marks) if m.clock_us is None or m.clock_us <= since_us), marks[0])
        later = [
            m for m in marks if (m.lifecycle_offset, m.control_offset) > (start.lifecycle_offset, start.control_offset)
        ]
        recorded = self.audit.for_partition(self.lifecycle_topic, partition)
        end_l, end_c = self._frontier(partition, recorded, marks)
        history = PartitionHistory(partition, self.lifecycle_topic, start, recorded=recorded)
        history.lifecycle = await self.reader.read(self.lifecycle_topic, partition, start.lifecycle_offset, end_l)
        control = await self.reader.read(self.control_topic, partition, start.control_offset, end_c)
        history.control = [r for r in control if keep_control(r)]
        engine = snapshots.decode(start.snapshot, policy or self.policy(start.policy_digest))
        history.policies.append(start.policy_digest if policy is None else policy.digest)
        state = PartitionState(
            partition,
            engine,
            lifecycle_topic=self.lifecycle_topic,
            control_topic=self.control_topic,
            lifecycle_offset=start.lifecycle_offset,
            control_offset=start.control_offset,
            respond=respond,
            keep_quiet=every_input,
        )
        added_l, added_c = start.lifecycle_offset, start.control_offset
        for mark in [*later, None]:
            stop_l = end_l if mark is None else mark.lifecycle_offset
            stop_c = end_c if mark is None else mark.control_offset
            state.add_lifecycle([r for r in history.lifecycle if added_l <= r.offset < stop_l], fetched_to=stop_l)
            state.add_control([r for r in history.control if added_c <= r.offset < stop_c])
            added_l, added_c = max(added_l, stop_l), max(added_c, stop_c)
            drained = state.drain()
            history.applied += drained.applied
            history.quiet += drained.quiet
            history.digests += [history.policies[-1]] * len(drained.applied)
            if mark is not None and policy is None and mark.policy_digest != history.policies[-1]:
                state.engine = Engine(
                    self.policy(mark.policy_digest), state.engine.records.values(), state.engine.clock
                )
                history.policies.append(mark.policy_digest)
        return history

    def _frontier(self, partition: int, recorded: list[DecisionRow], marks: list[Checkpoint]) -> tuple[int, int]:
        """How far the service had got: its latest snapshot, checkpoint or recorded decision."""
        end_l = max(m.lifecycle_offset for m in marks)
        end_c = max(m.control_offset for m in marks)
        snap = self.store.load_partition(self.lifecycle_topic, partition)
        if snap is not None:
            end_l, end_c = max(end_l, snap.lifecycle_offset), max(end_c, snap.control_offset)
        for row in recorded:
            if row.source_topic == self.lifecycle_topic:
                end_l = max(end_l, row.source_offset + 1)
            else:
                end_c = max(end_c, row.source_offset + 1)
        return end_l, end_c
