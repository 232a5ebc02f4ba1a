"""Prometheus metrics of one service instance (its own registry, so instances can share a process)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

from exec_watchdog import version
from exec_watchdog.telemetry.status import StatusBoard
from schemas.fields import State
from schemas.outputs import Command, Output, RecoveryEvent, Transition
from statemachine.engine import Engine
from statemachine.texts import OVERRIDDEN_BY_SUCCESS
from statemachine.timestamps import to_micros


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("watchdog_events_consumed_total", "Input records applied", ["topic"], registry=r)
        self.transitions = Counter(
            "watchdog_transitions_total", "State transitions decided", ["from_state", "to_state"], registry=r
        )
        self.commands = Counter(
            "watchdog_commands_total",
            "Commands executed, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.recoveries = Counter("watchdog_recoveries_total", "Recovery events decided", ["action"], registry=r)
        self.false_positives = Counter(
            "watchdog_false_positives_total",
            "Ends the platform recorded over the watchdog's (`overridden`): success_over_failed, ended_before_mark",
            ["reason"],
            registry=r,
        )
        self.dlq = Counter("watchdog_dlq_total", "Input records sent to the dead-letter topic", registry=r)
        self.lag = Gauge(
            "watchdog_consumer_lag",
            "Records not yet read, by topic and partition",
            ["topic", "partition"],
            registry=r,
        )
        self.tracked = Gauge("watchdog_tracked_executions", "Executions in memory", registry=r)
        self.partitions = Gauge("watchdog_assigned_partitions", "Partitions this instance owns", registry=r)
        self.tick_seconds = Histogram("watchdog_tick_publish_seconds", "Time to publish one round of ticks", registry=r)
        self.store_seconds = Histogram(
            "watchdog_store_seconds", "Store operations, by operation", ["operation"], registry=r
        )
        self.webhook = Counter(
            "watchdog_webhook_deliveries_total", "Webhook attempts, by result", ["result"], registry=r
        )
        self.incident = Gauge("watchdog_incident_active", "1 while the mass-failure brake holds", registry=r)
        self.agent_calls = Histogram(
            "watchdog_agent_call_seconds",
            "Agent API calls, by call and outcome",
            ["call", "outcome"],
            registry=r,
        )
        self.agent_failures = Counter(
            "watchdog_agent_failures_total",
            "Agent calls that got no usable answer (a probe unreachable, a terminate failed), by agent",
            ["agent"],
            registry=r,
        )
        self.detection = Histogram(
            "watchdog_detection_seconds",
            "From an execution's last sign of life to its suspicion: HEARTBEAT_TIMEOUT_S plus the delay to the tick",
            buckets=(1, 2, 5, 10, 15, 30, 45, 60, 90, 95, 100, 120, 180, 300, 600, 1800),
            registry=r,
        )
        self.executions = Gauge("watchdog_executions", "Executions in memory, by state", ["state"], registry=r)
        self.unreachable = Gauge(
            "watchdog_agent_unreachable",
            "1 while an agent's probes fail (the cause: the service's log and `audit`)",
            ["agent"],
            registry=r,
        )
        build = Gauge("watchdog_build_info", "The running build (always 1)", ["version"], registry=r)
        build.labels(version()).set(1)
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        self.board = StatusBoard()
        """When and why notable executions got where they are, for `status` (fed with the same outputs)."""

    def show_engines(self, engines: Iterable[Engine]) -> None:
        """The gauges that describe the owned partitions' state: tracked, by state, outages, incident."""
        states: Tally[State] = Tally()
        unreachable: set[str] = set()
        incident = False
        for engine in engines:
            states.update(engine.states)
            unreachable.update(engine.unreachable_agents())
            incident = incident or engine.brake.engaged
        self.tracked.set(sum(states.values()))
        for state in State:
            self.executions.labels(state.value).set(states[state])
        self.unreachable.clear()
        for agent in sorted(unreachable):
            self.unreachable.labels(agent).set(1)
        self.incident.set(1 if incident else 0)

    def count_outputs(self, outputs: list[Output], engine: Engine | None = None) -> None:
        """Counts what was decided; with the deciding engine, also how long each suspect had been silent."""
        self.board.note(outputs)
        for output in outputs:
            if isinstance(output, Transition):
                self.transitions.labels(output.from_state.value, output.to_state.value).inc()
                if engine is not None and output.to_state is State.SUSPECTED and output.from_state in _WATCHED:
                    record = engine.records.get(output.execution_id)
                    if record is not None:
                        self.detection.observe(max(0, to_micros(output.at) - record.last_seen) / 1e6)
            elif isinstance(output, RecoveryEvent):
                self.recoveries.labels(output.action).inc()
                if output.action == "overridden":
                    self.false_positives.labels(_override_reason(output.reason)).inc()

    def count_command(self, command: Command, outcome: str) -> None:
        self.commands.labels(command.kind, outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


_WATCHED = (State.RUNNING, State.IDLE)
"""Suspected from these, by silence (a release's re-check goes from `confirmed_orphan`)."""


def _override_reason(reason: str) -> str:
    return "success_over_failed" if reason.startswith(OVERRIDDEN_BY_SUCCESS) else "ended_before_mark"
