"""Run records on the cluster: taken and invalid names, an unreachable API server, retry paths."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deployer.engine.workflow.record_writer import LOST_AFTER_SECONDS
from tests.conftest import kubectl
from tests.integration.test_workflow_basics import ENTRY, WORKFLOWS, deployer, run_pods
from tests.integration.test_workflow_lifecycle import record_of, wait_for_node

pytestmark = pytest.mark.cluster

# How long a run whose API server vanished may take to end: LOST_AFTER_SECONDS without a
# successful record write, then the writes in progress and the final write, each about 12 s
# of retries against a closed port. A run here ended 83 s after the server vanished.
GIVE_UP_SECONDS = LOST_AFTER_SECONDS + 60


def named_workflow(tmp_path: Path, source: str, metadata: str) -> Path:
    """Copy a test workflow with its `metadata` block replaced, and return the copy's path."""
    text = (WORKFLOWS / source).read_text()
    text = re.sub(r"metadata:\n  generateName: .*\n", f"metadata: {metadata}\n", text, count=1)
    path = tmp_path / source
    path.write_text(text)
    return path


def pods_in(kubeconfig: str, namespace: str) -> list[str]:
    found = kubectl(kubeconfig, "get", "pods", "-n", namespace, "-o", "json")
    return [pod["metadata"]["name"] for pod in json.loads(found.stdout)["items"]]


def submit_process(kubeconfig: str, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args, "--kubeconfig", kubeconfig],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def test_fixed_name_is_not_run_twice(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    path = named_workflow(tmp_path, "suspend.yaml", f"{{name: {namespace}}}")
    started = deployer(kubeconfig, "submit", str(path), "-n", namespace, "--detach", "-o", "name")
    assert started.returncode == 0, started.stderr
    run = started.stdout.strip()
    assert run == namespace
    wait_for_node(kubeconfig, run, "approve", "Running")
    first = record_of(kubeconfig, run)
    pods = sorted(pods_in(kubeconfig, namespace))

    again = deployer(kubeconfig, "submit", str(path), "-n", namespace, "-o", "name", timeout=60)
    detached = deployer(
        kubeconfig, "submit", str(path), "-n", namespace, "--detach", "-o", "name", timeout=60
    )

    try:
        for rejected in (again, detached):
            assert rejected.returncode == 1
            assert f"run {run} already exists (Running)" in rejected.stderr
            assert f"`deployer delete {run}`" in rejected.stderr
            assert rejected.stdout == ""
        after = record_of(kubeconfig, run)
        assert after["startedAt"] == first["startedAt"]
        assert after["client"] == first["client"]
        assert sorted(pods_in(kubeconfig, namespace)) == pods
    finally:
        assert deployer(kubeconfig, "terminate", run).returncode == 0
        assert deployer(kubeconfig, "watch", run, timeout=120).returncode == 1


def test_racing_submits_start_one_run(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    path = named_workflow(tmp_path, "suspend.yaml", f"{{name: {namespace}}}")
    args = ("submit", str(path), "-n", namespace, "-o", "name")
    processes = [submit_process(kubeconfig, *args), submit_process(kubeconfig, *args)]
    try:
        deadline = time.monotonic() + 120
        while all(process.poll() is None for process in processes):
            assert time.monotonic() < deadline, "neither submit ended"
            time.sleep(0.2)
        loser = next(process for process in processes if process.poll() is not None)
        winner = next(process for process in processes if process is not loser)
        _, loser_err = loser.communicate()

        assert loser.returncode == 1
        assert f"run {namespace} already exists" in loser_err
        wait_for_node(kubeconfig, namespace, "approve", "Running")
        assert winner.poll() is None
        assert deployer(kubeconfig, "terminate", namespace).returncode == 0
        winner.communicate(timeout=120)
        assert winner.returncode == 1
        assert len(run_pods(kubeconfig, namespace, namespace)) == 1
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bad_Name", "metadata.name 'Bad_Name' is not a valid run name"),
        ("a" * 70, "is 70 characters long; a run name has at most 63"),
    ],
)
def test_invalid_run_name_creates_nothing(
    kubeconfig: str, namespace: str, tmp_path: Path, name: str, message: str
) -> None:
    path = named_workflow(tmp_path, "hello-world.yaml", f"{{name: {name}}}")

    done = deployer(kubeconfig, "submit", str(path), "-n", namespace, timeout=60)

    assert done.returncode == 1
    assert message in done.stderr
    assert str(path) in done.stderr
    assert "WARNING" not in done.stderr
    assert pods_in(kubeconfig, namespace) == []


def kubeconfig_at(kubeconfig: str, port: int, folder: Path) -> str:
    """Write a copy of `kubeconfig` whose server is 127.0.0.1:`port`; return its path."""
    config: dict[str, Any] = yaml.safe_load(Path(kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = folder / f"kubeconfig-{port}"
    path.write_text(json.dumps(config))
    return str(path)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_submit_to_unreachable_server_fails_fast(kubeconfig: str, tmp_path: Path) -> None:
    unreachable = kubeconfig_at(kubeconfig, closed_port(), tmp_path)
    hello = str(WORKFLOWS / "hello-world.yaml")

    for detach in ((), ("--detach",)):
        started = time.monotonic()
        done = deployer(unreachable, "submit", hello, *detach, timeout=120)
        elapsed = time.monotonic() - started

        assert done.returncode == 1
        assert elapsed < 40
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ")
        assert "connection to the API server failed" in last
        assert "deployer retry" not in done.stderr
        assert "deployer get" not in done.stderr
        assert done.stdout == ""


def test_retry_works_from_another_folder(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    folder = tmp_path / "workflow"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.mkdir()
    shutil.copy(WORKFLOWS / "manifests-step.yaml", folder)
    shutil.copytree(WORKFLOWS / "app", folder / "app")
    later = f"{namespace}-later"
    args = ("-p", f"namespace={later}", "-o", "name")

    # The step's namespace does not exist yet, so the manifests step fails at first.
    submitted = submit_process(kubeconfig, "submit", "manifests-step.yaml", *args, cwd=folder)
    out, err = submitted.communicate(timeout=180)
    assert submitted.returncode == 1, err
    run = out.strip()
    failed = record_of(kubeconfig, run)
    assert the_node(failed, "config")["phase"] in ("Failed", "Error")
    assert failed["sourceFile"] == str(folder / "manifests-step.yaml")
    kubectl(kubeconfig, "create", "namespace", later)
    try:
        retried = submit_process(kubeconfig, "retry", run, "-o", "name", cwd=elsewhere)
        out, err = retried.communicate(timeout=180)

        assert retried.returncode == 0, err
        assert record_of(kubeconfig, run)["phase"] == "Succeeded"
        kubectl(kubeconfig, "get", "configmap", "greeting", "-n", later)
    finally:
        kubectl(kubeconfig, "delete", "namespace", later, "--wait=false", check=False)


class TcpProxy:
    """Forwarder of TCP connections from 127.0.0.1:`port` to the API server.

    `close` stops listening and cuts every forwarded connection, so that clients see the
    server vanish; a new TcpProxy on the same port brings it back.
    """

    def __init__(self, server: tuple[str, int], port: int = 0) -> None:
        self.server = server
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen()
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.server)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        for end in self.sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


def process_gone(pid: int) -> bool:
    """Tell whether a process has ended (a zombie that no one reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


def start_detached(kubeconfig: str, namespace: str) -> tuple[str, int, Path]:
    """Start the suspend workflow with --detach; return the run, its process id and its log."""
    started = deployer(
        kubeconfig, "submit", str(WORKFLOWS / "suspend.yaml"), "-n", namespace, "--detach"
    )
    assert started.returncode == 0, started.stderr
    found = re.search(
        r"run (\S+) started in the background \(pid (\d+)\); output in (\S+);", started.stdout
    )
    assert found, started.stdout
    return found[1], int(found[2]), Path(found[3])


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_detached_run_stops_without_server(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    address = urlsplit(
        yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    )
    server = (address.hostname or "127.0.0.1", address.port or 443)
    back, gone = TcpProxy(server), TcpProxy(server)
    back_run, back_pid, back_log = start_detached(
        kubeconfig_at(kubeconfig, back.port, tmp_path), namespace
    )
    gone_run, gone_pid, gone_log = start_detached(
        kubeconfig_at(kubeconfig, gone.port, tmp_path), namespace
    )
    for run in (back_run, gone_run):
        wait_for_node(kubeconfig, run, "approve", "Running")

    back.close()
    gone.close()
    cut = time.monotonic()
    # One server comes back once its run has given up; the other stays away.
    wait_until(lambda: "stopping the run" in back_log.read_text(), GIVE_UP_SECONDS, "give-up")
    back = TcpProxy(server, back.port)
    try:
        for pid in (back_pid, gone_pid):
            wait_until(partial(process_gone, pid), GIVE_UP_SECONDS, f"process {pid} to end")
    finally:
        back.close()
    elapsed = time.monotonic() - cut

    assert elapsed < GIVE_UP_SECONDS
    back_record = record_of(kubeconfig, back_run)
    assert back_record["phase"] == "Error"
    assert "run stopped because no write of its record succeeded for" in back_record["message"]
    assert the_node(back_record, "approve")["phase"] == "Failed"
    gone_lines = gone_log.read_text().strip().splitlines()
    assert gone_lines[-1].startswith(
        f"error: run {gone_run} ended Error, but writing its record failed"
    )
    assert record_of(kubeconfig, gone_run)["phase"] == "Running"
    for run in (back_run, gone_run):
        assert deployer(kubeconfig, "delete", run).returncode == 0


def the_node(record: dict[str, Any], display: str) -> dict[str, Any]:
    found = [n for n in record["nodes"].values() if n["displayName"] == display]
    assert len(found) == 1, f"nodes named {display}: {found}"
    node: dict[str, Any] = found[0]
    return node
