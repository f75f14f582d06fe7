"""The recorded state of a local cluster: its folder, ports and pids, in `state.json`.

A cluster's folder (`<home>/clusters/<name>/`) holds its etcd data, keys, logs, the
written kubeconfig and `state.json` with the ports and pids, so `down` and `status` work
from any process.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deployer.local import paths, processes

# Order matters: processes start in this order and stop in reverse.
PROCESS_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
READY_MARK = "ready"  # file in the cluster folder, written once `up` has finished
# Fields of LocalCluster that describe one `up` call and are not written to state.json.
_CALL_FIELDS = ("already_running", "kept_data", "restarted", "log_starts")


@dataclass
class LocalCluster:
    """A local cluster as recorded in its state file.

    The last four fields describe the `up` call that returned this value and are not
    saved. They record whether the cluster already ran, whether the call kept the existing
    data, which components it started again on that data, and the offset in each
    component's log where this call's output starts.
    """

    name: str
    folder: Path
    server: str
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    nodes: int = 3
    started_at: float = 0.0
    already_running: bool = False
    kept_data: bool = False
    restarted: list[str] = field(default_factory=list)
    log_starts: dict[str, int] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.folder / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def etcd_data(self) -> Path:
        return self.folder / "etcd"

    def alive(self) -> dict[str, bool]:
        """Which of the cluster's recorded processes still run."""
        marker = str(self.folder)
        return {name: processes.is_alive(pid, marker=marker) for name, pid in self.pids.items()}


def state_file(name: str) -> Path:
    return paths.cluster_dir(name) / "state.json"


def load(name: str) -> LocalCluster | None:
    """Read a cluster's recorded state, or None if it was never started."""
    try:
        raw = json.loads(state_file(name).read_text())
    except (OSError, ValueError):
        return None
    raw["folder"] = Path(raw["folder"])
    for key in _CALL_FIELDS:
        raw.pop(key, None)
    return LocalCluster(**raw)


def save(cluster: LocalCluster, *, started: bool = False) -> None:
    """Write the state file; `started` also marks the cluster as ready for use."""
    if started:
        (cluster.folder / READY_MARK).write_text(f"{time.time()}\n")
    data = asdict(cluster)
    data["folder"] = str(cluster.folder)
    for key in _CALL_FIELDS:
        data.pop(key)
    # Write a new file and rename it over the old one, so that a process killed while
    # writing leaves the previous state.json whole.
    target = state_file(cluster.name)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    partial.replace(target)


def list_names() -> list[str]:
    """Names of every cluster that has a state file."""
    root = paths.clusters_dir()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/state.json"))
