"""Readiness waits against the real control plane: workloads that end ready or fail fast."""

from __future__ import annotations

import time
import uuid
from string import Template

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, ApplyResult, apply_manifests
from deployer.errors import ImmutableFieldError, ObjectFailed, ReadinessTimeout, ValidationError
from deployer.model.status import State
from deployer.sources.loader import load_text
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _apply(cluster: Cluster, text: str, namespace: str, *, timeout: float = 60) -> ApplyResult:
    return apply_manifests(
        cluster,
        load_text(text, file="test.yaml"),
        options=ApplyOptions(namespace=namespace, timeout_seconds=timeout),
    )


def _states(result: ApplyResult) -> dict[str, State]:
    return {f"{item.ref.kind}/{item.ref.name}": item.status.state for item in result.objects}


ON_DELETE = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  updateStrategy: {type: OnDelete}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
"""


def test_ondelete_statefulset_becomes_ready(cluster: Cluster, namespace: str) -> None:
    started = time.monotonic()
    result = _apply(cluster, ON_DELETE, namespace)
    assert _states(result) == {"StatefulSet/db": State.READY}
    assert time.monotonic() - started < 45


def test_ondelete_statefulset_with_changed_template_is_ready(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    _apply(cluster, ON_DELETE, namespace)
    started = time.monotonic()
    result = _apply(cluster, ON_DELETE.replace("postgres:16", "postgres:17"), namespace)
    assert _states(result) == {"StatefulSet/db": State.READY}
    assert result.objects[0].change == "configured"
    assert time.monotonic() - started < 45
    # OnDelete replaces no pod by itself, so the old revision keeps running.
    revisions = kubectl(
        kubeconfig,
        "get",
        "statefulset",
        "db",
        "-n",
        namespace,
        "-o",
        "jsonpath={.status.currentRevision} {.status.updateRevision}",
    ).stdout.split()
    assert len(revisions) == 2
    assert revisions[0] != revisions[1]


def test_daemonset_matching_no_node_is_ready_at_once(cluster: Cluster, namespace: str) -> None:
    text = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {deployer.dev/no-such-node: "true"}
      containers: [{name: agent, image: busybox}]
"""
    started = time.monotonic()
    result = _apply(cluster, text, namespace)
    assert _states(result) == {"DaemonSet/agent": State.READY}
    assert time.monotonic() - started < 15


def test_pvc_with_late_binding_is_ready(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    storage_class = f"later-{uuid.uuid4().hex[:6]}"
    text = f"""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: {storage_class}}}
provisioner: example.com/none
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data}}
spec:
  storageClassName: {storage_class}
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
"""
    try:
        result = _apply(cluster, text, namespace)
        assert _states(result)["PersistentVolumeClaim/data"] is State.READY
        pvc = next(item for item in result.objects if item.ref.kind == "PersistentVolumeClaim")
        assert pvc.status.reason == "WaitForFirstConsumer"
    finally:
        kubectl(kubeconfig, "delete", "storageclass", storage_class, check=False)


def test_failing_job_fails_at_once_with_backoff_limit(cluster: Cluster, namespace: str) -> None:
    text = """
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {deployer.dev/sim: fail}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
"""
    started = time.monotonic()
    with pytest.raises(ObjectFailed) as raised:
        _apply(cluster, text, namespace, timeout=300)
    assert "BackoffLimitExceeded" in str(raised.value)
    assert f"Job {namespace}/migrate" in str(raised.value)
    assert time.monotonic() - started < 30


def test_generate_name_job_is_tracked_by_returned_name(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    text = """
apiVersion: batch/v1
kind: Job
metadata: {generateName: seed-}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: seed, image: busybox}]
"""
    result = _apply(cluster, text, namespace)
    (job,) = result.objects
    assert job.ref.name.startswith("seed-")
    assert job.ref.name != "seed-"
    assert job.status.state is State.READY
    listed = kubectl(kubeconfig, "get", "job", job.ref.name, "-n", namespace, check=False)
    assert listed.returncode == 0


JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: once
  annotations: {annotations}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: once, image: {image}}}]
"""


def test_job_image_change_names_immutable_path(cluster: Cluster, namespace: str) -> None:
    _apply(cluster, JOB.format(annotations="{}", image="busybox:1"), namespace)
    with pytest.raises(ImmutableFieldError) as raised:
        _apply(cluster, JOB.format(annotations="{}", image="busybox:2"), namespace)
    assert "spec.template" in str(raised.value)
    assert f"Job {namespace}/once" in str(raised.value)


def test_job_with_recreate_annotation_is_replaced(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    recreate = '{deployer.dev/recreate: "true"}'
    _apply(cluster, JOB.format(annotations=recreate, image="busybox:1"), namespace)
    result = _apply(cluster, JOB.format(annotations=recreate, image="busybox:2"), namespace)
    assert _states(result) == {"Job/once": State.READY}
    image = kubectl(
        kubeconfig,
        "get",
        "job",
        "once",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ).stdout
    assert image == "busybox:2"


def test_invalid_recreated_job_keeps_old_job(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    recreate = '{deployer.dev/recreate: "true"}'
    _apply(cluster, JOB.format(annotations=recreate, image="busybox:1"), namespace)
    invalid = JOB.format(annotations=recreate, image="busybox:2").replace("Never", "Always")
    with pytest.raises(ValidationError) as raised:
        _apply(cluster, invalid, namespace)
    assert "spec.template.spec.restartPolicy" in str(raised.value)
    image = kubectl(
        kubeconfig,
        "get",
        "job",
        "once",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ).stdout
    assert image == "busybox:1"


def test_crashlooping_deployment_fails_fast(cluster: Cluster, namespace: str) -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: carts}
spec:
  replicas: 2
  selector: {matchLabels: {app: carts}}
  template:
    metadata:
      labels: {app: carts}
      annotations: {deployer.dev/sim: crashloop}
    spec:
      containers: [{name: carts, image: carts}]
"""
    started = time.monotonic()
    with pytest.raises(ObjectFailed) as raised:
        _apply(cluster, text, namespace, timeout=300)
    assert "CrashLoopBackOff" in str(raised.value)
    assert f"Deployment {namespace}/carts" in str(raised.value)
    assert time.monotonic() - started < 60


def test_unready_deployment_times_out_with_status(cluster: Cluster, namespace: str) -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
  annotations: {deployer.dev/timeout: 4s}
spec:
  replicas: 1
  selector: {matchLabels: {app: stuck}}
  template:
    metadata:
      labels: {app: stuck}
      annotations: {deployer.dev/sim: unready}
    spec:
      containers: [{name: stuck, image: stuck}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
"""
    started = time.monotonic()
    with pytest.raises(ReadinessTimeout) as raised:
        _apply(cluster, text, namespace, timeout=300)
    message = str(raised.value)
    assert f"Deployment {namespace}/stuck: InProgress" in message
    assert "replicas" in message
    assert "ConfigMap" not in message
    assert time.monotonic() - started < 30


IMMUTABLE_CHANGES = [
    (
        "spec.clusterIPs[0]",
        """
apiVersion: v1
kind: Service
metadata: {name: fixed}
spec:
  clusterIP: 10.96.$base.$value
  ports: [{port: 80}]
""",
    ),
    (
        "spec.volumeClaimTemplates",
        """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 0
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: $base${value}Mi}}
""",
    ),
    (
        "spec.selector",
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web-$value}}
  template:
    metadata: {labels: {app: web-$value}}
    spec:
      containers: [{name: web, image: nginx}]
""",
    ),
]


@pytest.mark.parametrize(("path", "template"), IMMUTABLE_CHANGES)
def test_immutable_field_change_names_path(
    cluster: Cluster, namespace: str, path: str, template: str
) -> None:
    # A random third octet keeps parallel runs from asking for the same clusterIP.
    base = uuid.uuid4().int % 200 + 20
    _apply(cluster, Template(template).substitute(base=base, value=1), namespace)
    with pytest.raises(ImmutableFieldError) as raised:
        _apply(cluster, Template(template).substitute(base=base, value=2), namespace)
    assert path in str(raised.value)
    assert "deployer.dev/recreate" in str(raised.value)
