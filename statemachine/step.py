"""One decision under construction: the record as it changes, and the outputs in decision order."""

from __future__ import annotations

from typing import Any

from schemas.fields import State
from schemas.outputs import Command, CommandKind, Output, RecoveryAction, RecoveryEvent, Transition
from statemachine import texts
from statemachine.graph import TABLE
from statemachine.ids import command_id, recovery_event_id
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord, RecoveryKind
from statemachine.rules import GUARD_FUNCS, may_terminate, over_timeout, timeout_us
from statemachine.timestamps import from_micros


class Step:
    """`at` is the deciding input's event time; `now` is the moment guards judge (never earlier)."""

    __slots__ = ("_bumped", "_own", "at", "braked", "input_id", "now", "outputs", "policy", "rec")

    def __init__(
        self, rec: ExecutionRecord, policy: Policy, *, at: int, now: int, input_id: str, braked: bool = False
    ) -> None:
        self.rec = rec
        self.policy = policy
        self.at = at
        self.now = now
        self.input_id = input_id
        self.outputs: list[Output] = []
        self._bumped = False
        self._own = False
        """`rec` is this step's own copy (the given record is never changed: decide returns a new one)."""
        self.braked = braked
        """The mass-failure brake holds terminations and failure marks."""

    def update(self, **changes: Any) -> None:
        if not self._own:
            self.rec = self.rec.but(**changes)
            self._own = True
            return
        for name, value in changes.items():
            setattr(self.rec, name, value)

    def result(self) -> tuple[ExecutionRecord, list[Output]]:
        return self.rec, self.outputs

    # ---- outputs -------------------------------------------------------------------------------

    def _emit(self, output: Output) -> None:
        if not self._bumped:
            self._bumped = True
            self.update(seq=self.rec.seq + 1)
        self.outputs.append(output)

    def _next_seq(self) -> int:
        return self.rec.seq + (0 if self._bumped else 1)

    def command(self, kind: CommandKind, *, reuse_id: str | None = None) -> str:
        cid = reuse_id or command_id(self.rec.execution_id, self._next_seq(), kind)
        marking = kind == "mark_failed"
        self._emit(
            Command(
                command_id=cid,
                kind=kind,
                execution_id=self.rec.execution_id,
                agent_name=self.rec.agent_name,
                at=from_micros(self.at),
                error=self.rec.error if marking else None,
                attempt=self.rec.action_attempts if reuse_id else 0,
            )
        )
        return cid

    def recover(self, action: RecoveryAction, reason: str, *, caused_by: tuple[str, ...] = ()) -> None:
        causes = tuple(dict.fromkeys((*caused_by, self.input_id)))
        self._emit(
            RecoveryEvent(
                event_id=recovery_event_id(self.rec.execution_id, self._next_seq(), action),
                action=action,
                execution_id=self.rec.execution_id,
                agent_name=self.rec.agent_name,
                state=self.rec.state,
                reason=reason,
                error=self.rec.error if self.rec.state is State.FAILED else None,
                decided_at=from_micros(self.at),
                caused_by=causes,
            )
        )

    # ---- the graph -------------------------------------------------------------------------------

    def fire(self, trigger: str, cause: str) -> bool:
        """Take the first transition whose guards hold; False when none applies."""
        for candidate in TABLE.get((self.rec.state, trigger), ()):
            if all(GUARD_FUNCS[g.name](self.rec, self.now, self.policy) is g.expected for g in candidate.guards):
                source = self.rec.state
                if self.braked and candidate.dest in (State.CONFIRMED_ORPHAN, State.IDLE):
                    cause += "; any terminate or failure mark is held by the mass-failure brake"
                self._emit(
                    Transition(
                        execution_id=self.rec.execution_id,
                        from_state=source,
                        to_state=candidate.dest,
                        at=from_micros(self.at),
                        cause=cause,
                    )
                )
                self.update(state=candidate.dest)
                self._on_enter(candidate.dest, trigger)
                return True
        return False

    def _on_enter(self, state: State, trigger: str) -> None:
        if state is State.RUNNING:
            self.update(idle_announced=False)
        elif state is State.SUSPECTED:
            self.probe()
        elif state is State.IDLE:
            self._enter_idle()
        elif state is State.CONFIRMED_ORPHAN:
            self.update(evidence_at=self.at, cause_id=self.input_id)
            self.start_mark_failed("orphan", texts.ORPHAN_ERROR)
        elif state.is_terminal:
            self.update(ended_at=self.at, action_kind=None, action_id=None, retry_at=None, next_probe_at=None)
            if trigger == "marked_failed":
                self.announce_recovery()

    # ---- effects -------------------------------------------------------------------------------

    def hold_for_identity(self, other_agent: str, event_id: str) -> None:
        """Two agents claim this execution: nothing more is done to it; one `incident` says why."""
        self.update(conflict_agent=other_agent, next_probe_at=None)
        reason = texts.identity_conflict_reason(self.rec.execution_id, self.rec.agent_name, other_agent, event_id)
        self.recover("incident", reason)

    def probe(self) -> None:
        if self.rec.conflict_agent is not None:
            return
        self.command("probe")
        backoff = self.policy.backoff_micros(
            self.policy.probe_retry_s, self.policy.probe_retry_max_s, self.rec.probe_attempts
        )
        self.update(next_probe_at=self.at + backoff)

    def _enter_idle(self) -> None:
        if not self.rec.idle_announced:
            limit = timeout_us(self.rec, self.policy)
            reason = texts.idle_reason(  # as of the latest sign of life, as `is_idle` judged it
                quiet_us=self.rec.last_seen - self.rec.last_activity,
                idle_after_us=self.policy.us.idle_after,
                ran_us=self.rec.last_seen - self.rec.started_at,
                timeout_us=limit,
                auto=self.policy.auto_terminate,
            )
            self.recover("idle_detected", reason)
            self.update(idle_announced=True)
        self.maybe_terminate()

    def maybe_terminate(self) -> None:
        if (
            self.policy.auto_terminate
            and self.rec.action_kind is None
            and may_terminate(self.rec)
            and over_timeout(self.rec, self.policy)
        ):
            if self.braked:
                self.update(held=True)
                return
            cid = self.command("terminate")  # the first and only one: nothing was in flight before it
            self.update(action_kind="terminate", action_id=cid, cause_id=self.input_id)

    def start_mark_failed(self, recovery: RecoveryKind, error: str) -> None:
        self.update(error=error, recovery=recovery)
        if self.rec.conflict_agent is not None:
            return
        if self.braked:
            self.update(held=True)
            return
        cid = self.command("mark_failed")
        self.update(action_kind="mark_failed", action_id=cid, action_attempts=0, retry_at=None)

    def announce_recovery(self) -> None:
        rec = self.rec
        evidence = rec.evidence_at if rec.evidence_at is not None else self.at
        causes = () if rec.cause_id is None else (rec.cause_id,)
        if rec.recovery == "timeout":
            limit = timeout_us(rec, self.policy)
            reason = texts.terminated_reason(rec.agent_name, evidence - rec.started_at, limit, evidence)
            self.recover("auto_terminated", reason, caused_by=causes)
        else:
            self.recover("orphan_recovered", texts.orphan_reason(rec.agent_name, evidence), caused_by=causes)
