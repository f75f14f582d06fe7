"""The local control plane behaves like a real cluster for the objects deployer manages."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from deployer.cli.local_cmds import local_group
from deployer.errors import LocalClusterError
from deployer.local import cluster as local
from deployer.local import helm_binary, processes
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


def apply_text(kubeconfig: str, namespace: str, text: str) -> None:
    subprocess.run(
        [*_kubectl_prefix(kubeconfig), "-n", namespace, "apply", "-f", "-"],
        input=textwrap.dedent(text),
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


def _kubectl_prefix(kubeconfig: str) -> list[str]:
    from deployer.local import kubectl_binary

    return [str(kubectl_binary() or "kubectl"), "--kubeconfig", kubeconfig]


def wait(kubeconfig: str, namespace: str, *args: str) -> None:
    kubectl(kubeconfig, "-n", namespace, "wait", "--timeout=60s", *args)


def get_json(kubeconfig: str, namespace: str, *args: str) -> dict:
    return json.loads(kubectl(kubeconfig, "-n", namespace, "get", "-o", "json", *args).stdout)


def test_nodes_listed_ready(kubeconfig: str) -> None:
    nodes = json.loads(kubectl(kubeconfig, "get", "nodes", "-o", "json").stdout)["items"]
    assert len(nodes) >= 3
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True", node["metadata"]["name"]
    printed = kubectl(kubeconfig, "get", "nodes").stdout
    assert printed.count(" Ready ") >= 3


def test_server_reports_pinned_version(kubeconfig: str) -> None:
    version = json.loads(kubectl(kubeconfig, "version", "-o", "json").stdout)["serverVersion"]
    assert version["gitVersion"] == local.paths.versions()["kubernetes"]


WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: redis:7}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: busybox:1.36}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: busybox:1.36}]
"""


def test_workloads_become_ready(kubeconfig: str, namespace: str) -> None:
    apply_text(kubeconfig, namespace, WORKLOADS)
    wait(kubeconfig, namespace, "--for=condition=Available", "deployment/web")
    wait(kubeconfig, namespace, "--for=jsonpath={.status.readyReplicas}=2", "statefulset/db")
    wait(kubeconfig, namespace, "--for=condition=Complete", "job/once")
    nodes = len(json.loads(kubectl(kubeconfig, "get", "nodes", "-o", "json").stdout)["items"])
    wait(
        kubeconfig, namespace, f"--for=jsonpath={{.status.numberReady}}={nodes}", "daemonset/agent"
    )

    deployment = get_json(kubeconfig, namespace, "deployment/web")
    assert deployment["status"]["availableReplicas"] == 3
    pods = get_json(kubeconfig, namespace, "pods", "-l", "app=agent")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(
        {p["spec"]["nodeName"] for p in pods}
    )


def _waiting_reason(kubeconfig: str, namespace: str, selector: str) -> str:
    pods = get_json(kubeconfig, namespace, "pods", "-l", selector)["items"]
    statuses = pods[0]["status"].get("containerStatuses") or [{}]
    return str(statuses[0].get("state", {}).get("waiting", {}).get("reason", ""))


@pytest.mark.parametrize(
    ("lever", "reason"), [("crashloop", "CrashLoopBackOff"), ("imagepull", "ImagePullBackOff")]
)
def test_annotated_pod_shows_waiting_reason(
    kubeconfig: str, namespace: str, lever: str, reason: str
) -> None:
    apply_text(
        kubeconfig,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: lever
          labels: {{app: lever}}
          annotations: {{deployer.dev/sim: {lever}}}
        spec: {{containers: [{{name: main, image: example.invalid/app:1}}]}}
        """,
    )
    wait(
        kubeconfig,
        namespace,
        "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=" + reason,
        "pod/lever",
    )
    assert _waiting_reason(kubeconfig, namespace, "app=lever") == reason


def test_completed_pod_carries_output_and_exit_code(kubeconfig: str, namespace: str) -> None:
    apply_text(
        kubeconfig,
        namespace,
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: flip
          annotations: {deployer.dev/sim-output: tails, deployer.dev/sim-exit-code: "2"}
        spec: {restartPolicy: Never, containers: [{name: main, image: busybox:1.36}]}
        """,
    )
    wait(kubeconfig, namespace, "--for=jsonpath={.status.phase}=Failed", "pod/flip")
    terminated = get_json(kubeconfig, namespace, "pod/flip")["status"]["containerStatuses"][0][
        "state"
    ]["terminated"]
    assert terminated["message"] == "tails"
    assert terminated["exitCode"] == 2


def test_crd_established_and_custom_resource_created(kubeconfig: str, namespace: str) -> None:
    group = f"{namespace}.example.com"
    kubectl_input = f"""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {{name: widgets.{group}}}
        spec:
          group: {group}
          scope: Namespaced
          names: {{plural: widgets, singular: widget, kind: Widget}}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
        """
    apply_text(kubeconfig, namespace, kubectl_input)
    try:
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=Established",
            f"crd/widgets.{group}",
            "--timeout=60s",
        )
        apply_text(
            kubeconfig,
            namespace,
            f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w1}}\nspec: {{size: 3}}\n",
        )
        widget = get_json(kubeconfig, namespace, f"widgets.{group}/w1")
        assert widget["spec"]["size"] == 3
    finally:
        kubectl(kubeconfig, "delete", f"crd/widgets.{group}", "--wait=false", check=False)


def test_namespace_with_objects_deleted(kubeconfig: str, namespace: str) -> None:
    apply_text(kubeconfig, namespace, WORKLOADS)
    wait(kubeconfig, namespace, "--for=condition=Available", "deployment/web")
    kubectl(kubeconfig, "delete", "namespace", namespace, "--timeout=120s")
    gone = kubectl(kubeconfig, "get", "namespace", namespace, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


def test_helm_installs_local_chart(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    helm = helm_binary()
    assert helm is not None, "helm is not built; run: deployer local build"
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hi\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n"
        "data: {greeting: {{ .Values.greeting | quote }}}\n"
    )
    env = dict(
        os.environ,
        KUBECONFIG=kubeconfig,
        HELM_CACHE_HOME=str(tmp_path / "cache"),
        HELM_CONFIG_HOME=str(tmp_path / "config"),
    )
    run = [str(helm), "--namespace", namespace]
    subprocess.run(
        [*run, "install", "hello", str(chart)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    releases = json.loads(
        subprocess.run(
            [*run, "list", "-o", "json"], env=env, check=True, capture_output=True, text=True
        ).stdout
    )
    assert [r["name"] for r in releases] == ["hello"]
    assert releases[0]["status"] == "deployed"
    assert get_json(kubeconfig, namespace, "configmap/hello")["data"]["greeting"] == "hi"


def test_statefulset_claims_bind_on_default_storage_class(kubeconfig: str, namespace: str) -> None:
    apply_text(
        kubeconfig,
        namespace,
        """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec:
          replicas: 2
          serviceName: db
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec: {containers: [{name: db, image: redis:7}]}
          volumeClaimTemplates:
          - metadata: {name: data}
            spec:
              accessModes: [ReadWriteOnce]
              resources: {requests: {storage: 512Mi}}
        """,
    )
    wait(kubeconfig, namespace, "--for=jsonpath={.status.readyReplicas}=2", "statefulset/db")
    claims = get_json(kubeconfig, namespace, "pvc")["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    assert {c["status"]["phase"] for c in claims} == {"Bound"}
    assert {c["spec"]["storageClassName"] for c in claims} == {"standard"}


def _node_count(cluster: local.LocalCluster) -> int:
    kubeconfig = str(cluster.kubeconfig)
    printed = kubectl(kubeconfig, "get", "nodes", "--no-headers", check=False).stdout
    return printed.count(" Ready ")


def test_second_up_during_start_waits_until_ready() -> None:
    name = f"pytest-race-{os.getpid()}"
    first: dict[str, local.LocalCluster] = {}
    starter = threading.Thread(target=lambda: first.setdefault("cluster", local.up(name, nodes=1)))
    starter.start()
    try:
        time.sleep(0.3)
        second = local.up(name, nodes=1)
        assert _node_count(second) == 1
        starter.join(timeout=180)
        assert first["cluster"].server == second.server
    finally:
        starter.join(timeout=180)
        local.down(name)


def test_down_stops_processes_and_frees_ports(tmp_path: Path) -> None:
    name = f"pytest-down-{os.getpid()}"
    cluster = local.up(name, nodes=1)
    try:
        assert all(cluster.alive().values())
        again = local.up(name)
        assert again.already_running
        claim = tmp_path / "claim.yaml"
        claim.write_text(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
            "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n"
        )
        kubeconfig = str(cluster.kubeconfig)
        kubectl(kubeconfig, "apply", "-f", str(claim))
        kubectl(kubeconfig, "wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data")
        volume = get_json(kubeconfig, "default", "pvc/data")["spec"]["volumeName"]
        folder = Path(get_json(kubeconfig, "default", f"pv/{volume}")["spec"]["hostPath"]["path"])
        assert folder.is_dir()
    finally:
        assert local.down(name)
    assert not any(
        processes.is_alive(pid, marker=str(cluster.folder)) for pid in cluster.pids.values()
    )
    assert all(processes.port_is_free(port) for port in cluster.ports.values())
    assert local.status(name) is None
    assert not folder.exists()


class PortThief:
    """Stand-in for `processes.free_ports` that returns real free ports and then listens on
    one of them, as another process does that takes a port between the pick and the start.

    `times` is how many picks lose a port; later picks are left alone.
    """

    def __init__(self, index: int, times: int) -> None:
        self.index = index
        self.times = times
        self.pick = processes.free_ports
        self.held: list[socket.socket] = []

    def __call__(self, count: int, **kwargs: Any) -> list[int]:
        ports = self.pick(count, **kwargs)
        if len(self.held) < self.times:
            holder = socket.socket()
            holder.bind((processes.LOOPBACK, ports[self.index]))
            holder.listen()
            self.held.append(holder)
        return ports

    @property
    def taken(self) -> list[int]:
        return [holder.getsockname()[1] for holder in self.held]

    def release(self) -> None:
        for holder in self.held:
            holder.close()


# Ports as `up` picks them: etcd's client port, its peer port, kube-apiserver's port.
@pytest.mark.parametrize(("component", "index"), [("etcd", 0), ("kube-apiserver", 2)])
def test_port_taken_after_pick_gets_fresh_ports(
    monkeypatch: pytest.MonkeyPatch, component: str, index: int
) -> None:
    name = f"pytest-port-{component}-{os.getpid()}"
    thief = PortThief(index, times=1)
    monkeypatch.setattr(processes, "free_ports", thief)
    lines: list[str] = []
    try:
        cluster = local.up(name, nodes=1, report=lines.append)
        [taken] = thief.taken
        assert taken not in cluster.ports.values()
        assert all(cluster.alive().values())
        assert _node_count(cluster) == 1
        retried = [line for line in lines if f"could not listen on port {taken}" in line]
        assert retried, lines
        assert "attempt 2 of 3" in retried[0]
        earlier_log = cluster.folder / "logs-attempt-1" / f"{component}.log"
        assert processes.ADDRESS_IN_USE in earlier_log.read_text()
    finally:
        thief.release()
        local.down(name)


def test_port_taken_every_time_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"pytest-port-always-{os.getpid()}"
    thief = PortThief(0, times=local.START_ATTEMPTS)
    monkeypatch.setattr(processes, "free_ports", thief)
    try:
        with pytest.raises(LocalClusterError) as raised:
            local.up(name, nodes=1, report=lambda _line: None)
        message = str(raised.value)
        assert f"port {thief.taken[-1]} on 127.0.0.1 is already in use" in message
        assert f"gave up after {local.START_ATTEMPTS} attempts" in message
        assert len(thief.taken) == local.START_ATTEMPTS
        recorded = local.status(name)
        assert recorded is not None
        assert not any(recorded.alive().values())
    finally:
        thief.release()
        local.down(name)


def _unknown_sim_pod(name: str, value: str) -> str:
    return f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
          annotations: {{deployer.dev/sim: {value}}}
        spec: {{containers: [{{name: main, image: example.invalid/app:1}}]}}
        """


def test_unknown_sim_value_names_known_values(kubeconfig: str, namespace: str) -> None:
    apply_text(kubeconfig, namespace, _unknown_sim_pod("typo", "crashlop"))
    wait(
        kubeconfig,
        namespace,
        "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}"
        "=CreateContainerConfigError",
        "pod/typo",
    )
    pod = get_json(kubeconfig, namespace, "pod/typo")
    assert pod["status"]["phase"] == "Pending"
    message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert '"crashlop"' in message
    assert "deployer.dev/sim" in message
    for known in ("unready", "crashloop", "imagepull", "fail"):
        assert known in message


def test_apply_fails_at_once_on_unknown_sim_value(kubeconfig: str, namespace: str) -> None:
    from deployer.cluster import Cluster
    from deployer.engine.apply import ApplyOptions, apply_manifests
    from deployer.errors import ObjectFailed
    from deployer.sources.loader import load_text

    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: carts}
spec:
  replicas: 1
  selector: {matchLabels: {app: carts}}
  template:
    metadata:
      labels: {app: carts}
      annotations: {deployer.dev/sim: crash-loop}
    spec:
      containers: [{name: carts, image: carts}]
"""
    started = time.monotonic()
    with pytest.raises(ObjectFailed) as raised:
        apply_manifests(
            Cluster.connect(kubeconfig=kubeconfig),
            load_text(text, file="test.yaml"),
            options=ApplyOptions(namespace=namespace, timeout_seconds=300),
        )
    message = str(raised.value)
    assert f"Deployment {namespace}/carts" in message
    assert "CreateContainerConfigError" in message
    assert 'unknown value "crash-loop" of pod annotation deployer.dev/sim' in message
    assert time.monotonic() - started < 60


@pytest.fixture
def cluster_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique name for a cluster the test starts itself; the cluster is removed afterwards."""
    stem = request.node.name.removeprefix("test_").replace("_", "-")[:30]
    name = f"pytest-{stem}-{os.getpid()}"
    yield name
    local.down(name)


def _kill(cluster: local.LocalCluster, *components: str) -> None:
    """SIGKILL the given components of the cluster and wait until they are gone."""
    for component in components:
        pid = cluster.pids[component]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while processes.is_alive(pid, marker=str(cluster.folder)):
            assert time.monotonic() < deadline, f"{component} (pid {pid}) did not exit"
            time.sleep(0.05)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _config_map_data(cluster: local.LocalCluster, name: str) -> dict[str, str]:
    found = get_json(str(cluster.kubeconfig), "default", f"configmap/{name}")
    return dict(found["data"])


def _status(name: str) -> Result:
    return CliRunner().invoke(local_group, ["status", name])


def test_up_restarts_only_killed_kwok(cluster_name: str) -> None:
    cluster = local.up(cluster_name, nodes=1)
    kubeconfig = str(cluster.kubeconfig)
    kubectl(kubeconfig, "create", "configmap", "keepme", "--from-literal=kept=yes")
    _kill(cluster, "kwok")
    stopped = _status(cluster_name)
    assert stopped.exit_code == 1
    assert f"{cluster_name}: degraded" in stopped.output
    assert re.search(r"kwok +pid \d+ +exited", stopped.output)

    lines: list[str] = []
    again = local.up(cluster_name, report=lines.append)

    assert again.kept_data
    assert again.restarted == ["kwok"]
    assert any("kwok is not running" in line for line in lines), lines
    assert not any("afresh" in line for line in lines), lines
    survivors = [name for name in local.PROCESS_ORDER if name != "kwok"]
    assert {n: again.pids[n] for n in survivors} == {n: cluster.pids[n] for n in survivors}
    assert again.server == cluster.server, "\n".join(lines)
    assert _config_map_data(again, "keepme") == {"kept": "yes"}
    assert _node_count(again) == 1
    assert _status(cluster_name).exit_code == 0


def test_up_after_all_processes_killed_keeps_objects(cluster_name: str) -> None:
    """The state after a reboot: every process gone, the cluster's folder intact."""
    cluster = local.up(cluster_name, nodes=1)
    kubectl(str(cluster.kubeconfig), "create", "configmap", "keepme", "--from-literal=kept=yes")
    _kill(cluster, *reversed(local.PROCESS_ORDER))
    stopped = _status(cluster_name)
    assert stopped.exit_code == 1
    assert f"{cluster_name}: stopped" in stopped.output

    lines: list[str] = []
    again = local.up(cluster_name, report=lines.append)

    assert again.kept_data
    assert again.restarted == list(local.PROCESS_ORDER)
    assert again.server == cluster.server, "\n".join(lines)
    assert _config_map_data(again, "keepme") == {"kept": "yes"}
    assert _node_count(again) == 1
    assert all(again.alive().values())
    assert _status(cluster_name).exit_code == 0


@contextlib.contextmanager
def _listening_on(port: int) -> Iterator[None]:
    """Listen on `port` of the loopback address, once the killed process's sockets let go."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                holder.bind((processes.LOOPBACK, port))
                break
            except OSError:
                assert time.monotonic() < deadline, f"port {port} stayed in use"
                time.sleep(0.1)
        holder.listen()
        yield


def test_up_moves_taken_apiserver_port(cluster_name: str) -> None:
    cluster = local.up(cluster_name, nodes=1)
    kubectl(str(cluster.kubeconfig), "create", "configmap", "keepme", "--from-literal=kept=yes")
    _kill(cluster, *reversed(local.PROCESS_ORDER))
    old_port = cluster.ports["kube-apiserver"]
    with _listening_on(old_port):
        lines: list[str] = []
        again = local.up(cluster_name, report=lines.append)

    assert again.ports["kube-apiserver"] != old_port
    assert again.server != cluster.server
    assert any(f"port {old_port} of kube-apiserver is in use" in line for line in lines), lines
    written = json.loads(again.kubeconfig.read_text())
    assert written["clusters"][0]["cluster"]["server"] == again.server
    assert _config_map_data(again, "keepme") == {"kept": "yes"}
    assert _node_count(again) == 1


def test_status_after_killed_up_reports_components_down(cluster_name: str) -> None:
    state_file = local.paths.cluster_dir(cluster_name) / "state.json"
    command = [sys.executable, "-c", "from deployer.cli.main import main; main()"]
    starting = subprocess.Popen(
        [*command, "local", "up", cluster_name, "--nodes", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not state_file.exists():
            assert starting.poll() is None, "`local up` ended before it recorded etcd"
            assert time.monotonic() < deadline, "`local up` recorded no state"
            time.sleep(0.01)
    finally:
        starting.kill()
        starting.wait()

    result = _status(cluster_name)

    assert result.exit_code == 1
    assert f"{cluster_name}: degraded" in result.output
    assert re.search(r"etcd +pid \d+ +alive", result.output)
    assert re.search(r"kwok +pid - +never started", result.output)
    assert "the last `deployer local up` of it did not finish" in result.output
    rows = json.loads(
        CliRunner().invoke(local_group, ["status", cluster_name, "-o", "json"]).output
    )
    assert "kwok is not running" in rows[0]["problems"]

    # etcd may still be creating its data folder; `up` starts afresh without one.
    data = local.paths.cluster_dir(cluster_name) / "etcd" / "member"
    deadline = time.monotonic() + 30
    while not data.is_dir():
        assert time.monotonic() < deadline, "etcd created no data folder"
        time.sleep(0.05)
    lines: list[str] = []
    again = local.up(cluster_name, report=lines.append)
    assert again.kept_data, "\n".join(lines)
    assert "kwok" in again.restarted
    assert _node_count(again) == 1
    assert _status(cluster_name).exit_code == 0


def test_up_fresh_discards_objects(cluster_name: str) -> None:
    cluster = local.up(cluster_name, nodes=1)
    kubectl(str(cluster.kubeconfig), "create", "configmap", "keepme", "--from-literal=kept=yes")
    lines: list[str] = []

    again = local.up(cluster_name, fresh=True, report=lines.append)

    assert not again.kept_data
    assert any("discarding cluster" in line for line in lines), lines
    lookup = kubectl(str(again.kubeconfig), "get", "configmap", "keepme", check=False)
    assert "NotFound" in lookup.stderr
    marker = str(cluster.folder)
    assert not any(processes.is_alive(pid, marker=marker) for pid in cluster.pids.values())


def test_up_keeps_unreadable_etcd_data(cluster_name: str) -> None:
    cluster = local.up(cluster_name, nodes=1)
    _kill(cluster, *reversed(local.PROCESS_ORDER))
    database = cluster.folder / "etcd" / "member" / "snap" / "db"
    database.write_text("not a database\n")

    with pytest.raises(LocalClusterError) as raised:
        local.up(cluster_name, report=lambda _line: None, timeout=60)

    message = str(raised.value)
    assert "etcd of cluster" in message
    assert "failed to open database" in message
    assert f"`deployer local up {cluster_name} --fresh`" in message
    assert database.read_text() == "not a database\n"
    again = local.up(cluster_name, nodes=1, fresh=True, report=lambda _line: None)
    assert _node_count(again) == 1
