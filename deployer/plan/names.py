"""Static checks of object names, namespaces and label syntax, as the API server applies them.

Name rules (from the Kubernetes API conventions):

- DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending
  with a letter or digit. Namespaces and Services use it.
- DNS-1123 subdomain: labels joined by '.', at most 253 characters in all. Most other
  built-in kinds use it. Kinds not listed here (RBAC roles allow ':', custom resources
  choose their own rules) are not checked.
- A label value is empty or at most 63 letters, digits, '-', '_' and '.', starting and
  ending with a letter or digit. A label key is such a name, optionally after a
  DNS-1123 subdomain prefix and '/'.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from deployer.model.objects import Manifest

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

LABEL_NAME_KINDS = frozenset({("", "Namespace"), ("", "Service")})
SUBDOMAIN_NAME_KINDS = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "Pod"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ReplicationController"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("storage.k8s.io", "StorageClass"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("policy", "PodDisruptionBudget"),
    }
)
# A CronJob adds an 11-character suffix to the names of the Jobs it creates.
MAX_NAME_LENGTH = {("batch", "CronJob"): 52}


def name_problems(manifest: Manifest) -> Iterator[tuple[str, str]]:
    """Yield (field path, message) for an invalid name, namespace or label of `manifest`."""
    metadata = manifest.body.get("metadata")
    if not isinstance(metadata, Mapping):
        yield "metadata", "is missing; every object needs metadata.name"
        return
    name = metadata.get("name")
    if name is None and not metadata.get("generateName"):
        yield "metadata.name", "is missing; every object needs a name (or metadata.generateName)"
    elif name is not None and not isinstance(name, str):
        yield "metadata.name", f'must be a string; quote it: "{name}"'
    elif isinstance(name, str):
        yield from _check_name(name, (manifest.group, manifest.kind))
    namespace = metadata.get("namespace")
    if namespace is not None and not (isinstance(namespace, str) and _is_label(namespace)):
        yield "metadata.namespace", f"{namespace!r} is not a valid namespace name; {_LABEL_HINT}"
    yield from label_key_problems(metadata.get("labels"), "metadata.labels")


_LABEL_HINT = "use at most 63 lowercase letters, digits and '-', starting and ending alphanumeric"


def _check_name(name: str, kind: tuple[str, str]) -> Iterator[tuple[str, str]]:
    if kind in LABEL_NAME_KINDS and not _is_label(name):
        yield "metadata.name", f"{name!r} is not a valid {kind[1]} name; {_LABEL_HINT}"
        return
    if kind in SUBDOMAIN_NAME_KINDS:
        limit = MAX_NAME_LENGTH.get(kind, 253)
        if len(name) > limit or not DNS_SUBDOMAIN.match(name):
            yield (
                "metadata.name",
                f"{name!r} is not a valid {kind[1]} name; use at most {limit} lowercase "
                "letters, digits, '-' and '.', starting and ending alphanumeric",
            )


def _is_label(text: str) -> bool:
    return len(text) <= 63 and DNS_LABEL.match(text) is not None


def label_key_problems(labels: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (field path, message) for each invalid label key or string value in `labels`."""
    if not isinstance(labels, Mapping):
        return
    for key, value in labels.items():
        field = f"{path}.{key}"
        if not _is_label_key(str(key)):
            yield (
                field,
                (
                    "invalid label key; use an optional DNS subdomain prefix and '/', then at most "
                    "63 letters, digits, '-', '_' and '.', starting and ending alphanumeric"
                ),
            )
        if isinstance(value, str) and value and not (len(value) <= 63 and LABEL_NAME.match(value)):
            yield (
                field,
                (
                    f"invalid label value {value!r}; use at most 63 letters, digits, '-', '_' "
                    "and '.', starting and ending alphanumeric"
                ),
            )


def _is_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and LABEL_NAME.match(name) is not None
