"""A real 3-master Redis Cluster on loopback ports, for the cluster tests (issue 19).

Three `redis-server --cluster-enabled yes` on free ports, joined by `redis-cli --cluster
create` with no replicas (all 16384 slots spread over the three masters), started once per
session. Tests stay independent the usual way: keys under their own `stream_prefix` (hash
tags such as `{0}` in a key pin its slot whatever the prefix). `flushall()` empties every
master for a test that needs a clean cluster.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final

import pytest
import redis
import redis.asyncio as aredis

from microservices.common.redis_io import create_redis
from microservices.common.redis_server import die_with_parent, free_port, wait_for_port
from tests.tools import require_tools

HOST: Final = "127.0.0.1"
READY_TIMEOUT_S: Final = 30.0
BUS_OFFSET: Final = 10_000  # a node's cluster bus listens on its port + 10000


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is a valid, free port too."""
    while True:
        port = free_port()
        if port + BUS_OFFSET <= 65535 and _free(port + BUS_OFFSET):
            return port


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


class LocalRedisCluster:
    """Masters on `ports`; `url` (the first node) is what REDIS_URL would be."""

    def __init__(self, masters: int = 3, workdir: Path | None = None) -> None:
        self.host = HOST
        self.ports: list[int] = [cluster_port() for _ in range(masters)]
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="ce-redis-cluster-"))
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return self.node_url(self.ports[0])

    @property
    def urls(self) -> list[str]:
        return [self.node_url(port) for port in self.ports]

    def node_url(self, port: int) -> str:
        return f"redis://{self.host}:{port}/0"

    def start(self) -> LocalRedisCluster:
        try:
            for port in self.ports:
                self.start_node(port)
            nodes = [f"{self.host}:{port}" for port in self.ports]
            subprocess.run(
                ["redis-cli", "--cluster", "create", *nodes,
                 "--cluster-replicas", "0", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, port: int) -> None:
        """Start (or restart, with its nodes.conf: it rejoins) the node on `port`."""
        args = [
            "redis-server", "--port", str(port), "--bind", self.host,
            "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", "2000", "--dir", str(self.workdir),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes",
        ]  # fmt: skip
        self._procs[port] = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip
        if not wait_for_port(self.host, port):
            raise RuntimeError(f"redis-server (cluster node) did not start on {port}")

    def kill_node(self, port: int) -> None:
        """SIGKILL one node (fault injection); `start_node(port)` brings it back."""
        proc = self._procs.pop(port, None)
        if proc is not None:
            proc.kill()
            proc.wait()

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until every node reports `cluster_state:ok` and knows every node."""
        deadline = time.monotonic() + timeout_s
        while not all(self._node_ready(port) for port in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis cluster on {self.ports} not ready in {timeout_s} s")
            time.sleep(0.1)

    def _node_ready(self, port: int) -> bool:
        with redis.Redis(host=self.host, port=port, socket_timeout=2) as client:
            info = client.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
        return (
            fields.get("cluster_state") == "ok"
            and fields.get("cluster_known_nodes") == str(len(self.ports))
            and fields.get("cluster_slots_assigned") == "16384"
        )

    def flushall(self) -> None:
        """Empty every master (for a test that needs a clean cluster)."""
        for port in self.ports:
            with redis.Redis(host=self.host, port=port, socket_timeout=5) as client:
                client.flushall()

    def client(self, socket_timeout_s: float = 5.0) -> aredis.Redis:
        """The product's cluster client (`create_redis(url, cluster=True)`)."""
        return create_redis(self.url, socket_timeout_s=socket_timeout_s, cluster=True)

    def stop(self) -> None:
        for port in list(self._procs):
            proc = self._procs.pop(port)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A 3-master Redis Cluster for the whole session (stopped at its end)."""
    require_tools("redis-server", "redis-cli")
    cluster = LocalRedisCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
async def cluster_redis(redis_cluster: LocalRedisCluster) -> AsyncIterator[aredis.Redis]:
    """A cluster client for one test (closed after it)."""
    client = redis_cluster.client()
    yield client
    await client.aclose()
