"""Restart of a kept local cluster: start its stopped components again on its existing
etcd data, keys and kubeconfig, moving a component whose port another process took."""

from __future__ import annotations

import time

from deployer.errors import LocalClusterError
from deployer.local import build, components, processes
from deployer.local.api import Api
from deployer.local.health import admin_token, check
from deployer.local.startup import (
    API_CLIENTS,
    START_ATTEMPTS,
    PortTaken,
    Report,
    raise_if_last_attempt,
    report_port_retry,
    start_all,
)
from deployer.local.state import PROCESS_ORDER, READY_MARK, LocalCluster, save
from deployer.local.stop import port_released, stop_processes, stop_unrecorded

# Seconds to wait for the recorded port of a stopped component to become free, before
# `up` moves the component to another port.
PORT_RELEASE_WAIT = 3.0


def report_kept_nodes(cluster: LocalCluster, nodes: int | None, report: Report) -> None:
    """Report that a kept cluster ignores a requested node count other than its own."""
    if nodes is not None and nodes != cluster.nodes:
        report(
            f"cluster {cluster.name} keeps its {cluster.nodes} simulated nodes: the node count"
            f" applies to a new cluster only; start it afresh with --fresh to change it"
        )


def restart(
    cluster: LocalCluster, down: list[str], *, nodes: int | None, report: Report, timeout: float
) -> LocalCluster:
    """Start the cluster's stopped components again on its data, and wait until it is ready.

    Components that run stay untouched unless one they connect to moves to another port.
    A failure stops what this call started and keeps the data.
    """
    build.ensure_built(report=report)
    deadline = time.monotonic() + timeout
    # Until this restart finishes, the cluster is not ready, even if every process runs.
    (cluster.folder / READY_MARK).unlink(missing_ok=True)
    report_kept_nodes(cluster, nodes, report)
    _report_restart(cluster, down, report)
    token = admin_token(cluster.folder)
    stop_unrecorded(cluster, report=report)
    taken_ports: set[int] = set()
    for attempt in range(1, START_ATTEMPTS + 1):
        started = _plan_restart(cluster, down, taken_ports=taken_ports, report=report)
        components.write_kubeconfig(cluster, token)
        api = Api(
            cluster.server,
            ca_file=cluster.folder / "pki" / "ca.crt",
            token=token,
            logs=cluster.logs,
        )
        try:
            start_all(cluster, api, started, report=report, deadline=deadline)
        except PortTaken as error:
            stop_processes(cluster, started)
            raise_if_last_attempt(error, attempt)
            report_port_retry(cluster, error, attempt, report)
            taken_ports.update([error.port] if error.port else _ports_of(cluster, error.component))
            down = check(cluster).down
        except BaseException as error:
            _stop_failed_restart(cluster, started, error, report)
            raise
        else:
            cluster.kept_data = True
            cluster.restarted = list(started)
            save(cluster, started=True)
            return cluster
    raise AssertionError("unreachable: the last attempt returns or raises")


def _report_restart(cluster: LocalCluster, down: list[str], report: Report) -> None:
    name = cluster.name
    if down:
        verb, pronoun = ("is", "it") if len(down) == 1 else ("are", "them")
        report(
            f"cluster {name}: {', '.join(down)} {verb} not running; starting {pronoun} again on"
            " the cluster's existing data (objects, keys and kubeconfig are kept)"
        )
    else:
        report(f"cluster {name}: every process runs; waiting for it to become ready")


def _stop_failed_restart(
    cluster: LocalCluster, started: list[str], error: BaseException, report: Report
) -> None:
    """Stop what a failed restart started; raise a LocalClusterError that names the kept data."""
    name = cluster.name
    outcome = "was interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
    report(
        f"restart of cluster {name} {outcome}; stopping what it started (logs in {cluster.logs})"
    )
    stop_processes(cluster, started)
    if isinstance(error, LocalClusterError):
        raise LocalClusterError(
            f"{error}\nthe data of cluster {name} is kept in {cluster.folder}; if etcd"
            f" cannot use it, `deployer local up {name} --fresh` discards it and"
            " starts afresh"
        ) from error


def _ports_of(cluster: LocalCluster, component: str) -> list[int]:
    keys = ("etcd", "etcd-peer") if component == "etcd" else (component,)
    return [cluster.ports[key] for key in keys if key in cluster.ports]


def _plan_restart(
    cluster: LocalCluster, down: list[str], *, taken_ports: set[int], report: Report
) -> list[str]:
    """Return the components to start, in start order, and stop those of them that run.

    A component whose port is in use, or in `taken_ports`, moves to a free port, and what
    connects to it starts again with it: kube-apiserver follows etcd's client port, and
    the API clients read kube-apiserver's address from the kubeconfig.
    """
    start = set(down)
    if "etcd" in start:
        _move_if_taken(cluster, "etcd-peer", taken_ports, report)
        if _move_if_taken(cluster, "etcd", taken_ports, report):
            start.add("kube-apiserver")
    if "kube-apiserver" in start:
        # A running kube-apiserver listens on its own port, so stop it before checking the port.
        stop_processes(cluster, ["kube-apiserver"])
        if _move_if_taken(cluster, "kube-apiserver", taken_ports, report):
            start.update(API_CLIENTS)
    ordered = [name for name in PROCESS_ORDER if name in start]
    stop_processes(cluster, ordered)
    for name in ordered:
        cluster.pids.pop(name, None)
    return ordered


def _move_if_taken(cluster: LocalCluster, key: str, taken_ports: set[int], report: Report) -> bool:
    """Give `key` (a component or `etcd-peer`) a free port if its own is in use.

    Returns True if the port changed.
    """
    port = cluster.ports[key]
    # Sockets of a process that was just killed can hold its port for a moment.
    if port not in taken_ports and port_released(port, wait=PORT_RELEASE_WAIT):
        return False
    [free] = processes.free_ports(1, avoid=taken_ports | set(cluster.ports.values()))
    cluster.ports[key] = free
    if key == "kube-apiserver":
        cluster.server = f"https://{processes.LOOPBACK}:{free}"
        report(
            f"port {port} of kube-apiserver is in use by another process; it moves to"
            f" {cluster.server}, and the kubeconfig {cluster.kubeconfig} is rewritten"
        )
    else:
        report(f"port {port} of {key} is in use by another process; it moves to port {free}")
    return True
