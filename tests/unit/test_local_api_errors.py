"""Network failures of the local control plane's start-up calls are LocalClusterErrors.

Each error names kube-apiserver, its address and where to look next, instead of ending
`deployer local up` with a bare URLError or ConnectionError traceback.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.errors import DeployerError, LocalClusterError
from deployer.local import bootstrap, cluster, pki, processes, startup
from deployer.local.api import Api, ApiUnreachable


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    pki.write_pki(tmp_path / "pki", service_ip=cluster.SERVICE_IP)
    return tmp_path / "pki" / "ca.crt"


def api_on(port: int, ca_file: Path) -> Api:
    return Api(
        f"https://127.0.0.1:{port}", ca_file=ca_file, token="t", logs=ca_file.parent / "logs"
    )


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on."""
    return processes.free_ports(1)[0]


@pytest.fixture
def dropping_port() -> Iterator[int]:
    """A loopback port whose listener closes every connection as soon as it accepts it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose listener accepts connections and never sends a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_refused_request_names_server(ca_file: Path, closed_port: int) -> None:
    api = api_on(closed_port, ca_file)
    with pytest.raises(ApiUnreachable) as raised:
        api.request("GET", "/api/v1/nodes")
    message = str(raised.value)
    assert isinstance(raised.value, LocalClusterError)
    assert f"https://127.0.0.1:{closed_port}" in message
    assert "kube-apiserver" in message
    assert "request GET /api/v1/nodes" in message
    assert "refused" in message.lower()
    assert "deployer local status" in message
    assert "kube-apiserver.log" in message


def test_dropped_connection_is_unreachable(ca_file: Path, dropping_port: int) -> None:
    api = api_on(dropping_port, ca_file)
    with pytest.raises(ApiUnreachable, match=f"127.0.0.1:{dropping_port}"):
        api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")


def test_silent_server_times_out(ca_file: Path, silent_port: int) -> None:
    api = api_on(silent_port, ca_file)
    started = time.monotonic()
    with pytest.raises(ApiUnreachable, match="timed out"):
        api.request("GET", "/api/v1/nodes", timeout=0.3)
    assert time.monotonic() - started < 5


def test_ready_is_false_when_refused(ca_file: Path, closed_port: int) -> None:
    assert api_on(closed_port, ca_file).ready() is False


def test_startup_checks_raise_deployer_errors(ca_file: Path, closed_port: int) -> None:
    api = api_on(closed_port, ca_file)
    with pytest.raises(DeployerError, match="request GET /api/v1/nodes to kube-apiserver"):
        bootstrap.nodes_ready(api)
    with pytest.raises(DeployerError, match="serviceaccounts/default"):
        bootstrap.default_service_account_exists(api)
    with pytest.raises(DeployerError, match="POST /api/v1/nodes"):
        bootstrap.register_nodes(api, 1)


def test_wait_retries_then_names_last_error(
    ca_file: Path, closed_port: int, tmp_path: Path
) -> None:
    api = api_on(closed_port, ca_file)
    calls: list[float] = []

    def nodes_ready() -> bool:
        calls.append(time.monotonic())
        return bootstrap.nodes_ready(api) >= 1

    local = cluster.LocalCluster(name="t", folder=tmp_path, server=api.server)
    with pytest.raises(LocalClusterError) as raised:
        startup._wait(nodes_ready, local, "1 node to be Ready", time.monotonic() + 1.0)
    message = str(raised.value)
    assert len(calls) > 1
    assert "timed out waiting for 1 node to be Ready" in message
    assert "last error: request GET /api/v1/nodes to kube-apiserver" in message
    assert str(closed_port) in message
