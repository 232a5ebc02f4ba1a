"""Many executions, one input stream: routes each input to `decide` and keeps the deadlines.

Still pure: state in, outputs out, time only from the inputs. A tick costs in proportion to the
deadlines that fall due, not to the executions tracked: each record holds at most one live entry
in a heap of `(due, execution_id)`, re-armed lazily (a heartbeat only moves `last_seen`; when the
old deadline pops, the record is re-armed at its real deadline).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from schemas.fields import State
from schemas.inputs import CommandResult, InputEvent, LifecycleEvent, ProbeResult, Tick
from schemas.outputs import Command, Output, Transition
from statemachine.brake import Brake
from statemachine.decide import Due, Outage, Released, decide
from statemachine.ids import input_id
from statemachine.incident import incident_event, incident_over
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord
from statemachine.rules import believed, next_due
from statemachine.seen_ids import admit
from statemachine.tally import Tally
from statemachine.timestamps import to_micros
from statemachine.watch_gaps import shift, vouch


class Engine:
    def __init__(
        self,
        policy: Policy,
        records: Iterable[ExecutionRecord] = (),
        clock: int | None = None,
        brake: Brake | None = None,
        *,
        own: bool = False,
        armed: bool = False,
    ):
        self.policy = policy
        self.clock = clock
        """The latest tick time applied (event time, microseconds); None before the first tick."""
        self.records: dict[str, ExecutionRecord] = {}
        self.brake = brake or Brake()
        self._heap: list[tuple[int, str]] = []
        self.tally = Tally()
        self.states = self.tally.states
        """Executions remembered, by state."""
        self.notable = self.tally.notable
        """Executions suspected, idle or confirmed orphans: what an operator asks about."""
        self.changed: set[str] = set()
        """Executions whose record changed (or was forgotten) since the last incremental snapshot."""
        self.all_changed = True
        """Every record must be written again (a fresh engine, or one restored from a whole snapshot)."""
        self.shifted = 0
        """Every gap taken out of the watch so far, summed: a record written before a gap is moved by
        the difference when it is read back, so a gap rewrites nothing."""
        if own:
            self._restore(records, armed)
        else:
            for rec in records:
                self._store(None, rec.but(armed_at=None))
        self.changed.clear()  # covered by `all_changed` until a restore from rows says otherwise

    def _restore(self, records: Iterable[ExecutionRecord], armed: bool) -> None:
        """Records made for this engine (a snapshot's, `own=True`): taken as they are, armed in one heap
        build. `armed`: their `armed_at` were set by an engine under this very policy (each is a
        deadline that engine had in its heap, perhaps earlier than the true one, never later), so the
        heap is rebuilt from them as they are; otherwise every deadline is computed afresh."""
        add, store, heap = self.tally.add, self.records, self._heap
        for rec in records:
            add(rec)
            store[rec.execution_id] = rec
            if armed and rec.armed_at is not None:
                heap.append((rec.armed_at, rec.execution_id))
        if armed:
            heapq.heapify(heap)
        else:
            self._arm_all()

    def _arm_all(self) -> None:
        self._heap = []
        for rec in self.records.values():
            rec.armed_at = due = next_due(rec, self.policy)
            if due is not None:
                self._heap.append((due, rec.execution_id))
        heapq.heapify(self._heap)

    def apply(self, event: InputEvent) -> list[Output]:
        outputs = self._apply(event)
        if outputs:
            outputs += self._watch_for_spikes(outputs, input_id(event))
        return outputs

    def _apply(self, event: InputEvent) -> list[Output]:
        if isinstance(event, LifecycleEvent):
            return self._lifecycle(event)
        if isinstance(event, Tick):
            return self._tick(to_micros(event.now), input_id(event))
        if isinstance(event, ProbeResult):
            execution_id: str | None = event.execution_id
        else:
            execution_id = self.tally.commands.get(event.command_id)
        record = None if execution_id is None else self.records.get(execution_id)
        if record is None:
            return []
        return self._decide(record, event, input_id(event))

    def beat(self, execution_id: str, at: int, agent_name: str, event_id: str) -> bool:
        """The heartbeat hot path: True when the heartbeat was a running execution's, and is applied.

        It decides nothing and outputs nothing: only `last_seen` moves (the deadline re-arms lazily),
        and a repeated `event_id` moves nothing. Otherwise (an unknown or not running execution,
        another agent named, or a stamp not believed) it changes nothing: `apply` the event instead.
        """
        record = self.records.get(execution_id)
        if record is None or record.state is not State.RUNNING or record.agent_name != agent_name:
            return False
        if not believed(at, self.clock, self.policy):
            return False  # the full path counts it at the clock, and the audit says so
        window = admit(record.seen_ids, event_id)
        if window is None:
            return True  # a repeat: applied as nothing
        record.seen_ids = window
        self.changed.add(execution_id)
        if at > record.last_seen:
            record.last_seen = at
        return True

    def _lifecycle(self, event: LifecycleEvent) -> list[Output]:
        if event.type == "execution.heartbeat" and self.beat(
            event.execution_id, to_micros(event.occurred_at), event.agent_name, event.event_id
        ):
            return []
        record = self.records.get(event.execution_id)
        if record is None:
            new, outputs = decide(
                None, event, self.policy, input_id=event.event_id, clock=self.clock, braked=self.brake.engaged
            )
            if new is not None:
                self._store(None, new)
            return outputs
        return self._decide(record, event, event.event_id)

    def _decide(
        self, record: ExecutionRecord, event: ProbeResult | CommandResult | LifecycleEvent, iid: str
    ) -> list[Output]:
        agent, outage = record.agent_name, None
        failed_probe = isinstance(event, ProbeResult) and event.outcome == "unreachable"
        if failed_probe and not record.unreachable:
            announced = self.tally.unreachable[agent] > 0
            outage = Outage(announced, [] if announced else self._awaiting(agent))
        new, outputs = decide(
            record, event, self.policy, input_id=iid, clock=self.clock, braked=self.brake.engaged, outage=outage
        )
        self._store(record, new)
        if isinstance(event, ProbeResult) and not failed_probe and self.tally.unreachable[agent]:
            self._outage_over(agent)
        return outputs

    def _awaiting(self, agent: str) -> list[str]:
        """The agent's suspected executions (a scan, once per outage: only when it is announced)."""
        return sorted(
            r.execution_id for r in self.records.values() if r.agent_name == agent and r.state is State.SUSPECTED
        )

    def _outage_over(self, agent: str) -> None:
        """The agent answered a probe: its outage is over for all its executions (their next failed
        probe opens a new one, announced again)."""
        for record in [r for r in self.records.values() if r.agent_name == agent and r.unreachable]:
            self._store(record, record.but(unreachable=False))

    def _tick(self, now: int, iid: str) -> list[Output]:
        if self.clock is None:
            self._vouch(now)
        else:
            step = now - self.clock
            if step == 0:
                return []  # a repeated tick changes nothing
            watched = min(max(step, 0), self.policy.us.tick_gap)
            if watched != step:
                self._shift(step - watched)
        self.clock = now
        outputs = self._maybe_release(now, iid)
        popped: list[ExecutionRecord] = []
        while self._heap and self._heap[0][0] <= now:
            due, execution_id = heapq.heappop(self._heap)
            record = self.records.get(execution_id)
            if record is not None and record.armed_at == due:
                popped.append(record)
        # Decide in the order of the true deadlines, not of the heap entries: an engine restored from
        # a snapshot arms differently from one that re-armed lazily, and both must decide alike.
        popped.sort(key=lambda r: (next_due(r, self.policy) or now, r.execution_id))
        # Re-arm after the loop, so a deadline that is due again only runs at the next tick.
        # (The release ran before the pops, so each popped record is the engine's current one.) A due
        # record is decided disarmed, so whatever it decides is armed afresh.
        for record in popped:
            new, decided = decide(
                record.but(armed_at=None), Due(now), self.policy, input_id=iid, braked=self.brake.engaged
            )
            self._store(record, new)
            outputs.extend(decided)
        return outputs

    def _vouch(self, now: int) -> None:
        """The first tick judges the times claimed before it (`watch_gaps.vouch`); every record re-arms."""
        vouch(self.records.values(), now, self.policy)
        self.all_changed = True
        self._arm_all()

    def _shift(self, delta: int) -> None:
        """A gap in the watch is taken out of every time the engine holds (`watch_gaps.shift`)."""
        shift(self.records.values(), delta)
        self._heap = [(due + delta, execution_id) for due, execution_id in self._heap]  # order kept: a heap
        self.brake.shift(delta)
        self.shifted += delta

    def _store(self, old: ExecutionRecord | None, new: ExecutionRecord | None) -> None:
        if old is not None:
            self.tally.remove(old)
        if new is None:
            if old is not None:
                self.records.pop(old.execution_id, None)
                self.changed.add(old.execution_id)
            return
        self.tally.add(new)
        self.changed.add(new.execution_id)
        due = next_due(new, self.policy)
        armed = new.armed_at
        if due is not None and (armed is None or due < armed):
            heapq.heappush(self._heap, (due, new.execution_id))
            new.armed_at = due
        self.records[new.execution_id] = new

    # ---- the mass-failure brake ------------------------------------------------------------------

    def _watch_for_spikes(self, outputs: list[Output], iid: str) -> list[Output]:
        at = None
        for output in outputs:
            if not isinstance(output, Transition) or output.from_state is State.CONFIRMED_ORPHAN:
                continue  # confirmed -> suspected is the release's re-check, not a new suspicion
            if output.execution_id in self.brake.rechecking:
                self.brake.rechecking.discard(output.execution_id)  # its recheck has decided
                continue
            if output.to_state in (State.SUSPECTED, State.CONFIRMED_ORPHAN):
                at = to_micros(output.at)
                agent = self.records[output.execution_id].agent_name if output.execution_id in self.records else ""
                self.brake.note(at, output.execution_id, agent)
        if at is None or self.brake.engaged:
            return []
        self.brake.prune(max(at, self.clock or at), self.policy)
        spike = self.brake.spike(sum(self.tally.active.values()), self.tally.active, self.policy)
        if spike is None:
            return []
        self.brake.engaged_at = at
        self._hold_kills_in(outputs)
        return [incident_event(spike, at, sum(self.tally.active.values()), self.tally.active, self.policy, iid)]

    def _hold_kills_in(self, outputs: list[Output]) -> None:
        """The input that engaged the brake may have issued kills itself: they are held like the rest."""
        for output in list(outputs):
            if isinstance(output, Command) and output.kind in ("terminate", "mark_failed") and output.attempt == 0:
                outputs.remove(output)
                record = self.records[output.execution_id]
                self._store(record, record.but(held=True, action_kind=None, action_id=None))

    def _still_suspect(self, execution_id: str) -> bool:
        record = self.records.get(execution_id)
        return record is not None and record.state in (State.SUSPECTED, State.CONFIRMED_ORPHAN)

    def _maybe_release(self, now: int, iid: str) -> list[Output]:
        self.brake.prune(now, self.policy)
        if not self.brake.engaged or self.brake.spike(
            sum(self.tally.active.values()), self.tally.active, self.policy, self._still_suspect
        ):
            return []
        engaged_at, self.brake.engaged_at = self.brake.engaged_at or now, None
        self.brake.rechecking = set(self.tally.held)
        outputs: list[Output] = [incident_over(engaged_at, now, len(self.tally.held), iid)]
        for execution_id in sorted(self.tally.held):
            record = self.records[execution_id]
            new, decided = decide(record, Released(now), self.policy, input_id=iid)
            self._store(record, new)
            outputs += decided
        return outputs

    def subject(self, event: InputEvent) -> str | None:
        """The execution an input is about (None for a tick, or an answer to no command in flight)."""
        if isinstance(event, Tick):
            return None
        if isinstance(event, CommandResult):
            return self.tally.commands.get(event.command_id)
        return event.execution_id

    @property
    def held(self) -> frozenset[str]:
        """Executions whose terminate or failure mark the mass-failure brake holds."""
        return frozenset(self.tally.held)

    def next_deadline(self) -> int | None:
        """The earliest time a tick could decide something (it may find nothing due: entries re-arm lazily)."""
        return self._heap[0][0] if self._heap else None

    def unreachable_agents(self) -> list[str]:
        """The agents in an outage: the last probe of one of their running executions failed."""
        return sorted(agent for agent, waiting in self.tally.unreachable.items() if waiting > 0)

    def state_of(self, execution_id: str) -> State | None:
        record = self.records.get(execution_id)
        return None if record is None else record.state
