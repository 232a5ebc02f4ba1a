"""The topics `run` creates: replication min(3, brokers), `min.insync.replicas=2` from three replicas on."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.admin import NewTopic

from producers.topics import TopicLayoutError, ensure_owned_topics


class _Admin:
    """A cluster of `brokers` as the admin client sees it, keeping the topics it is asked to create."""

    def __init__(self, brokers: int, existing: dict[str, int] | None = None) -> None:
        self.brokers = brokers
        self.topics: dict[str, NewTopic] = {}
        self.existing = dict(existing or {})

    async def describe_cluster(self) -> dict[str, Any]:
        return {"brokers": [{"node_id": n} for n in range(self.brokers)]}

    async def list_topics(self) -> list[str]:
        return [*self.existing, *self.topics]

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        counts = {**self.existing, **{n: t.num_partitions for n, t in self.topics.items()}}
        return [{"topic": n, "error_code": 0, "partitions": [{}] * counts[n]} for n in names if n in counts]

    async def create_topics(self, topics: list[NewTopic]) -> None:
        self.topics.update({t.name: t for t in topics})


@pytest.mark.parametrize(
    ("brokers", "replicas", "configs"), [(1, 1, {}), (2, 2, {}), (5, 3, {"min.insync.replicas": "2"})]
)
async def test_replication_is_three_or_the_number_of_brokers(
    brokers: int, replicas: int, configs: dict[str, str]
) -> None:
    admin = _Admin(brokers)
    await ensure_owned_topics(admin, control="ctl", partitions=4, others=["rec", "dlq"], replication=None)  # type: ignore[arg-type]
    assert {n: (t.num_partitions, t.replication_factor) for n, t in admin.topics.items()} == {
        n: (4, replicas) for n in ("ctl", "rec", "dlq")
    }
    assert all(t.topic_configs == configs for t in admin.topics.values())


async def test_a_setting_overrides_the_replication() -> None:
    admin = _Admin(5)
    await ensure_owned_topics(admin, control="ctl", partitions=2, others=[], replication=1)  # type: ignore[arg-type]
    assert admin.topics["ctl"].replication_factor == 1


async def test_a_control_topic_with_another_partition_count_is_refused_naming_the_setting() -> None:
    admin = _Admin(1, existing={"ctl": 3})
    with pytest.raises(TopicLayoutError, match="WATCHDOG_CONTROL_TOPIC"):
        await ensure_owned_topics(admin, control="ctl", partitions=2, others=[], replication=None)  # type: ignore[arg-type]
