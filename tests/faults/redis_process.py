"""Real redis-server processes on loopback: one a test can freeze, wake, kill and start again on the same
port; a Sentinel over a master and its replica; a cluster of three masters."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.support import free_port, redis_ping, running, wait_until


class ControlledRedis:
    """One redis-server on a free loopback port, its data in an append-only file synced on every write,
    so a killed server comes back with everything it acknowledged."""

    def __init__(self, binary: str, workdir: Path, *extra_args: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.extra_args = extra_args
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._log = open(workdir / "redis.log", "ab")  # noqa: SIM115 - closed in stop()

    def start(self, *more_args: str) -> None:
        command = [
            self.binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)),
            *("--save", "", "--appendonly", "yes", "--appendfsync", "always"),
            *self.extra_args,
            *more_args,  # a later --replicaof overrides an earlier one
        ]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        process = self.process
        wait_until(lambda: process.poll() is None and redis_ping(self.port)(), timeout=20, what="redis-server")

    def start_afresh_as_replica_of(self, master: ControlledRedis) -> None:
        """Start with none of its old data, as `master`'s replica: a crashed host rebuilt from the master."""
        shutil.rmtree(self.workdir / "appendonlydir", ignore_errors=True)
        (self.workdir / "dump.rdb").unlink(missing_ok=True)
        self.start("--replicaof", "127.0.0.1", str(master.port))

    def _pid(self) -> int:
        assert self.process is not None and self.process.poll() is None, "redis-server is not running"
        return self.process.pid

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing is answered."""
        os.kill(self._pid(), signal.SIGSTOP)

    def wake(self) -> None:
        os.kill(self._pid(), signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to the clients beyond the kernel closing the sockets."""
        os.kill(self._pid(), signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        """A plain client of the test's own, to look at the server from outside the service."""
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5)

    def calls_of(self, command: str) -> int:
        """How many times the server has run `command` (INFO commandstats)."""
        with self.client() as client:
            stats = client.info("commandstats")
        entry = stats.get(f"cmdstat_{command}")
        return int(entry["calls"]) if entry else 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a stopped process would hold SIGTERM until woken
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextlib.contextmanager
def controlled_redis(workdir: Path) -> Iterator[ControlledRedis]:
    """A started ControlledRedis, always stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = ControlledRedis(binary, workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _binary(name: str, package: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return binary


MASTER_SET = "idp-test"


class SentinelGroup:
    """A master, one replica of it and one Sentinel watching them (quorum 1), all on free loopback ports.

    Which server is the master changes with each failover; `master` and `replica` ask the Sentinel."""

    def __init__(self, workdir: Path, servers: list[ControlledRedis], sentinel_port: int) -> None:
        self.workdir = workdir
        self.servers = servers
        self.sentinel_port = sentinel_port
        self.url = f"redis+sentinel://127.0.0.1:{sentinel_port}/{MASTER_SET}"

    def sentinel(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.sentinel_port, decode_responses=True, socket_timeout=5)

    def master_port(self) -> int:
        with self.sentinel() as sentinel:
            _, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_SET)
        return int(port)

    def master(self) -> ControlledRedis:
        port = self.master_port()
        return next(server for server in self.servers if server.port == port)

    def replica(self) -> ControlledRedis:
        port = self.master_port()
        return next(server for server in self.servers if server.port != port)

    def healthy(self) -> bool:
        """The master answers, its replica is in sync with it, and the Sentinel sees the replica as good."""
        try:
            master, replica = self.master(), self.replica()
            if replica.process is None or replica.process.poll() is not None:
                return False
            with replica.client() as client:
                info = client.info("replication")
            if info.get("role") != "slave" or info.get("master_port") != master.port:
                return False
            if info.get("master_link_status") != "up" or info.get("master_sync_in_progress") != 0:
                return False
            with self.sentinel() as sentinel:
                known = sentinel.execute_command("SENTINEL", "REPLICAS", MASTER_SET)
            flags = [_fields(entry).get("flags", "") for entry in known if int(_fields(entry)["port"]) == replica.port]
            return flags == ["slave"]
        except (redis.RedisError, StopIteration, OSError):
            return False

    def wait_healthy(self) -> None:
        wait_until(self.healthy, timeout=30, what="the Sentinel group in sync")

    def fail_over(self) -> None:
        """A failover the Sentinel runs now (SENTINEL FAILOVER): the replica becomes the master."""
        old = self.master_port()
        with self.sentinel() as sentinel:
            sentinel.execute_command("SENTINEL", "FAILOVER", MASTER_SET)
        wait_until(lambda: self.master_port() != old, timeout=30, what="the Sentinel to promote the replica")

    def wait_promoted(self, port: int) -> None:
        def promoted() -> bool:
            try:
                return self.master_port() == port
            except redis.RedisError:
                return False

        wait_until(promoted, timeout=30, what=f"the Sentinel to promote 127.0.0.1:{port}")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def _fields(entry: object) -> dict[str, str]:
    """A SENTINEL REPLICAS entry, which redis-py may leave as a flat list of names and values."""
    if isinstance(entry, dict):
        return {str(name): str(value) for name, value in entry.items()}
    items = list(entry)  # type: ignore[call-overload]
    return {str(items[i]): str(items[i + 1]) for i in range(0, len(items), 2)}


@contextlib.contextmanager
def sentinel_group(workdir: Path) -> Iterator[SentinelGroup]:
    """A started SentinelGroup (master, replica, Sentinel), every process stopped by its pid afterwards."""
    server_binary = _binary("redis-server", "redis-server")
    sentinel_binary = _binary("redis-sentinel", "redis-sentinel")
    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    master = ControlledRedis(server_binary, workdir / "a")
    replica = ControlledRedis(server_binary, workdir / "b", "--replicaof", "127.0.0.1", str(master.port))
    group = SentinelGroup(workdir, [master, replica], free_port())
    config = workdir / "sentinel.conf"  # the Sentinel rewrites its own file as it learns
    config.write_text(
        f"port {group.sentinel_port}\n"
        "bind 127.0.0.1\n"
        f"dir {workdir}\n"
        f"sentinel monitor {MASTER_SET} 127.0.0.1 {master.port} 1\n"
        # Three seconds without an answer before a master counts as down: a master just promoted, on a
        # machine the rest of the suite keeps busy, can be that slow for a second, and a second failover
        # would then be the Sentinel's doing, not the test's.
        f"sentinel down-after-milliseconds {MASTER_SET} 3000\n"
        f"sentinel failover-timeout {MASTER_SET} 5000\n"
    )
    try:
        master.start()
        replica.start()
        with running(
            [sentinel_binary, str(config)],
            ready=redis_ping(group.sentinel_port),
            what="redis-sentinel",
            log=workdir / "sentinel.log",
        ):
            group.wait_healthy()
            yield group
    finally:
        group.stop()


@dataclass
class RunningCluster:
    """A Redis Cluster's processes, by port, and its redis+cluster:// URL."""

    processes: dict[int, subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.processes)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2)

    def alive(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def masters(self) -> list[int]:
        """The ports of the masters that are up, as the cluster itself sees them."""
        with self.node(self.alive()[0]) as node:
            nodes = node.cluster("NODES")
        return sorted(
            int(address.split("@")[0].rsplit(":", 1)[1])
            for address, fields in nodes.items()
            if "master" in fields["flags"] and "fail" not in fields["flags"] and fields["connected"]
        )

    def replicated(self, replicas: int) -> bool:
        """Every master up has `replicas` replicas online."""
        for port in self.masters():
            with self.node(port) as node:
                info = node.info("replication")
            online = [info[f"slave{n}"] for n in range(int(info["connected_slaves"]))]
            if sum(replica["state"] == "online" for replica in online) < replicas:
                return False
        return True

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash."""
        process = self.processes[port]
        process.kill()
        process.wait(timeout=10)

    def state_ok(self) -> bool:
        try:
            for port in self.alive():
                with self.node(port) as node:
                    if node.cluster("INFO").get("cluster_state") != "ok":
                        return False
        except redis.RedisError:
            return False
        return True


@contextlib.contextmanager
def redis_cluster(workdir: Path, masters: int = 3, replicas: int = 0) -> Iterator[RunningCluster]:
    """A Redis Cluster of `masters` masters with `replicas` replicas each, every node stopped by its pid."""
    binary = _binary("redis-server", "redis-server")
    cli = _binary("redis-cli", "redis-server")
    ports = [free_port() for _ in range(masters * (1 + replicas))]
    with contextlib.ExitStack() as stack:
        processes = {}
        for port in ports:
            node_dir = workdir / str(port)
            node_dir.mkdir()
            command = [
                binary,
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir)),
                *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                # The bus port is named, not left at port + 10000, which may be taken or out of range.
                *("--cluster-port", str(free_port())),
                *("--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no"),
            ]
            processes[port] = stack.enter_context(
                running(command, ready=redis_ping(port), what="redis-server (cluster)", log=node_dir / "redis.log")
            )
        nodes = [f"127.0.0.1:{port}" for port in ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", str(replicas), "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        cluster = RunningCluster(processes)
        wait_until(cluster.state_ok, timeout=30, what="cluster_state:ok on every node")
        if replicas:
            wait_until(lambda: cluster.replicated(replicas), timeout=30, what="every master's replicas in sync")
        yield cluster
