"""Start, stop and restart local clusters: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok on 127.0.0.1, each cluster with its own folder and ports.

`up` of a cluster that was started before keeps its data: it starts again only the
components that are not running, on the existing etcd data, keys and kubeconfig. A
cluster starts afresh only when it has no etcd data yet, or when the caller asks for it.

This module decides what `up` and `down` do and holds each cluster's lock. The start-up
sequence is in `startup`, the restart of a kept cluster in `restart` and stopping in `stop`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from deployer.errors import LocalClusterError
from deployer.local import paths
from deployer.local.bootstrap import MAX_NODES, NODE_POD_PREFIX
from deployer.local.components import POD_CIDR, SERVICE_IP, STAGES_FILE
from deployer.local.health import check
from deployer.local.restart import report_kept_nodes, restart
from deployer.local.startup import START_ATTEMPTS, PortTaken, Report, start_fresh
from deployer.local.state import PROCESS_ORDER, LocalCluster, list_names, load
from deployer.local.stop import down_locked

__all__ = [
    "DEFAULT_NODES",
    "MAX_NODES",
    "POD_CIDR",
    "PROCESS_ORDER",
    "SERVICE_IP",
    "STAGES_FILE",
    "START_ATTEMPTS",
    "LocalCluster",
    "PortTaken",
    "check_name",
    "check_nodes",
    "down",
    "is_ready",
    "list_names",
    "load",
    "status",
    "up",
]

log = logging.getLogger(__name__)

DEFAULT_NODES = 3
# Files a cluster needs to start again on its existing data.
KEY_FILES = ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub", "tokens.csv")


def status(name: str) -> LocalCluster | None:
    """Return the recorded cluster, or None; `health.check` reports which of its processes run."""
    return load(name)


def up(
    name: str = "default",
    *,
    nodes: int | None = None,
    fresh: bool = False,
    report: Report = log.info,
    timeout: float = 180.0,
) -> LocalCluster:
    """Start a local cluster, start again what is not running of one, or return it if it runs.

    Returns once /readyz is ok, every simulated node is Ready and the `default`
    ServiceAccount exists. A cluster started before keeps its etcd data, keys and
    kubeconfig. It starts afresh only when it has no etcd data yet, or with `fresh`,
    which first discards the cluster with all its objects. `nodes` (default 3) applies
    to a new cluster only. Builds the binaries first if they are not cached. If a port is
    taken between picking it and starting its component, starts again on fresh ports, up
    to START_ATTEMPTS times within `timeout` seconds.

    Raises LocalClusterError when a cluster with etcd data cannot start again on it.
    """
    check_name(name)
    if nodes is not None:
        check_nodes(nodes)
    with _cluster_lock(name):
        return _up_locked(name, nodes=nodes, fresh=fresh, report=report, timeout=timeout)


@contextlib.contextmanager
def _cluster_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock on the cluster, so concurrent `up`/`down` calls take turns."""
    paths.clusters_dir().mkdir(parents=True, exist_ok=True)
    with (paths.clusters_dir() / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _up_locked(
    name: str, *, nodes: int | None, fresh: bool, report: Report, timeout: float
) -> LocalCluster:
    folder = paths.cluster_dir(name)
    if fresh and folder.exists():
        report(f"discarding cluster {name} with all its objects, as requested; starting it afresh")
        _discard(name)
    existing = load(name)
    if existing is None and _has_etcd_data(folder):
        raise LocalClusterError(
            f"cluster {name} has etcd data in {folder / 'etcd'} but no state.json, so it"
            f" cannot start again on it; to discard the data and start afresh, run"
            f" `deployer local up {name} --fresh`"
        )
    if existing is not None:
        health = check(existing)
        if health.running:
            report_kept_nodes(existing, nodes, report)
            existing.already_running = True
            return existing
        missing = _missing_files(existing.folder)
        if not missing:
            return restart(existing, health.down, nodes=nodes, report=report, timeout=timeout)
        if _has_etcd_data(folder):
            raise LocalClusterError(
                f"cluster {name} cannot start again on its data, because {', '.join(missing)}"
                f" {'is' if len(missing) == 1 else 'are'} missing in {folder}; its etcd data"
                f" is kept. To discard it and start afresh, run `deployer local up {name} --fresh`"
            )
        report(
            f"cluster {name} has no etcd data, so it holds no objects to keep (its first start"
            " was stopped before etcd wrote any); starting it afresh"
        )
        _discard(name)
    elif folder.exists():
        _discard(name)  # a start stopped before it wrote state.json: no data to keep
    return start_fresh(name, nodes=nodes or DEFAULT_NODES, report=report, timeout=timeout)


def _has_etcd_data(folder: Path) -> bool:
    return (folder / "etcd" / "member").is_dir()


def _missing_files(folder: Path) -> list[str]:
    """List the files a restart needs that are missing from the cluster folder."""
    needed = [Path("pki") / key for key in KEY_FILES]
    missing = [str(path) for path in needed if not (folder / path).is_file()]
    if not _has_etcd_data(folder):
        missing.append("etcd/member")
    return missing


def _discard(name: str) -> None:
    """Stop the cluster's processes, recorded or not, and remove its folder."""
    if not down_locked(name, remove=True):
        shutil.rmtree(paths.cluster_dir(name), ignore_errors=True)


def is_ready(cluster: LocalCluster) -> bool:
    """True if every component runs, /readyz is ok and the last `up` of the cluster finished."""
    return check(cluster).running


def check_name(name: str) -> None:
    """Raise LocalClusterError unless `name` is usable as a cluster name."""
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise LocalClusterError(f"invalid cluster name {name!r}: use letters, digits, '-' and '_'")


def check_nodes(nodes: int) -> None:
    """Raise LocalClusterError unless `nodes` simulated nodes fit in the pod address range."""
    if not 1 <= nodes <= MAX_NODES:
        raise LocalClusterError(
            f"invalid node count {nodes}: use 1 to {MAX_NODES}, because each node takes a"
            f" /{NODE_POD_PREFIX} of the pod range {POD_CIDR}"
        )


def down(name: str = "default", *, remove: bool = True) -> bool:
    """Stop every process of the cluster and free its ports; return False if it was not known."""
    with _cluster_lock(name):
        return down_locked(name, remove=remove)
