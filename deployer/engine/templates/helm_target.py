"""Point helm at the same cluster as deployer's own client.

helm reads a kubeconfig file by itself, but a connected Cluster keeps only the loaded
client, not the path of the file it came from. So the file is found again: the
Cluster's own `kubeconfig` attribute when it has one, else the first of these files
with a context of the same name whose cluster has the same server URL:

1. each file in `KUBECONFIG` (a colon-separated list, as kubectl reads it);
2. `~/.kube/config`;
3. the kubeconfig of each local control plane started by `deployer local`.

Only the `contexts` and `clusters` sections are used, and credentials are never copied
or logged. When no file matches, the step fails with a message that names the fix,
instead of letting helm reach whatever cluster its defaults name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from deployer.errors import WorkflowError


def kubeconfig_of(cluster: Any) -> str | None:
    """Return the kubeconfig file helm must use to reach `cluster`.

    Returns None for a stand-in cluster without a connection, so helm uses its defaults.
    """
    for holder in (cluster, getattr(cluster, "connection", None)):
        path = getattr(holder, "kubeconfig", None)
        if isinstance(path, str | Path) and str(path):
            return str(path)
    connection = getattr(cluster, "connection", None)
    context = str(getattr(connection, "context", "") or "")
    server = str(getattr(connection, "server", "") or "")
    if not server:
        return None
    for candidate in _candidates():
        if _serves(candidate, context, server):
            return str(candidate)
    raise WorkflowError(
        f"cannot find the kubeconfig file of context {context or '(none)'} at {server} "
        "for helm; set KUBECONFIG to that file and run again"
    )


def context_of(cluster: Any) -> str | None:
    """Return the kubeconfig context name the Cluster uses, for helm's `--kube-context`."""
    context = getattr(getattr(cluster, "connection", None), "context", None)
    return str(context) if context else None


def _candidates() -> Iterator[Path]:
    for entry in os.environ.get("KUBECONFIG", "").split(os.pathsep):
        if entry:
            yield Path(entry).expanduser()
    yield Path.home() / ".kube" / "config"
    from deployer.local import cluster as local

    for name in local.list_names():
        recorded = local.load(name)
        if recorded is not None:
            yield recorded.kubeconfig


def _serves(path: Path, context: str, server: str) -> bool:
    """Tell whether a kubeconfig file has `context` pointing at a cluster with `server`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if not isinstance(document, dict):
        return False
    if not context:
        context = str(document.get("current-context") or "")
    cluster_name = None
    for entry in document.get("contexts") or []:
        if isinstance(entry, dict) and entry.get("name") == context:
            cluster_name = (entry.get("context") or {}).get("cluster")
    for entry in document.get("clusters") or []:
        if isinstance(entry, dict) and entry.get("name") == cluster_name:
            found = str((entry.get("cluster") or {}).get("server") or "")
            return found.rstrip("/") == server.rstrip("/")
    return False
