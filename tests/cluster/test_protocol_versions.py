"""aiokafka and the pinned Apache Kafka speak a common version of every request aiokafka can send.

Kafka 4 removed the oldest versions of many requests (KIP-896). aiokafka picks, per request, the
highest version both sides support; this asks the broker for its ranges (ApiVersions) and checks
that no request aiokafka implements is left without one.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import aiokafka.protocol
import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.api import RequestStruct

from tests.services.brokers import KAFKA_IMPL

pytestmark = pytest.mark.kafka


def aiokafka_requests() -> dict[int, tuple[str, set[int]]]:
    """API key → (request name, the versions aiokafka can encode)."""
    found: dict[int, tuple[str, set[int]]] = {}
    for module_info in pkgutil.iter_modules(aiokafka.protocol.__path__):
        module = importlib.import_module(f"aiokafka.protocol.{module_info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, RequestStruct) and hasattr(value, "API_KEY"):
                found.setdefault(value.API_KEY, (name.rsplit("_v", 1)[0], set()))[1].add(value.API_VERSION)
    return found


async def test_every_request_aiokafka_sends_has_a_version_the_broker_accepts(kafka_bootstrap: str) -> None:
    if KAFKA_IMPL != "apache":
        pytest.skip("this checks the pinned Apache Kafka broker")
    client = AIOKafkaClient(bootstrap_servers=kafka_bootstrap)
    await client.bootstrap()
    try:
        node = next(iter(client.cluster.brokers())).nodeId
        broker = (await client._get_conn(node))._versions  # the broker's ApiVersions answer: key → (min, max)
    finally:
        await client.close()
    ours = aiokafka_requests()
    assert len(ours) >= 30  # the walk over aiokafka's protocol modules found its requests
    without = {
        name: (sorted(versions), broker.get(key))
        for key, (name, versions) in ours.items()
        if key in broker and not any(broker[key][0] <= v <= broker[key][1] for v in versions)
    }
    assert without == {}, f"requests aiokafka cannot send to this broker: {without}"
    used = {"ProduceRequest", "FetchRequest", "OffsetRequest", "MetadataRequest", "OffsetCommitRequest",
            "OffsetFetchRequest", "FindCoordinatorRequest", "JoinGroupRequest", "SyncGroupRequest",
            "HeartbeatRequest", "LeaveGroupRequest", "CreateTopicsRequest", "DescribeConfigsRequest"}  # fmt: skip
    assert used <= {name for key, (name, _) in ours.items() if key in broker}  # what exec-watchdog sends is served
