"""Port selection for local clusters skips ports that are in use, and a port taken
before a component listens on it is recognised from the component's log."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from deployer.errors import LocalClusterError
from deployer.local import cluster, processes, startup


def test_port_in_use_is_skipped() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        assert not processes.port_is_free(busy)
        chosen = processes.free_ports(1, start=busy, end=busy + 50)
    assert chosen[0] != busy
    assert busy < chosen[0] < busy + 50


def test_free_ports_are_distinct() -> None:
    ports = processes.free_ports(5)
    assert len(set(ports)) == 5


def test_ephemeral_ports_come_last() -> None:
    ephemeral = processes.ephemeral_ports()
    if not ephemeral:
        pytest.skip("this kernel does not report its ephemeral port range")
    start = ephemeral.start - 20
    end = ephemeral.start + 100
    ports = processes.free_ports(3, start=start, end=end)
    assert not any(port in ephemeral for port in ports)
    # Only 20 ports lie outside, so the ports inside the range serve the rest.
    more = processes.free_ports(21, start=start, end=end)
    assert any(port in ephemeral for port in more)


def test_exhausted_range_is_local_cluster_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        with pytest.raises(LocalClusterError) as raised:
            processes.free_ports(1, start=busy, end=busy + 1)
    message = str(raised.value)
    assert f"between {busy} and {busy + 1}" in message
    assert "127.0.0.1" in message
    assert "deployer local status" in message


def exited_component(folder: Path, name: str, output: str) -> cluster.LocalCluster:
    """Return a cluster whose component `name` printed `output` to its log and exited.

    The cluster's folder is the shell's $0, so the command line carries it, as the real
    components' command lines do.
    """
    local = cluster.LocalCluster(name="t", folder=folder, server="https://127.0.0.1:1")
    command = ["/bin/sh", "-c", 'echo "$1"', str(folder), output]
    local.pids[name] = processes.start(command, log_file=folder / "logs" / f"{name}.log")
    deadline = time.monotonic() + 10
    while local.alive()[name] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not local.alive()[name]
    return local


def test_bind_failure_in_log_is_port_taken(tmp_path: Path) -> None:
    line = '{"level":"fatal","error":"listen tcp 127.0.0.1:23456: bind: address already in use"}'
    local = exited_component(tmp_path, "etcd", line)
    with pytest.raises(cluster.PortTaken) as raised:
        startup._raise_if_exited(local, "kube-apiserver to report /readyz ok")
    assert raised.value.component == "etcd"
    assert raised.value.port == 23456
    assert "port 23456 on 127.0.0.1 is already in use" in str(raised.value)


def test_other_exit_is_not_port_taken(tmp_path: Path) -> None:
    local = exited_component(tmp_path, "kwok", "open /x/ca.crt: no such file")
    with pytest.raises(LocalClusterError) as raised:
        startup._raise_if_exited(local, "3 nodes to be Ready")
    assert not isinstance(raised.value, cluster.PortTaken)
    assert "kwok of cluster t exited while waiting for 3 nodes to be Ready" in str(raised.value)
    assert "no such file" in str(raised.value)


@pytest.mark.parametrize(
    ("log_text", "message"),
    [
        (
            '{"level":"info","msg":"starting"}\n'
            '{"level":"panic","msg":"failed to open database","error":"invalid database"}\n'
            "panic: failed to open database\n\ngoroutine 1 [running]:\n",
            "failed to open database: invalid database",
        ),
        (
            "I1204 17:00:11.0 server.go:1] starting\n"
            "F1204 17:00:12.0 server.go:2] unable to load client CA file\n",
            "F1204 17:00:12.0 server.go:2] unable to load client CA file",
        ),
        ("panic: runtime error\n\ngoroutine 1 [running]:\n", "panic: runtime error"),
        ("I1204 17:00:11.0 server.go:1] starting\n", ""),
    ],
)
def test_exit_message_names_fatal_line(log_text: str, message: str) -> None:
    assert startup._fatal_message(log_text) == message
