from __future__ import annotations

from collections.abc import Iterator

import pytest

from exec_watchdog.demo.local_broker import external_bootstrap
from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.services.brokers import KAFKA_IMPL, local_kafka
from tests.services.kafka_cluster import KafkaCluster


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A broker for the whole run: KAFKA_BOOTSTRAP if set, else a one-node cluster of KAFKA_IMPL."""
    given = external_bootstrap()
    if given:
        yield given
        return
    with local_kafka(1) as broker:
        yield broker.bootstrap


@pytest.fixture
def kafka_cluster() -> Iterator[KafkaCluster]:
    """A fresh three-node Apache Kafka cluster (replication 3, min.insync.replicas 2) for one test."""
    if KAFKA_IMPL != "apache":
        pytest.skip("the cluster tests need Apache Kafka; KAFKA_IMPL=tansu runs one memory-only node")
    cluster = KafkaCluster(3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def fleet() -> Iterator[StandinFleet]:
    agents = StandinFleet()
    agents.start()
    yield agents
    agents.stop()
