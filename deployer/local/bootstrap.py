"""Objects every local cluster gets once its API server is ready: the simulated nodes and
the default StorageClass, and the checks that the nodes and the default ServiceAccount are
ready."""

from __future__ import annotations

import ipaddress

from deployer.errors import LocalClusterError
from deployer.local.api import Api
from deployer.local.components import POD_CIDR

# Each simulated node gets a /22 of POD_CIDR (1,024 addresses), enough for the 1,000 pods
# a node admits (`pods` capacity in kwok-stages.yaml), so the /16 has room for 64 nodes.
NODE_POD_PREFIX = 22
MAX_NODES = 64


def _node_body(index: int) -> dict[str, object]:
    name = f"kwok-node-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {"podCIDR": _node_pod_cidr(index)},
    }


def _node_pod_cidr(index: int) -> str:
    """Return the pod range of node `index`: the index-th /22 of POD_CIDR."""
    network = ipaddress.ip_network(POD_CIDR)
    return str(list(network.subnets(new_prefix=NODE_POD_PREFIX))[index])


def register_nodes(api: Api, count: int) -> None:
    """Register `count` simulated nodes; a node that is registered already is kept."""
    for index in range(count):
        code, body = api.request("POST", "/api/v1/nodes", _node_body(index))
        if code not in (200, 201, 409):
            raise LocalClusterError(
                f"registering simulated node kwok-node-{index} failed: HTTP {code}: {body}"
            )


STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": "standard",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    },
    "provisioner": "kubernetes.io/host-path",
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}


def create_storage_class(api: Api) -> None:
    """Create the default StorageClass `standard`, served by the host-path provisioner."""
    code, body = api.request("POST", "/apis/storage.k8s.io/v1/storageclasses", STORAGE_CLASS)
    if code not in (200, 201, 409):
        raise LocalClusterError(f"creating StorageClass standard failed: HTTP {code}: {body}")


def nodes_ready(api: Api) -> int:
    """Return the number of nodes whose Ready condition is True."""
    code, body = api.request("GET", "/api/v1/nodes")
    if code != 200 or not isinstance(body, dict):
        return 0
    ready = 0
    for node in body.get("items", []):
        for condition in node.get("status", {}).get("conditions", []) or []:
            if condition.get("type") == "Ready" and condition.get("status") == "True":
                ready += 1
    return ready


def default_service_account_exists(api: Api) -> bool:
    code, _ = api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
    return code == 200
