"""Stop a local cluster: its processes, recorded in state.json or not, and on `down` its
folder and the folders of its provisioned volumes."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from deployer.errors import LocalClusterError
from deployer.local import paths, processes
from deployer.local.api import Api, ApiUnreachable
from deployer.local.health import admin_token, unrecorded
from deployer.local.state import PROCESS_ORDER, LocalCluster, load

log = logging.getLogger(__name__)

# The controller manager's host-path provisioner creates volume folders here.
HOSTPATH_ROOT = "/tmp/hostpath_pv"


def down_locked(name: str, *, remove: bool) -> bool:
    """Stop the cluster as `down` does; the caller holds the cluster's lock."""
    cluster = load(name)
    if cluster is None:
        folder = paths.cluster_dir(name)
        stray = LocalCluster(name=name, folder=folder, server="")
        stop_unrecorded(stray, report=log.warning)
        return False
    volumes = _provisioned_volume_folders(cluster)
    left = stop_processes(cluster) + stop_unrecorded(cluster, report=log.info)
    if left:
        raise LocalClusterError(
            f"processes {left} of cluster {name} did not stop; kill them by hand"
        )
    busy = [p for p in cluster.ports.values() if not port_released(p)]
    if busy:
        raise LocalClusterError(
            f"ports {busy} of cluster {name} are still in use after its processes stopped"
        )
    if remove:
        shutil.rmtree(cluster.folder, ignore_errors=True)
        for folder in volumes:
            shutil.rmtree(folder, ignore_errors=True)
    return True


def _provisioned_volume_folders(cluster: LocalCluster) -> list[Path]:
    """Return the host-path folders of the cluster's provisioned volumes, if it answers."""
    try:
        token = admin_token(cluster.folder)
        api = Api(cluster.server, ca_file=cluster.folder / "pki" / "ca.crt", token=token)
        code, body = api.request("GET", "/api/v1/persistentvolumes", timeout=3.0)
    except (OSError, ApiUnreachable):
        return []
    if code != 200 or not isinstance(body, dict):
        return []
    folders = []
    for volume in body.get("items", []):
        path = (volume.get("spec", {}).get("hostPath") or {}).get("path", "")
        if path.startswith(HOSTPATH_ROOT + "/"):
            folders.append(Path(path))
    return folders


def stop_unrecorded(cluster: LocalCluster, *, report: Callable[[str], None]) -> list[int]:
    """Stop the cluster's processes that state.json does not record; return pids left alive."""
    found = unrecorded(cluster)
    if not found:
        return []
    described = ", ".join(f"{name} (pid {pid})" for pid, name in found.items())
    report(
        f"stopping {described} of cluster {cluster.name}: running but not recorded, as an"
        " interrupted `deployer local up` leaves it"
    )
    return processes.stop(list(found), marker=str(cluster.folder))


def stop_processes(cluster: LocalCluster, names: Iterable[str] = PROCESS_ORDER) -> list[int]:
    """Stop the cluster's components in `names`, last started first; return pids left alive."""
    left: list[int] = []
    chosen = set(names)
    for name in reversed(PROCESS_ORDER):
        pid = cluster.pids.get(name) if name in chosen else None
        if pid is not None:
            left += processes.stop([pid], marker=str(cluster.folder))
    return left


def port_released(port: int, wait: float = 5.0) -> bool:
    """Return True once `port` is free, polling it for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if processes.port_is_free(port):
            return True
        time.sleep(0.1)
    return False
