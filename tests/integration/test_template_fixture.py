"""The fixture template kind against the local control plane."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster import Cluster
from deployer.engine.kinds import TemplateContext
from deployer.engine.templates import KINDS
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _context(cluster: Cluster, namespace: str, **extra: Any) -> TemplateContext:
    return TemplateContext(
        cluster=cluster,
        base_dir=Path.cwd(),
        parameters={},
        workflow_parameters={},
        namespace=namespace,
        run_name="fixture-abcde",
        node_name="fixture-abcde.storage",
        **extra,
    )


def _get(kubeconfig: str, namespace: str, *what: str) -> dict[str, Any]:
    return dict(json.loads(kubectl(kubeconfig, "get", *what, "-n", namespace, "-o", "json").stdout))


def test_missing_fixture_names_what_and_where(cluster: Cluster, namespace: str) -> None:
    spec = {
        "resources": [
            {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "name": "no-such-class"}
        ],
        "timeout": "2s",
    }
    result = KINDS["fixture"].run(spec, _context(cluster, namespace))
    assert result.phase == "Failed"
    message = result.message
    assert "fixture not found" in message
    assert "apiVersion storage.k8s.io/v1" in message
    assert "kind StorageClass" in message
    assert "name no-such-class" in message
    assert "cluster-scoped" in message
    assert f"cluster context {cluster.connection.context}" in message
    assert cluster.connection.server in message


def test_missing_namespaced_fixture_names_namespace(cluster: Cluster, namespace: str) -> None:
    spec = {
        "resources": [{"apiVersion": "v1", "kind": "Secret", "name": "registry-credentials"}],
        "timeout": "1s",
    }
    result = KINDS["fixture"].run(spec, _context(cluster, namespace))
    assert result.phase == "Failed"
    assert f"namespace {namespace}" in result.message
    assert "kind Secret" in result.message


def test_fixture_waits_for_late_resource(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    def create_later() -> None:
        time.sleep(1.5)
        kubectl(kubeconfig, "create", "configmap", "shared-settings", "-n", namespace)

    creator = threading.Thread(target=create_later)
    creator.start()
    spec = {
        "resources": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "shared-settings"}],
        "timeout": "30s",
    }
    outputs = [
        {
            "name": "uid",
            "valueFrom": {"jsonPath": "{.metadata.uid}", "object": "ConfigMap/shared-settings"},
        }
    ]
    result = KINDS["fixture"].run(spec, _context(cluster, namespace, output_parameters=outputs))
    creator.join()
    assert result.phase == "Succeeded", result.message
    live = _get(kubeconfig, namespace, "configmap", "shared-settings")
    assert result.outputs == {"uid": live["metadata"]["uid"]}


def test_fixture_is_never_changed_or_deleted(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    kubectl(
        kubeconfig, "create", "configmap", "owned-elsewhere", "-n", namespace, "--from-literal=a=b"
    )
    before = _get(kubeconfig, namespace, "configmap", "owned-elsewhere")
    spec = {"resources": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owned-elsewhere"}]}
    ctx = _context(cluster, namespace)

    assert KINDS["fixture"].run(spec, ctx).phase == "Succeeded"
    assert KINDS["fixture"].destroy(spec, ctx).phase == "Succeeded"
    after = _get(kubeconfig, namespace, "configmap", "owned-elsewhere")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_external_endpoint_survives_destroy(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    spec = {
        "external": {
            "service": {
                "name": "orders-db",
                "port": 27017,
                "addresses": ["192.0.2.10", "192.0.2.11"],
            }
        },
    }
    outputs = [
        {
            "name": "ip",
            "valueFrom": {"jsonPath": "{.spec.clusterIP}", "object": "Service/orders-db"},
        }
    ]
    ctx = _context(cluster, namespace, output_parameters=outputs)
    result = KINDS["fixture"].run(spec, ctx)
    assert result.phase == "Succeeded", result.message

    service = _get(kubeconfig, namespace, "service", "orders-db")
    assert "selector" not in service["spec"]
    assert service["spec"]["ports"][0]["port"] == 27017
    assert result.outputs == {"ip": service["spec"]["clusterIP"]}
    endpoint_slice = _get(kubeconfig, namespace, "endpointslice", "orders-db-external")
    assert endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"] == "orders-db"
    assert endpoint_slice["addressType"] == "IPv4"
    addresses = [a for e in endpoint_slice["endpoints"] for a in e["addresses"]]
    assert addresses == ["192.0.2.10", "192.0.2.11"]
    # The API server fills in an empty port name, which matches the Service's unnamed port.
    ports = [(p["port"], p["protocol"], p.get("name", "")) for p in endpoint_slice["ports"]]
    assert ports == [(27017, "TCP", "")]

    destroyed = KINDS["fixture"].destroy(spec, ctx)
    assert destroyed.phase == "Succeeded", destroyed.message
    assert (
        _get(kubeconfig, namespace, "service", "orders-db")["metadata"]["uid"]
        == (service["metadata"]["uid"])
    )
    kept = _get(kubeconfig, namespace, "endpointslice", "orders-db-external")
    assert kept["metadata"]["uid"] == endpoint_slice["metadata"]["uid"]


def test_external_name_service(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    spec = {"external": {"service": {"name": "payments", "externalName": "pay.example.internal"}}}
    result = KINDS["fixture"].run(spec, _context(cluster, namespace))
    assert result.phase == "Succeeded", result.message
    service = _get(kubeconfig, namespace, "service", "payments")
    assert service["spec"]["type"] == "ExternalName"
    assert service["spec"]["externalName"] == "pay.example.internal"


def test_external_with_bad_address_is_rejected(cluster: Cluster, namespace: str) -> None:
    spec = {"external": {"service": {"name": "db", "port": 5432, "addresses": ["db.internal"]}}}
    result = KINDS["fixture"].run(spec, _context(cluster, namespace))
    assert result.phase == "Error"
    assert "'db.internal' is not an IP address" in result.message


def test_fixture_of_unserved_kind_names_it(cluster: Cluster, namespace: str) -> None:
    spec = {
        "resources": [
            {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "name": "letsencrypt"}
        ]
    }
    result = KINDS["fixture"].run(spec, _context(cluster, namespace))
    assert result.phase == "Failed"
    assert "apiVersion cert-manager.io/v1, kind ClusterIssuer, name letsencrypt" in result.message
    assert "does not serve this kind" in result.message
    assert cluster.connection.server in result.message


def test_fixture_crd_is_ready_when_established(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    crd_name = f"things{namespace.replace('-', '')[-6:]}.fixture-tests.example"
    plural = crd_name.split(".")[0]
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {
            "group": "fixture-tests.example",
            "scope": "Namespaced",
            "names": {"kind": plural.capitalize(), "plural": plural},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "create", "-f", "-"],
        input=json.dumps(crd),
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        spec = {
            "resources": [
                {
                    "apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "name": crd_name,
                }
            ],
            "timeout": "30s",
        }
        result = KINDS["fixture"].run(spec, _context(cluster, namespace))
        assert result.phase == "Succeeded", result.message
        assert f"CustomResourceDefinition.apiextensions.k8s.io {crd_name}" in result.message
    finally:
        kubectl(kubeconfig, "delete", "crd", crd_name, "--wait=false")


def test_loopback_endpoint_is_rejected_before_writes(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    spec = {"external": {"service": {"name": "db", "port": 5432, "addresses": ["127.0.0.1"]}}}

    result = KINDS["fixture"].run(spec, _context(cluster, namespace))

    assert result.phase == "Error", result.message
    assert "address 127.0.0.1 is in the loopback range" in result.message
    assert "the API server rejects in an EndpointSlice" in result.message
    for kind, name in (("service", "db"), ("endpointslice", "db-external")):
        found = kubectl(kubeconfig, "get", kind, name, "-n", namespace, check=False)
        assert found.returncode != 0, f"{kind} {name} was written although the fixture failed"


def test_rejected_endpoint_slice_writes_nothing(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    # An EndpointSlice contains at most 1000 endpoints (Kubernetes 1.37), one per address here.
    addresses = [f"10.1.{index // 250}.{index % 250 + 1}" for index in range(1001)]
    spec = {"external": {"service": {"name": "db", "port": 5432, "addresses": addresses}}}

    result = KINDS["fixture"].run(spec, _context(cluster, namespace))

    assert result.phase == "Failed", result.message
    assert "nothing was applied" in result.message
    assert f"EndpointSlice.discovery.k8s.io {namespace}/db-external" in result.message
    assert "endpoints: Too many: 1001: must have at most 1000 items" in result.message
    for kind, name in (("service", "db"), ("endpointslice", "db-external")):
        found = kubectl(kubeconfig, "get", kind, name, "-n", namespace, check=False)
        assert found.returncode != 0, f"{kind} {name} was written although the fixture failed"
