"""The health of a local cluster: which of its five processes run, and whether the API
server's /readyz is ok. `local status` prints it and `local up` acts on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deployer.local import processes
from deployer.local.api import Api, ApiUnreachable
from deployer.local.state import PROCESS_ORDER, READY_MARK, LocalCluster

READYZ_TIMEOUT = 2.0  # seconds
SHOWN_CHECKS = 3  # failed /readyz checks named in a status; the rest are counted


@dataclass(frozen=True)
class Health:
    """Each component's state and the API's readiness, as `check` found them."""

    alive: dict[str, bool]  # every component of PROCESS_ORDER, False if it never started
    readyz: str  # "ok", or why /readyz is not ok
    started: bool  # the `up` that started (or restarted) the cluster finished
    # pid to component of processes that state.json does not record (see `unrecorded`)
    unrecorded: dict[int, str] = field(default_factory=dict)

    @property
    def down(self) -> list[str]:
        return [name for name in PROCESS_ORDER if not self.alive[name]]

    @property
    def state(self) -> str:
        """`running`, `not ready` (all processes run), `degraded` or `stopped`."""
        if not any(self.alive.values()):
            return "stopped"
        if self.down:
            return "degraded"
        if self.readyz != "ok" or not self.started:
            return "not ready"
        return "running"

    @property
    def running(self) -> bool:
        return self.state == "running"

    def problems(self) -> list[str]:
        """Describe, one line each, what keeps the cluster from running."""
        found = [f"{name} is not running" for name in self.down]
        if self.alive["kube-apiserver"] and self.readyz != "ok":
            found.append(f"kube-apiserver /readyz is not ok: {self.readyz}")
        if not self.started:
            found.append("the last `deployer local up` of it did not finish")
        found += [
            f"{name} (pid {pid}) runs but is not recorded" for pid, name in self.unrecorded.items()
        ]
        return found


def check(cluster: LocalCluster) -> Health:
    """Check every component's process and, if kube-apiserver runs, its /readyz."""
    marker = str(cluster.folder)
    alive = {
        name: name in cluster.pids and processes.is_alive(cluster.pids[name], marker=marker)
        for name in PROCESS_ORDER
    }
    readyz = readyz_problem(cluster) if alive["kube-apiserver"] else "kube-apiserver is not running"
    return Health(
        alive=alive,
        readyz=readyz,
        started=(cluster.folder / READY_MARK).exists(),
        unrecorded=unrecorded(cluster),
    )


def unrecorded(cluster: LocalCluster) -> dict[int, str]:
    """Find the cluster's processes that state.json does not record; return pid to component.

    An `up` killed between starting a process and writing its pid leaves one behind.
    """
    found = processes.find(PROCESS_ORDER, marker=f"{cluster.folder}/")
    recorded = set(cluster.pids.values())
    return {pid: name for pid, name in found.items() if pid not in recorded}


def admin_token(folder: Path) -> str:
    """Read the admin token from the cluster's token file; raise OSError if it is missing."""
    return (folder / "pki" / "tokens.csv").read_text().split(",", 1)[0]


def readyz_problem(cluster: LocalCluster) -> str:
    """Return "ok" when /readyz returns 200, else the failed checks or the connection error."""
    try:
        api = Api(
            cluster.server,
            ca_file=cluster.folder / "pki" / "ca.crt",
            token=admin_token(cluster.folder),
        )
    except OSError as error:
        return f"the cluster's keys cannot be read: {error}"
    try:
        code, body = api.request("GET", "/readyz?verbose", timeout=READYZ_TIMEOUT)
    except ApiUnreachable as error:
        return f"no answer from {cluster.server}: {error.__cause__ or error}"
    if code == 200:
        return "ok"
    # The verbose body lists each check, failed ones as `[-]etcd failed: reason withheld`.
    failed = [line[3:] for line in str(body).splitlines() if line.startswith("[-]")]
    if not failed:
        return f"HTTP {code}"
    more = f" and {len(failed) - SHOWN_CHECKS} more" if len(failed) > SHOWN_CHECKS else ""
    return f"HTTP {code}, failed checks: {'; '.join(failed[:SHOWN_CHECKS])}{more}"
