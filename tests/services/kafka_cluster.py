"""A real Apache Kafka cluster in KRaft mode on loopback, for the tests.

The broker's jars come from Maven Central (`tests/services/kafka/pom.xml`), copied by
`tests/services/start.sh` into a cache folder outside the repository. Each node is a combined
broker and controller (`process.roles=broker,controller`), formatted with the storage tool and
started with `java`, its data in a temporary folder. With three nodes the cluster has replication 3
and `min.insync.replicas=2`, so it keeps accepting `acks=all` writes with one node down and refuses
them with two down. Nodes can be killed, stopped, paused and started again to inject faults.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from exec_watchdog.demo.local_broker import free_port
from tests.services.require import START_SCRIPT, reachable

SERVICES = Path(__file__).resolve().parent
KAFKA_VERSION = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", (SERVICES / "kafka/pom.xml").read_text())[1]  # type: ignore[index]

LOG4J2 = """\
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
"""


class KafkaNotInstalled(RuntimeError):
    pass


def kafka_lib() -> Path:
    """Where start.sh put the broker's jars; a clear failure naming the script when they are missing."""
    cache = Path(os.environ.get("KAFKA_CACHE") or Path.home() / ".cache/exec-watchdog" / f"kafka-{KAFKA_VERSION}")
    lib = cache / "lib"
    if not (lib / ".complete").exists():
        raise KafkaNotInstalled(
            f"Apache Kafka {KAFKA_VERSION} is not installed in {lib}: run `{START_SCRIPT}` first "
            "(or set KAFKA_IMPL=tansu for the embedded broker, or KAFKA_BOOTSTRAP for one of your own)"
        )
    return lib


def cluster_id() -> str:
    """A random cluster id as Kafka makes one: URL-safe base64 of 16 bytes, never starting with '-'
    (the storage tool's argument parser would read it as an option)."""
    while (made := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return made


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    home: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class KafkaCluster:
    """`KafkaCluster(3).start()` gives a bootstrap string; `kill(node_id)`, `stop`, `pause`, `resume`,
    `restart` inject faults; `close()` ends every node and removes the data."""

    def __init__(self, size: int = 1, *, heap: str = "384m") -> None:
        if size not in (1, 3):
            raise ValueError("a test cluster has 1 or 3 nodes")
        self.size = size
        self.heap = heap
        self.lib = kafka_lib()
        self.root = Path(tempfile.mkdtemp(prefix=f"kafka{size}-"))
        self.cluster_id = cluster_id()
        self.nodes = [Node(n, free_port(), free_port(), self.root / f"node-{n}") for n in range(1, size + 1)]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id - 1]

    def _properties(self, node: Node) -> str:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        replication = self.size
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={node.node_id}",
                f"controller.quorum.voters={voters}",
                f"listeners=PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{node.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={node.home / 'data'}",
                "auto.create.topics.enable=false",
                f"default.replication.factor={replication}",
                f"min.insync.replicas={min(2, replication)}",
                f"offsets.topic.replication.factor={replication}",
                "offsets.topic.num.partitions=10",
                f"transaction.state.log.replication.factor={replication}",
                f"transaction.state.log.min.isr={min(2, replication)}",
                "group.initial.rebalance.delay.ms=0",
                "unclean.leader.election.enable=false",
                "log.retention.hours=168",
                "",
            ]
        )

    def _format(self, node: Node) -> None:
        (node.home / "data").mkdir(parents=True, exist_ok=True)
        (node.home / "server.properties").write_text(self._properties(node))
        (node.home / "log4j2.properties").write_text(LOG4J2.format(log=node.home / "server.log", level="INFO"))
        subprocess.run(
            [*self._java(node, "256m"), "kafka.tools.StorageTool", "format", "--ignore-formatted",
             "-t", self.cluster_id, "-c", str(node.home / "server.properties")],
            check=True,
            capture_output=True,
        )  # fmt: skip

    def _java(self, node: Node, heap: str) -> list[str]:
        return [
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={node.home / 'log4j2.properties'}",
            "-cp",
            f"{self.lib}/*",
        ]

    def start_node(self, node_id: int) -> None:
        node = self.node(node_id)
        if node.running:
            return
        with open(node.home / "stdout.log", "ab") as out:
            node.process = subprocess.Popen(
                [*self._java(node, self.heap), "kafka.Kafka", str(node.home / "server.properties")],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self, timeout_s: float = 90) -> str:
        """Format and start every node; returns the bootstrap servers once all are brokers."""
        for node in self.nodes:
            self._format(node)
        for node in self.nodes:
            self.start_node(node.node_id)
        with concurrent.futures.ThreadPoolExecutor(1) as thread:  # callable from inside a running loop too
            thread.submit(asyncio.run, self.wait_ready(timeout_s)).result()
        return self.bootstrap

    async def wait_ready(self, timeout_s: float = 90) -> None:
        """Until every running node listens and the cluster's metadata lists each as a broker."""
        deadline = time.monotonic() + timeout_s
        expected = {n.node_id for n in self.nodes if n.running}
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.node_id in expected and not node.running:
                    raise RuntimeError(f"Kafka node {node.node_id} exited: see {node.home / 'server.log'}")
            if all(reachable(self.node(n).port) for n in expected) and await self.brokers() >= expected:
                return
            await asyncio.sleep(0.3)
        raise RuntimeError(f"the Kafka cluster was not ready within {timeout_s} s (logs in {self.root})")

    async def brokers(self) -> set[int]:
        """The broker ids the cluster's metadata lists now (empty if it cannot be asked)."""
        try:
            described = await self._ask(lambda admin: admin.describe_cluster(), attempts=1)
        except Exception:
            return set()
        return {int(b["node_id"]) for b in described["brokers"]}

    def running_bootstrap(self) -> str:
        return ",".join(n.address for n in self.nodes if n.running) or self.bootstrap

    async def leaders(self, topic: str) -> dict[int, int]:
        """Partition → the node id leading it now (-1 while there is none)."""
        described = await self._ask(lambda admin: admin.describe_topics([topic]))
        return {int(p["partition"]): int(p["leader"]) for d in described for p in d["partitions"]}

    async def replication(self, topic: str) -> tuple[int, int]:
        """(partitions, fewest replicas of any partition) of a topic, as the cluster describes it."""
        described = await self._ask(lambda admin: admin.describe_topics([topic]))
        partitions = [p for d in described for p in d["partitions"]]
        return len(partitions), min(len(p["replicas"]) for p in partitions)

    async def _ask(self, call: Callable[[AIOKafkaAdminClient], Awaitable[Any]], attempts: int = 20) -> Any:
        """An admin call through the running nodes; retried while a dead node is still in the metadata."""
        for attempt in range(attempts):
            admin = AIOKafkaAdminClient(bootstrap_servers=self.running_bootstrap(), request_timeout_ms=3000)
            try:
                await admin.start()
                return await call(admin)
            except KafkaError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)
            finally:
                await admin.close()
        raise AssertionError("unreachable")

    # faults ---------------------------------------------------------------------------------
    def kill(self, node_id: int) -> None:
        """kill -9: no controlled shutdown, leadership moves only after the controller fences it."""
        node = self.node(node_id)
        if node.process is not None and node.running:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=30)

    def stop(self, node_id: int, timeout_s: float = 60) -> None:
        """A controlled shutdown (SIGTERM): the node hands its leaderships on first."""
        node = self.node(node_id)
        if node.process is not None and node.running:
            node.process.send_signal(signal.SIGTERM)
            try:
                node.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=30)

    async def restart(self, node_id: int, timeout_s: float = 90) -> None:
        """A controlled stop, then the node starts again on its own data and rejoins."""
        await asyncio.to_thread(self.stop, node_id)
        self.start_node(node_id)
        await self.wait_ready(timeout_s)

    def pause(self, node_id: int) -> None:
        process = self.node(node_id).process
        assert process is not None
        os.kill(process.pid, signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        process = self.node(node_id).process
        assert process is not None
        os.kill(process.pid, signal.SIGCONT)

    def close(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.running:
                os.kill(node.process.pid, signal.SIGCONT)
                node.process.kill()
                node.process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)
