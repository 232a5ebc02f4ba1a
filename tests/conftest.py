from __future__ import annotations

import asyncio
import concurrent.futures
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


@pytest.fixture(scope="module")
def three_nodes() -> Iterator[KafkaCluster]:
    if KAFKA_IMPL != "apache":
        pytest.skip("the cluster tests need Apache Kafka; KAFKA_IMPL=tansu runs one memory-only node")
    cluster = KafkaCluster(3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def kafka_cluster(three_nodes: KafkaCluster) -> KafkaCluster:
    """A three-node Apache Kafka cluster (replication 3, min.insync.replicas 2), one per test module:
    before each test every node runs again (a node an earlier test killed or stopped is started on its
    own data, a paused one resumed) and the cluster lists all three as brokers."""
    for node in three_nodes.nodes:
        if node.running:
            three_nodes.resume(node.node_id)
        three_nodes.start_node(node.node_id)
    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # a fixture may run inside a test's loop
        thread.submit(asyncio.run, three_nodes.wait_ready()).result()
    return three_nodes


@pytest.fixture
def fleet() -> Iterator[StandinFleet]:
    agents = StandinFleet()
    agents.start()
    yield agents
    agents.stop()
