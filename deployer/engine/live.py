"""One-off readiness of a live object, for callers that read it once instead of watching.

`deployer status` and fixture steps read an object and judge it there and then. They
fetch what the readiness rules need besides the object: its pods, and for a Deployment
its ReplicaSets, so that only the pods of the current revision count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.model.status import Status
from deployer.readiness import evaluate, needs_pods, pod_selector


def judge_live(cluster: Any, obj: Mapping[str, Any]) -> Status:
    """Fetch the pods (and ReplicaSets) that `obj`'s readiness depends on, then judge it."""
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    selector = pod_selector(obj)
    if not needs_pods(kind, api_version.rpartition("/")[0]) or not selector:
        return evaluate(obj)
    labels = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    namespace = (obj.get("metadata") or {}).get("namespace")
    pods, _ = cluster.list("v1", "Pod", namespace, label_selector=labels)
    replica_sets = None
    if kind == "Deployment" and api_version == "apps/v1":
        replica_sets, _ = cluster.list("apps/v1", "ReplicaSet", namespace, label_selector=labels)
    return evaluate(obj, pods=pods, replica_sets=replica_sets)
