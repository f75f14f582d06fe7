"""Kind ranks: the default apply order of built-in kinds, and the order of deletion.

Objects of one rank go in one wave. Ranks are coarse on purpose, because every wave
costs a round of waiting: ServiceAccounts, Secrets, ConfigMaps and RBAC share a rank,
since none of them waits on another. What must hold:

- CustomResourceDefinitions come before their custom resources.
- Namespaces come before the namespaced objects in them.
- StorageClasses and PersistentVolumes come before the claims that bind to them.
- Services come before workloads, so that pods get the Service environment variables.
- Workloads come after their configuration, and Jobs after the workloads they may call.
- Webhook configurations come after the workloads that serve them, so that the backend
  is running before the API server starts calling it.
- Custom resources, and any kind this table does not list, come last: after the
  webhooks, so that an operator's webhook validates them.

Deletion runs the other way: custom resources first (while their operators still run),
then webhooks, Jobs, workloads and configuration, then CRDs, and Namespaces last. Apart
from CRDs and Namespaces, objects go in reverse apply order, so each goes before what it
depends on.
"""

from __future__ import annotations

from typing import Final

CORE = ""
APPS = "apps"
BATCH = "batch"
RBAC = "rbac.authorization.k8s.io"
STORAGE = "storage.k8s.io"
NETWORKING = "networking.k8s.io"
ADMISSION = "admissionregistration.k8s.io"
EXTENSIONS = "apiextensions.k8s.io"

RANK_CRD: Final = 0
RANK_NAMESPACE: Final = 1
RANK_CONFIG: Final = 2  # identities, configuration, policy, storage classes, RBAC
RANK_CLAIMS_AND_SERVICES: Final = 3  # PVCs, Services and what routes to pods
RANK_WORKLOAD: Final = 4
RANK_JOB: Final = 5
RANK_EDGE: Final = 6  # Ingresses, webhooks, API services
RANK_CUSTOM: Final = 7  # custom resources and kinds not in the table

RANK_NAMES: Final[dict[int, str]] = {
    RANK_CRD: "CRDs",
    RANK_NAMESPACE: "namespaces",
    RANK_CONFIG: "configuration",
    RANK_CLAIMS_AND_SERVICES: "claims and services",
    RANK_WORKLOAD: "workloads",
    RANK_JOB: "jobs",
    RANK_EDGE: "ingress and webhooks",
    RANK_CUSTOM: "custom resources",
}

# (API group, kind) -> rank, in apply order.
KIND_RANKS: Final[dict[tuple[str, str], int]] = {
    (EXTENSIONS, "CustomResourceDefinition"): RANK_CRD,
    (CORE, "Namespace"): RANK_NAMESPACE,
    (CORE, "ServiceAccount"): RANK_CONFIG,
    (CORE, "Secret"): RANK_CONFIG,
    (CORE, "ConfigMap"): RANK_CONFIG,
    (CORE, "ResourceQuota"): RANK_CONFIG,
    (CORE, "LimitRange"): RANK_CONFIG,
    ("scheduling.k8s.io", "PriorityClass"): RANK_CONFIG,
    ("node.k8s.io", "RuntimeClass"): RANK_CONFIG,
    (STORAGE, "StorageClass"): RANK_CONFIG,
    (STORAGE, "CSIDriver"): RANK_CONFIG,
    (CORE, "PersistentVolume"): RANK_CONFIG,
    (RBAC, "ClusterRole"): RANK_CONFIG,
    (RBAC, "ClusterRoleBinding"): RANK_CONFIG,
    (RBAC, "Role"): RANK_CONFIG,
    (RBAC, "RoleBinding"): RANK_CONFIG,
    (NETWORKING, "IngressClass"): RANK_CONFIG,
    (CORE, "PersistentVolumeClaim"): RANK_CLAIMS_AND_SERVICES,
    (CORE, "Service"): RANK_CLAIMS_AND_SERVICES,
    (CORE, "Endpoints"): RANK_CLAIMS_AND_SERVICES,
    ("discovery.k8s.io", "EndpointSlice"): RANK_CLAIMS_AND_SERVICES,
    (NETWORKING, "NetworkPolicy"): RANK_CLAIMS_AND_SERVICES,
    ("policy", "PodDisruptionBudget"): RANK_CLAIMS_AND_SERVICES,
    (APPS, "Deployment"): RANK_WORKLOAD,
    (APPS, "StatefulSet"): RANK_WORKLOAD,
    (APPS, "DaemonSet"): RANK_WORKLOAD,
    (APPS, "ReplicaSet"): RANK_WORKLOAD,
    (CORE, "ReplicationController"): RANK_WORKLOAD,
    (CORE, "Pod"): RANK_WORKLOAD,
    (BATCH, "CronJob"): RANK_WORKLOAD,
    ("autoscaling", "HorizontalPodAutoscaler"): RANK_WORKLOAD,
    (BATCH, "Job"): RANK_JOB,
    (NETWORKING, "Ingress"): RANK_EDGE,
    (ADMISSION, "MutatingWebhookConfiguration"): RANK_EDGE,
    (ADMISSION, "ValidatingWebhookConfiguration"): RANK_EDGE,
    (ADMISSION, "ValidatingAdmissionPolicy"): RANK_EDGE,
    (ADMISSION, "ValidatingAdmissionPolicyBinding"): RANK_EDGE,
    ("apiregistration.k8s.io", "APIService"): RANK_EDGE,
}

# Kinds that deletion holds back until every other object is gone, deleted in this order.
# Custom resources must go before their CRD, and deleting a Namespace removes whatever
# is still in it, so Namespaces go last.
DELETE_LAST: Final[dict[tuple[str, str], int]] = {
    (EXTENSIONS, "CustomResourceDefinition"): 1,
    (CORE, "Namespace"): 2,
}

# Built-in kinds that are not namespaced. Objects of these kinds never depend on a Namespace.
CLUSTER_SCOPED: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        (EXTENSIONS, "CustomResourceDefinition"),
        (CORE, "Namespace"),
        (CORE, "Node"),
        (CORE, "PersistentVolume"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        (STORAGE, "StorageClass"),
        (STORAGE, "CSIDriver"),
        (STORAGE, "CSINode"),
        (STORAGE, "VolumeAttachment"),
        (RBAC, "ClusterRole"),
        (RBAC, "ClusterRoleBinding"),
        (NETWORKING, "IngressClass"),
        (ADMISSION, "MutatingWebhookConfiguration"),
        (ADMISSION, "ValidatingWebhookConfiguration"),
        (ADMISSION, "ValidatingAdmissionPolicy"),
        (ADMISSION, "ValidatingAdmissionPolicyBinding"),
        ("apiregistration.k8s.io", "APIService"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    }
)

# API groups served by Kubernetes itself; a kind in any other group is a custom resource.
BUILT_IN_GROUPS: Final[frozenset[str]] = frozenset(
    group for group, _ in KIND_RANKS.keys() | CLUSTER_SCOPED
) | {
    "authentication.k8s.io",
    "authorization.k8s.io",
    "coordination.k8s.io",
    "events.k8s.io",
    "internal.apiserver.k8s.io",
    "resource.k8s.io",
    "storagemigration.k8s.io",
}


def kind_rank(group: str, kind: str) -> int:
    """Return the apply rank of a kind; unknown kinds rank as custom resources, last."""
    return KIND_RANKS.get((group, kind), RANK_CUSTOM)


def delete_position(group: str, kind: str, apply_wave: int) -> tuple[int, int]:
    """Return the sort key of an object for deletion; lower keys are deleted first.

    `apply_wave` is the index of the wave the object was applied in. Objects go in
    reverse apply order, which deletes every object before what it depends on, except
    that CRDs and then Namespaces wait until everything else is gone (`DELETE_LAST`).
    """
    return DELETE_LAST.get((group, kind), 0), -apply_wave


def is_built_in(group: str) -> bool:
    """Return whether `group` is an API group that this module lists as built in."""
    return group in BUILT_IN_GROUPS


def is_cluster_scoped(group: str, kind: str) -> bool:
    """Return whether a built-in kind is cluster-scoped (False for unknown kinds)."""
    return (group, kind) in CLUSTER_SCOPED
