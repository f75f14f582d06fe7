"""The demo stacks on the local control plane: `up`, a second `up`, `down`, then `up` again.

The tests of this module run in order and share the cluster-wide demo objects (fixed
namespaces, ClusterRoles and node ports), so run this module on its own, never in
parallel with itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.local import helm_binary
from tests.conftest import kubectl

# The demo uses fixed namespaces and node ports: its tests must share one process, which
# scripts/test.sh ensures by handing out whole files to its workers (--dist loadfile).
pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
DEMO_NAMESPACES = ("sock-shop", "monitoring", "logging", "zipkin")
CLUSTER_ROLES = ("prometheus", "kube-state-metrics", "fluentd")


def deployer(kubeconfig: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the deployer CLI from the repository folder against the test cluster."""
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    return subprocess.run(
        [sys.executable, "-c", "from deployer.cli.main import main; main()", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def get_json(kubeconfig: str, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-o", "json").stdout)


def last_record(kubeconfig: str, workflow_file: str) -> dict[str, Any]:
    """Return the newest run record of a workflow file, read from its ConfigMap."""
    items = get_json(
        kubeconfig, "configmaps", "-n", "deployer-runs", "-l", "deployer.dev/record=run"
    )
    records = [json.loads(item["data"]["record.json"]) for item in items["items"]]
    mine = [r for r in records if r.get("sourceFile", "").endswith(workflow_file)]
    assert mine, f"no run record for {workflow_file}"
    return max(mine, key=lambda record: record.get("startedAt") or "")


def run_record(kubeconfig: str, run: str) -> dict[str, Any]:
    """Return the run record of one run, read from its ConfigMap."""
    item = get_json(kubeconfig, "configmap", run, "-n", "deployer-runs")
    record: dict[str, Any] = json.loads(item["data"]["record.json"])
    return record


def task_nodes(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Map each task's display name to its node, for the tasks that ran."""
    return {
        node["displayName"]: node
        for node in record["nodes"].values()
        if node["type"] in ("Manifests", "Helm", "Jsonnet", "Fixture", "Skipped")
    }


def snapshot(kubeconfig: str, namespaces: tuple[str, ...]) -> dict[str, str]:
    """Return `kind/namespace/name -> resourceVersion` for the stack's objects.

    Helm's release Secrets are included, so a new release revision shows up as a change.
    """
    versions: dict[str, str] = {}
    kinds = (
        "deployments,statefulsets,daemonsets,cronjobs,services,configmaps,secrets,jobs,"
        "serviceaccounts"
    )
    for namespace in namespaces:
        for item in get_json(kubeconfig, kinds, "-n", namespace)["items"]:
            meta = item["metadata"]
            versions[f"{item['kind']}/{namespace}/{meta['name']}"] = meta["resourceVersion"]
    for role in CLUSTER_ROLES:
        for kind in ("clusterrole", "clusterrolebinding"):
            item = get_json(kubeconfig, kind, role)
            versions[f"{kind}/{role}"] = item["metadata"]["resourceVersion"]
    return versions


def helm_revision(kubeconfig: str, release: str, namespace: str) -> str:
    """Return the current revision of a Helm release, as `helm list` shows it."""
    binary = helm_binary()
    assert binary is not None, "the helm binary is needed for this test"
    done = subprocess.run(
        [str(binary), "--kubeconfig", kubeconfig, "list", "-n", namespace, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    revisions = {item["name"]: item["revision"] for item in json.loads(done.stdout)}
    assert release in revisions, f"no helm release {namespace}/{release}"
    return str(revisions[release])


def exists(kubeconfig: str, *args: str) -> bool:
    return kubectl(kubeconfig, "get", *args, check=False).returncode == 0


def ready_conditions(item: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in item.get("status", {}).get("conditions", [])}


def wait_gone(kubeconfig: str, *args: str, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not exists(kubeconfig, *args):
            return True
        time.sleep(1)
    return False


@pytest.fixture(scope="module")
def demo_up(kubeconfig: str) -> Iterator[subprocess.CompletedProcess[str]]:
    """`deployer up demo`, once for the module; `down demo` at the end."""
    done = deployer(kubeconfig, "up", "demo")
    yield done
    deployer(kubeconfig, "down", "demo")


def test_up_demo_succeeds(demo_up: subprocess.CompletedProcess[str]) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    assert "stack up:" in demo_up.stdout
    assert "not ready:" not in demo_up.stdout


def test_up_demo_makes_deployments_available(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str]
) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    names = set()
    for namespace in DEMO_NAMESPACES:
        for item in get_json(kubeconfig, "deployments", "-n", namespace)["items"]:
            names.add(item["metadata"]["name"])
            assert ready_conditions(item).get("Available") == "True", item["metadata"]["name"]
    assert {"front-end", "orders", "grafana", "zipkin", "kibana"} <= names


def test_up_demo_makes_daemonsets_ready(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str]
) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    seen = []
    for namespace in ("monitoring", "logging"):
        for item in get_json(kubeconfig, "daemonsets", "-n", namespace)["items"]:
            status = item["status"]
            seen.append(item["metadata"]["name"])
            assert status["desiredNumberScheduled"] > 0
            assert status["numberReady"] == status["desiredNumberScheduled"]
    assert sorted(seen) == ["fluentd", "node-exporter"]


def test_up_demo_completes_import_job(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str]
) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    job = get_json(kubeconfig, "job", "grafana-import-dashboards", "-n", "monitoring")
    assert ready_conditions(job).get("Complete") == "True"


def test_run_records_show_dependency_order(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str]
) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    shop = task_nodes(last_record(kubeconfig, "workflows/sock-shop-workflow.yaml"))
    monitoring = task_nodes(last_record(kubeconfig, "workflows/monitoring-workflow.yaml"))
    before_after = [
        (shop, "databases", "carts"),
        (shop, "databases", "traced-services"),
        (shop, "rabbitmq", "messaging"),
        (shop, "carts", "orders"),
        (shop, "traced-services", "orders"),
        (shop, "orders", "front-end"),
        (shop, "zipkin", "traced-services"),
        (monitoring, "grafana", "import-dashboards"),
        (monitoring, "dashboards", "import-dashboards"),
    ]
    for nodes, first, second in before_after:
        assert nodes[first]["phase"] == "Succeeded", first
        assert nodes[first]["finishedAt"] <= nodes[second]["startedAt"], (first, second)
    assert shop["services"]["phase"] == "Skipped"


def test_second_up_changes_nothing(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str]
) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    before = snapshot(kubeconfig, DEMO_NAMESPACES)
    revision = helm_revision(kubeconfig, "zipkin", "zipkin")
    again = deployer(kubeconfig, "up", "demo")
    assert again.returncode == 0, again.stderr
    after = snapshot(kubeconfig, DEMO_NAMESPACES)
    changed = sorted(
        key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
    )
    assert helm_revision(kubeconfig, "zipkin", "zipkin") == revision
    assert changed == []


def test_status_reports_demo_ready(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str]
) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    done = deployer(kubeconfig, "status", "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "never run" not in done.stdout
    assert "not ready:" not in done.stdout


def test_down_demo_leaves_nothing(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str]
) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    done = deployer(kubeconfig, "down", "demo")
    assert done.returncode == 0, done.stderr
    for namespace in DEMO_NAMESPACES:
        assert wait_gone(kubeconfig, "namespace", namespace), namespace
    for role in CLUSTER_ROLES:
        assert not exists(kubeconfig, "clusterrole", role), role
        assert not exists(kubeconfig, "clusterrolebinding", role), role
    for namespace in DEMO_NAMESPACES:
        name = f"deployer-inventory-{namespace}-namespace"
        assert not exists(kubeconfig, "configmap", name, "-n", "default"), name
    status = deployer(kubeconfig, "status", "demo")
    assert status.returncode == 1, status.stdout + status.stderr
    assert "no: not deployed" in status.stdout


def test_up_after_down_works(kubeconfig: str, demo_up: subprocess.CompletedProcess[str]) -> None:
    assert demo_up.returncode == 0, demo_up.stderr
    if exists(kubeconfig, "namespace", "sock-shop"):
        assert deployer(kubeconfig, "down", "demo").returncode == 0
        assert wait_gone(kubeconfig, "namespace", "sock-shop")
    done = deployer(kubeconfig, "up", "demo")
    assert done.returncode == 0, done.stderr
    front_end = get_json(kubeconfig, "deployment", "front-end", "-n", "sock-shop")
    assert ready_conditions(front_end).get("Available") == "True"


LOCAL_STORAGE = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
"""


def local_volume(index: int, node: str) -> str:
    """A pre-made local PersistentVolume, for a `standard` class without a provisioner."""
    return f"""---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: demo-staging-{index}, labels: {{deployer.dev/test: demo-staging}}}}
spec:
  capacity: {{storage: 512Mi}}
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  persistentVolumeReclaimPolicy: Retain
  local: {{path: /var/lib/demo-staging/pv-{index}}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {{key: kubernetes.io/hostname, operator: In, values: [{node}]}}
"""


STAGING_CLAIMS = 5  # one volume claim per sock-shop database


def needs_volumes(kubeconfig: str) -> bool:
    """Tell whether the existing `standard` StorageClass lacks volumes for the claims.

    A class with a provisioner (as `deployer local up` creates) makes volumes on demand.
    A class without one needs a pre-made Available volume per claim.
    """
    storage_class = get_json(kubeconfig, "storageclass", "standard")
    if storage_class.get("provisioner") != "kubernetes.io/no-provisioner":
        return False
    available = [
        volume
        for volume in get_json(kubeconfig, "persistentvolumes")["items"]
        if volume["spec"].get("storageClassName") == "standard"
        and volume.get("status", {}).get("phase") == "Available"
    ]
    return len(available) < STAGING_CLAIMS


@pytest.fixture
def local_storage(kubeconfig: str, tmp_path: Path) -> Iterator[None]:
    """The `standard` StorageClass and volumes for the staging claims, unless present.

    Without the class this creates it (no provisioner, WaitForFirstConsumer) with 5 local
    volumes, and removes them again afterwards.
    """
    nodes = [n["metadata"]["name"] for n in get_json(kubeconfig, "nodes")["items"]]
    created_class = not exists(kubeconfig, "storageclass", "standard")
    created_volumes = created_class or needs_volumes(kubeconfig)
    text = (LOCAL_STORAGE if created_class else "") + "".join(
        local_volume(i, nodes[i % len(nodes)]) for i in range(STAGING_CLAIMS)
    )
    if created_volumes:
        file = tmp_path / "storage.yaml"
        file.write_text(text)
        kubectl(kubeconfig, "apply", "-f", str(file))
    yield
    if created_volumes:
        kubectl(kubeconfig, "delete", "pv", "-l", "deployer.dev/test=demo-staging", check=False)
    if created_class:
        kubectl(kubeconfig, "delete", "storageclass", "standard", check=False)


def test_up_staging_creates_statefulsets_and_claims(
    kubeconfig: str, demo_up: subprocess.CompletedProcess[str], local_storage: None
) -> None:
    # The demo stack uses the same namespaces; staging replaces it for this test.
    assert deployer(kubeconfig, "down", "demo").returncode == 0
    assert wait_gone(kubeconfig, "namespace", "sock-shop")
    done = deployer(kubeconfig, "up", "staging")
    try:
        assert done.returncode == 0, done.stderr
        databases = {"carts-db", "catalogue-db", "orders-db", "session-db", "user-db"}
        sets = get_json(kubeconfig, "statefulsets", "-n", "sock-shop")["items"]
        assert {s["metadata"]["name"] for s in sets} == databases
        for item in sets:
            assert item["status"].get("readyReplicas") == 1, item["metadata"]["name"]
        claims = get_json(kubeconfig, "persistentvolumeclaims", "-n", "sock-shop")["items"]
        assert {c["metadata"]["name"] for c in claims} == {f"data-{db}-0" for db in databases}
        for claim in claims:
            assert claim["spec"]["resources"]["requests"]["storage"] == "512Mi"
            assert claim["spec"]["storageClassName"] == "standard"
            assert claim["status"]["phase"] == "Bound"
    finally:
        assert deployer(kubeconfig, "down", "staging").returncode == 0
        assert wait_gone(kubeconfig, "namespace", "sock-shop")
