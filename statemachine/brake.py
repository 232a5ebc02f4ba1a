"""The mass-failure brake: when many executions look dead at once, hold every kill.

Many executions turning suspected or confirmed together are far more likely a broken heartbeat
pipeline, a network partition or an agent fleet restart than independent hangs. Within
`BRAKE_WINDOW_S`, once at least `BRAKE_MIN_EXECUTIONS` distinct executions became suspected or
confirmed orphans and they are at least `BRAKE_SHARE` of the executions tracked (in all, or on one
agent), the brake engages: one `incident` is announced, terminations and failure marks are held,
probing goes on. It releases by itself as soon as the spike has subsided: too few of those
executions are still suspect (probes or heartbeats cleared them) or the window has passed; held
orphans are then probed again before anything is done to them. Pure: time comes from the ticks that prune the window.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from statemachine.policy import Policy


@dataclass
class Brake:
    engaged_at: int | None = None
    recent: deque[tuple[int, str, str]] = field(default_factory=deque)
    """(when, execution, agent) of recent suspicions, oldest first."""
    rechecking: set[str] = field(default_factory=set)
    """Executions held by the last incident and probed again: their recheck is not a new spike."""

    @property
    def engaged(self) -> bool:
        return self.engaged_at is not None

    def shift(self, delta: int) -> None:
        """Time nobody watched is taken out: the window's times move with the records'. `engaged_at`
        stays: it names the incident, and its end must carry the same name."""
        self.recent = deque((at + delta, x, agent) for at, x, agent in self.recent)

    def note(self, at: int, execution_id: str, agent: str) -> None:
        self.recent.append((at, execution_id, agent))

    def prune(self, now: int, policy: Policy) -> None:
        horizon = now - policy.micros(policy.brake_window_s)
        while self.recent and self.recent[0][0] < horizon:
            self.recent.popleft()

    def spike(
        self,
        tracked: int,
        tracked_by_agent: Counter[str],
        policy: Policy,
        still_suspect: Callable[[str], bool] = lambda execution_id: True,
    ) -> tuple[str, list[str]] | None:
        """(scope, affected executions) when the spike calls for the brake, else None. Only executions
        still suspected or confirmed count: once probes or heartbeats have cleared them, it has subsided."""
        if not policy.brake_enabled:
            return None
        affected: dict[str, str] = {}
        for _, execution_id, agent in self.recent:
            if still_suspect(execution_id):
                affected[execution_id] = agent
        if len(affected) < policy.brake_min_executions:
            return None
        if len(affected) >= policy.brake_share * max(tracked, 1):
            return "fleet", sorted(affected)
        per_agent = Counter(affected.values())
        for agent, count in sorted(per_agent.items()):
            if count >= policy.brake_min_executions and count >= policy.brake_share * max(tracked_by_agent[agent], 1):
                return agent, sorted(x for x, a in affected.items() if a == agent)
        return None
