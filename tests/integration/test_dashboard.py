"""The dashboard against the local control plane: JSON API, live event streams and escaping."""

from __future__ import annotations

import json
import re
import signal
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

    def next(self) -> tuple[str, Any]:
        event, data = "", None
        while True:
            line = self.response.readline().decode()
            if not line:
                raise AssertionError("event stream ended")
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
