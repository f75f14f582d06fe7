"""The start-up sequence of a local cluster's components.

It launches each component and waits until the API, the simulated nodes and the default
ServiceAccount are ready. It fails early when a component exits, and starts again on fresh
ports when another process takes a port first.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from deployer.errors import LocalClusterError
from deployer.local import build, components, paths, pki, processes
from deployer.local.api import Api, ApiUnreachable
from deployer.local.bootstrap import (
    create_storage_class,
    default_service_account_exists,
    nodes_ready,
    register_nodes,
)
from deployer.local.components import SERVICE_IP
from deployer.local.state import PROCESS_ORDER, LocalCluster, save
from deployer.local.stop import stop_processes

# A port picked as free can be taken by another process before our component listens on
# it. `up` then stops what it started and picks fresh ports, this many attempts in all.
START_ATTEMPTS = 3
# The components that reach the API server through the kubeconfig, and so must start
# again when its address changes.
API_CLIENTS = ("kube-controller-manager", "kube-scheduler", "kwok")
Report = Callable[[str], None]


class PortTaken(LocalClusterError):
    """A component of a starting cluster exited because one of its ports was in use."""

    def __init__(self, message: str, *, component: str, port: int | None) -> None:
        self.component = component
        self.port = port
        super().__init__(message)


def start_fresh(name: str, *, nodes: int, report: Report, timeout: float) -> LocalCluster:
    """Start a new cluster in an empty folder, with new keys, on ports picked as free."""
    build.ensure_built(report=report)
    folder = paths.cluster_dir(name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    token = pki.write_pki(folder / "pki", service_ip=SERVICE_IP)
    deadline = time.monotonic() + timeout
    used_ports: set[int] = set()
    for attempt in range(1, START_ATTEMPTS + 1):
        cluster = _new_cluster(name, folder, nodes=nodes, avoid=used_ports)
        used_ports.update(cluster.ports.values())
        components.write_kubeconfig(cluster, token)
        api = Api(cluster.server, ca_file=folder / "pki" / "ca.crt", token=token, logs=cluster.logs)
        try:
            start_all(cluster, api, PROCESS_ORDER, report=report, deadline=deadline)
        except PortTaken as error:
            stop_processes(cluster)
            raise_if_last_attempt(error, attempt)
            report_port_retry(cluster, error, attempt, report)
            _clear_failed_attempt(cluster, attempt)
        except BaseException as error:
            outcome = "was interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            report(
                f"start-up of cluster {name} {outcome}; stopping what was started"
                f" (logs in {cluster.logs})"
            )
            stop_processes(cluster)
            raise
        else:
            save(cluster, started=True)
            return cluster
    raise AssertionError("unreachable: the last attempt returns or raises")


def raise_if_last_attempt(error: PortTaken, attempt: int) -> None:
    """Raise PortTaken naming the attempts made once `attempt` is the last of START_ATTEMPTS."""
    if attempt == START_ATTEMPTS:
        raise PortTaken(
            f"{error}\ngave up after {START_ATTEMPTS} attempts, each on fresh ports;"
            f" find the process that keeps taking ports on {processes.LOOPBACK}"
            " (for example with `ss -ltnp`) and try again",
            component=error.component,
            port=error.port,
        ) from error


def report_port_retry(
    cluster: LocalCluster, error: PortTaken, attempt: int, report: Report
) -> None:
    """Report that `attempt` lost a port to another process and the next one starts."""
    port = error.port or "(not in its log)"
    report(
        f"{error.component} of cluster {cluster.name} could not listen on port {port}:"
        f" another process took it after it was picked; starting again on fresh"
        f" ports (attempt {attempt + 1} of {START_ATTEMPTS})"
    )


def _new_cluster(name: str, folder: Path, *, nodes: int, avoid: set[int]) -> LocalCluster:
    """Describe a cluster about to start, on free ports other than those in `avoid`."""
    etcd_client, etcd_peer, apiserver = processes.free_ports(3, avoid=avoid)
    return LocalCluster(
        name=name,
        folder=folder,
        server=f"https://{processes.LOOPBACK}:{apiserver}",
        ports={"etcd": etcd_client, "etcd-peer": etcd_peer, "kube-apiserver": apiserver},
        nodes=nodes,
        started_at=time.time(),
    )


def _clear_failed_attempt(cluster: LocalCluster, attempt: int) -> None:
    """Keep a failed start's logs aside and drop its etcd data, which names its ports."""
    logs = cluster.logs
    if logs.is_dir():
        logs.rename(logs.with_name(f"logs-attempt-{attempt}"))
    shutil.rmtree(cluster.folder / "etcd", ignore_errors=True)
    cluster.pids.clear()
    cluster.log_starts.clear()


def start_all(
    cluster: LocalCluster,
    api: Api,
    names: Iterable[str],
    *,
    report: Report,
    deadline: float,
) -> None:
    """Start the components in `names`, then wait until the API, nodes and defaults are ready."""
    names = list(names)
    if "etcd" in names:
        report(f"starting etcd on port {cluster.ports['etcd']}")
        _launch(cluster, "etcd")
    if "kube-apiserver" in names:
        report(f"starting kube-apiserver on {cluster.server}")
        _launch(cluster, "kube-apiserver")
    _wait(lambda: api.ready(), cluster, "kube-apiserver to report /readyz ok", deadline)
    for name in API_CLIENTS:
        if name in names:
            _launch(cluster, name)
    register_nodes(api, cluster.nodes)
    report(f"waiting for {cluster.nodes} simulated nodes and the default ServiceAccount")
    _wait(
        lambda: nodes_ready(api) >= cluster.nodes,
        cluster,
        f"{cluster.nodes} nodes to be Ready",
        deadline,
    )
    _wait(
        lambda: default_service_account_exists(api), cluster, "the default ServiceAccount", deadline
    )
    create_storage_class(api)


def _launch(cluster: LocalCluster, name: str) -> None:
    """Start one component, marking in its log where this start's output begins.

    Logs are appended to, so they keep the output of earlier runs; `_log_text` reads only
    this start's part.
    """
    command = components.command(cluster, name)
    log_file = cluster.logs / f"{name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as handle:
        handle.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} deployer local up starts {name}\n")
    cluster.log_starts[name] = log_file.stat().st_size
    try:
        cluster.pids[name] = processes.start(command, log_file=log_file)
    except OSError as error:
        raise LocalClusterError(
            f"starting {name} of cluster {cluster.name} ({command[0]}) failed: {error};"
            " rebuild the binaries with `deployer local build`"
        ) from error
    save(cluster)


# Go's net package reports a taken port as `listen tcp 127.0.0.1:PORT: bind: address
# already in use` (etcd and kube-apiserver both log that line before they exit).
_BIND_FAILURE = re.compile(r"listen tcp [\d.]+:(\d+): bind: " + processes.ADDRESS_IN_USE)


def _wait(check: Callable[[], bool], cluster: LocalCluster, what: str, deadline: float) -> None:
    """Poll `check` until it returns True, and fail early when a process of the cluster exits.

    ApiUnreachable from `check` counts as "not yet", because the API server may drop a
    connection while it starts. The timeout error names the last such failure.
    """
    unreachable: ApiUnreachable | None = None
    while time.monotonic() < deadline:
        _raise_if_exited(cluster, what)
        try:
            if check():
                return
        except ApiUnreachable as error:
            unreachable = error
        time.sleep(0.25)
    last = f"; last error: {unreachable}" if unreachable else ""
    raise LocalClusterError(
        f"timed out waiting for {what} on cluster {cluster.name}{last};"
        f" see the logs in {cluster.logs}"
    )


def _raise_if_exited(cluster: LocalCluster, what: str) -> None:
    """Raise PortTaken or LocalClusterError if a process of the cluster has exited."""
    dead = [n for n, alive in cluster.alive().items() if not alive]
    for name in dead:
        log_text = _log_text(cluster, name)
        if processes.ADDRESS_IN_USE in log_text:
            found = _BIND_FAILURE.search(log_text)
            port = int(found.group(1)) if found else None
            raise PortTaken(
                f"{name} of cluster {cluster.name} exited while waiting for {what}: port"
                f" {port if port else '(not in its log)'} on {processes.LOOPBACK} is already"
                f" in use:\n{_tail(log_text)}",
                component=name,
                port=port,
            )
    if dead:
        log_text = _log_text(cluster, dead[0])
        cause = _fatal_message(log_text)
        raise LocalClusterError(
            f"{dead[0]} of cluster {cluster.name} exited while waiting for {what}:\n"
            + (f"  {cause}\n  ...\n" if cause else "")
            + _tail(log_text)
        )


# A line that says why a Go component stopped: a panic, a klog fatal line (`F1204 ...`),
# or a zap JSON entry (etcd, kwok) at level fatal or panic.
_FATAL_LINE = re.compile(r'^(panic: |F\d{4} )|"level":"(fatal|panic)"')


def _fatal_message(log_text: str) -> str:
    """Return the first fatal line of a log, a JSON entry as `msg: error`, or ""."""
    for line in log_text.splitlines():
        if not _FATAL_LINE.search(line):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            return line
        if isinstance(entry, dict) and entry.get("msg"):
            error = f": {entry['error']}" if entry.get("error") else ""
            return f"{entry['msg']}{error}"
        return line
    return ""


def _log_text(cluster: LocalCluster, name: str) -> str:
    """Return what the component logged since this call last started it."""
    try:
        with (cluster.logs / f"{name}.log").open(errors="replace") as handle:
            handle.seek(cluster.log_starts.get(name, 0))
            return handle.read()
    except OSError:
        return ""


def _tail(text: str, lines: int = 15) -> str:
    if not text:
        return "  (no log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:])
