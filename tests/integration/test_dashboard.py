"""The dashboard against the local control plane: JSON API, live event streams and escaping."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.cluster.client import Cluster
from deployer.dashboard import DashboardServer, create_server
from deployer.engine.workflow.record import ClusterRecordStore
from deployer.model.run import RunRecord
from tests.integration.test_workflow_basics import ENTRY, WORKFLOWS, deployer

pytestmark = pytest.mark.cluster

SCRIPT = "<script>alert('run')</script>"

# One Pod step whose input and termination message contain the workflow's `message` parameter,
# and that fails with exit code 1 when `exit` is "1".
ECHO_WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: NAME
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: message, value: hello}
    - {name: exit, value: "0"}
  templates:
  - name: main
    steps:
    - - name: say
        template: say
        arguments:
          parameters: [{name: text, value: "{{workflow.parameters.message}}"}]
  - name: say
    inputs:
      parameters: [{name: text}]
    metadata:
      annotations:
        deployer.dev/sim-output: "{{inputs.parameters.text}}"
        deployer.dev/sim-exit-code: "{{workflow.parameters.exit}}"
    container:
      image: busybox:1.36
      command: [echo]
      args: ["{{inputs.parameters.text}}"]
"""


class EventStream:
    """A server-sent event stream read line by line; `next` returns (event, data) pairs."""

    def __init__(self, url: str) -> None:
        self.response = urllib.request.urlopen(url, timeout=30)
        assert self.response.headers["Content-Type"] == "text/event-stream"

    def next(self, deadline: float | None = None) -> tuple[str, Any]:
        """Return the next event; past `deadline` (time.monotonic) raise AssertionError.

        The deadline is checked at each line, and the server sends a keep-alive line every
        15 s, so a stream without events still ends the wait.
        """
        event, data = "", None
        while True:
            line = self.response.readline().decode()
            if not line:
                raise AssertionError("event stream ended")
            if deadline is not None and time.monotonic() > deadline:
                raise AssertionError("no event before the deadline")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
            elif not line and event:
                return event, data

    def wait_for(self, event: str, name: str, phase: str | None, seconds: float = 120) -> Any:
        """Read events until `event` for run `name` (in `phase`, if given) arrives."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            kind, data = self.next()
            phase_matches = phase is None or data.get("phase") == phase
            if kind == event and data.get("name") == name and phase_matches:
                return data
        raise AssertionError(f"no {event} event for run {name} in phase {phase}")

    def close(self) -> None:
        self.response.close()


@pytest.fixture(scope="module")
def dashboard(kubeconfig: str) -> Iterator[DashboardServer]:
    """The dashboard of the test cluster, served from a thread on a free loopback port."""
    server = create_server(Cluster.connect(kubeconfig=kubeconfig), address="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.close()
    thread.join(timeout=10)


def write_workflow(folder: Path) -> tuple[Path, str]:
    name = f"dash-{uuid.uuid4().hex[:8]}"
    path = folder / f"{name}.yaml"
    path.write_text(ECHO_WORKFLOW.replace("NAME", name))
    return path, name


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as failed:
        with failed:
            return failed.code, json.loads(failed.read())


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


def submit_while_streaming(
    dashboard: DashboardServer, kubeconfig: str, namespace: str, path: Path, *params: str
) -> tuple[subprocess.CompletedProcess[str], EventStream]:
    """Open the run-list stream, then submit a workflow and wait for it to end."""
    stream = EventStream(dashboard.url + "api/events")
    assert stream.next()[0] == "snapshot"
    args = ["submit", str(path), "-n", namespace]
    for param in params:
        args += ["-p", param]
    return deployer(kubeconfig, *args), stream


def test_submitted_run_is_listed_and_streamed(
    dashboard: DashboardServer, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    path, name = write_workflow(tmp_path)
    done, stream = submit_while_streaming(dashboard, kubeconfig, namespace, path)
    assert done.returncode == 0, done.stderr
    try:
        streamed = stream.wait_for("run", name, "Succeeded")
    finally:
        stream.close()
    assert streamed["finishedAt"]

    status, listed = get_json(dashboard.url + "api/runs")
    assert status == 200
    rows = {row["name"]: row for row in listed["runs"]}
    assert rows[name]["phase"] == "Succeeded"
    assert rows[name]["namespace"] == namespace
    assert rows[name]["durationSeconds"] is not None


def test_run_api_has_its_nodes(
    dashboard: DashboardServer, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    path, name = write_workflow(tmp_path)
    done, stream = submit_while_streaming(dashboard, kubeconfig, namespace, path, "exit=1")
    assert done.returncode == 1
    try:
        stream.wait_for("run", name, "Failed")
    finally:
        stream.close()

    status, detail = get_json(dashboard.url + f"api/runs/{name}")
    assert status == 200
    assert detail["phase"] == "Failed"
    nodes = {node["displayName"]: node for node in detail["nodes"]}
    assert detail["nodes"][0]["id"] == detail["root"]
    assert nodes["say"]["type"] == "Pod"
    assert nodes["say"]["phase"] == "Failed"
    assert nodes["say"]["inputs"] == {"text": "hello"}
    assert nodes["say"]["depth"] > 0
    assert nodes["say"]["startedAt"]
    assert nodes["say"]["finishedAt"]


def test_run_stream_follows_suspend_and_resume(
    dashboard: DashboardServer, kubeconfig: str, namespace: str
) -> None:
    started = deployer(
        kubeconfig,
        "submit",
        str(WORKFLOWS / "suspend.yaml"),
        "-n",
        namespace,
        "--detach",
        "-o",
        "name",
    )
    assert started.returncode == 0, started.stderr
    name = started.stdout.strip()
    deadline = time.monotonic() + 60
    while dashboard.feed.get(name) is None and time.monotonic() < deadline:
        time.sleep(0.2)

    stream = EventStream(dashboard.url + f"api/runs/{name}/events")
    try:
        kind, snapshot = stream.next()
        assert kind == "snapshot"
        assert snapshot["name"] == name
        assert snapshot["phase"] == "Running"
        resumed = deployer(kubeconfig, "resume", name)
        assert resumed.returncode == 0, resumed.stderr
        final = stream.wait_for("run", name, "Succeeded")
    finally:
        stream.close()
    phases = {node["displayName"]: node["phase"] for node in final["nodes"]}
    assert phases["approve"] == "Succeeded"
    assert phases["after"] == "Succeeded"


def test_deleted_run_is_streamed_and_gone(
    dashboard: DashboardServer, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    path, name = write_workflow(tmp_path)
    done, stream = submit_while_streaming(dashboard, kubeconfig, namespace, path)
    assert done.returncode == 0, done.stderr
    try:
        stream.wait_for("run", name, "Succeeded")
        deleted = deployer(kubeconfig, "delete", name)
        assert deleted.returncode == 0, deleted.stderr
        stream.wait_for("deleted", name, None, seconds=60)
    finally:
        stream.close()
    status, _ = get_json(dashboard.url + f"api/runs/{name}")
    assert status == 404


def test_run_page_escapes_script_in_inputs(
    dashboard: DashboardServer, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    path, name = write_workflow(tmp_path)
    done, stream = submit_while_streaming(
        dashboard, kubeconfig, namespace, path, f"message={SCRIPT}"
    )
    assert done.returncode == 0, done.stderr
    try:
        stream.wait_for("run", name, "Succeeded")
    finally:
        stream.close()
    _, detail = get_json(dashboard.url + f"api/runs/{name}")
    nodes = {node["displayName"]: node for node in detail["nodes"]}
    assert nodes["say"]["inputs"]["text"] == SCRIPT
    assert nodes["say"]["result"] == SCRIPT

    page = get_text(dashboard.url + f"runs/{name}")
    assert page.count("<script") == 1  # the page's own script only
    # Parameters, the node's input and its result.
    assert page.count("&lt;script&gt;alert(&#x27;run&#x27;)&lt;/script&gt;") == 3


def test_run_list_escapes_script_in_message(kubeconfig: str, dashboard: DashboardServer) -> None:
    name = f"dash-message-{uuid.uuid4().hex[:8]}"
    record = RunRecord(name=name, namespace="default", workflow={}, phase="Failed", message=SCRIPT)
    store = ClusterRecordStore(Cluster.connect(kubeconfig=kubeconfig))
    stream = EventStream(dashboard.url + "api/events")
    try:
        store.save(record.to_dict())
        stream.wait_for("run", name, "Failed", seconds=30)
        page = get_text(dashboard.url)
    finally:
        stream.close()
        store.delete(name)
    assert page.count("<script") == 1  # the page's own script only
    assert "&lt;script&gt;alert(&#x27;run&#x27;)&lt;/script&gt;" in page


def test_dashboard_command_serves_until_interrupted(kubeconfig: str) -> None:
    command = [sys.executable, "-c", ENTRY, "dashboard", "--port", "0", "--kubeconfig", kubeconfig]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stderr is not None
            first = process.stderr.readline()
            found = re.search(r"http://127\.0\.0\.1:\d+/", first)
            assert found, first
            status, listed = get_json(found.group(0) + "api/runs")
            assert status == 200
            assert isinstance(listed["runs"], list)
            process.send_signal(signal.SIGINT)
            _, rest = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0
    assert "dashboard stopped" in rest


def test_unknown_run_is_404_json(dashboard: DashboardServer) -> None:
    for path in ("api/runs/no-such-run", "api/runs/no-such-run/events"):
        status, body = get_json(dashboard.url + path)
        assert status == 404
        assert "run no-such-run not found" in body["error"]


class Relay:
    """A TCP relay on 127.0.0.1 to the API server that a test can cut and restore.

    Cutting closes the listening socket and every relayed connection, so the dashboard's
    requests fail as they do when the cluster stops. Restoring listens on the same port.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.listener: socket.socket | None = None
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            sockets, self.open = [self.listener, *self.open], []
            self.listener = None
        for sock in sockets:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def relayed_kubeconfig(kubeconfig: str, folder: Path) -> tuple[Relay, str]:
    """Start a Relay to the kubeconfig's API server; return it and a kubeconfig that uses it."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    host, port = cluster["server"].removeprefix("https://").rsplit(":", 1)
    relay = Relay((host, int(port)))
    cluster["server"] = f"https://127.0.0.1:{relay.port}"
    path = folder / "relayed-kubeconfig"
    path.write_text(json.dumps(config))
    return relay, str(path)


def wait_for_status(stream: EventStream, connected: bool, seconds: float = 90) -> Any:
    """Read events until a `status` event with `connected` arrives; return its data."""
    deadline = time.monotonic() + seconds
    while True:
        kind, data = stream.next(deadline)
        if kind == "status" and data["connected"] is connected:
            return data


def test_dashboard_reports_lost_cluster_and_recovers(kubeconfig: str, tmp_path: Path) -> None:
    relay, relayed = relayed_kubeconfig(kubeconfig, tmp_path)
    dashboard = create_server(Cluster.connect(kubeconfig=relayed), address="127.0.0.1", port=0)
    threading.Thread(target=dashboard.serve_forever, daemon=True).start()
    stream = EventStream(dashboard.url + "api/events")
    name = f"dash-outage-{uuid.uuid4().hex[:8]}"
    store = ClusterRecordStore(Cluster.connect(kubeconfig=kubeconfig))
    try:
        assert stream.next()[0] == "snapshot"
        first = stream.next(time.monotonic() + 30)
        assert first[0] == "status"
        assert first[1]["connected"] is True
        assert get_json(dashboard.url + "api/runs")[0] == 200

        relay.cut()
        lost = wait_for_status(stream, connected=False)
        status, body = get_json(dashboard.url + "api/runs")
        page = get_text(dashboard.url)
        # A run recorded during the outage shows up once the dashboard lists again.
        store.save(RunRecord(name=name, namespace="default", workflow={}, phase="Failed").to_dict())

        assert lost["error"]
        assert lost["message"].startswith("cannot list the run records in namespace")
        assert status == 503
        assert body["error"] == lost["message"]
        assert body["since"] == lost["since"]
        assert "The runs shown may be out of date" in page
        assert get_json(dashboard.url + f"api/runs/{name}")[0] == 503

        relay.restore()
        back = wait_for_status(stream, connected=True)
        status, listed = get_json(dashboard.url + "api/runs")

        assert back["error"] is None
        assert back["message"] == ""
        assert status == 200
        assert name in {row["name"] for row in listed["runs"]}
        assert "The runs shown may be out of date" not in get_text(dashboard.url)
    finally:
        stream.close()
        dashboard.close()
        relay.cut()
        with contextlib.suppress(Exception):
            store.delete(name)


@pytest.mark.parametrize("address", ["10.0.0.1", "198.51.100.7", "2001:db8::7"])
def test_dashboard_names_foreign_address(kubeconfig: str, address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        probe = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        pytest.skip(f"this machine has no {family.name} sockets")
    with probe:
        try:
            probe.bind((address, 0))
        except OSError:
            pass  # not an address of this machine, as the test needs
        else:
            pytest.skip(f"{address} is an address of this machine")

    done = deployer(
        kubeconfig, "dashboard", "--address", address, "--port", "0", "--kubeconfig", kubeconfig
    )

    assert done.returncode == 1, done.stderr
    assert f"{address} is not an address of this machine" in done.stderr
    assert "pass one of its addresses to --address" in done.stderr
    assert "choose another --port" not in done.stderr
