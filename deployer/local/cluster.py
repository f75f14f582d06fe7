"""Start, stop and restart local clusters: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok on 127.0.0.1, each cluster with its own folder and ports.

`up` of a cluster that was started before keeps its data: it starts again only the
components that are not running, on the existing etcd data, keys and kubeconfig. A
cluster starts afresh only when it has no etcd data yet, or when the caller asks for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from deployer.errors import LocalClusterError
from deployer.local import build, components, paths, pki, processes
from deployer.local.api import Api, ApiUnreachable
from deployer.local.components import POD_CIDR, SERVICE_IP, STAGES_FILE
from deployer.local.health import admin_token, check, unrecorded
from deployer.local.state import PROCESS_ORDER, READY_MARK, LocalCluster, list_names, load, save

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

# Each simulated node gets a /22 of POD_CIDR (1,024 addresses), enough for the 1,000 pods
# a node admits (`pods` capacity in kwok-stages.yaml), so the /16 has room for 64 nodes.
NODE_POD_PREFIX = 22
MAX_NODES = 64
DEFAULT_NODES = 3
# A port picked as free can be taken by another process before our component listens on
# it. `up` then stops what it started and picks fresh ports, this many attempts in all.
START_ATTEMPTS = 3
# Seconds to wait for the recorded port of a stopped component to become free, before
# `up` moves the component to another port.
PORT_RELEASE_WAIT = 3.0
# The components that reach the API server through the kubeconfig, and so must start
# again when its address changes.
API_CLIENTS = ("kube-controller-manager", "kube-scheduler", "kwok")
Report = Callable[[str], None]
# The controller manager's host-path provisioner creates volume folders here.
HOSTPATH_ROOT = "/tmp/hostpath_pv"
# Files a cluster needs to start again on its existing data.
KEY_FILES = ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub", "tokens.csv")


class PortTaken(LocalClusterError):
    """A component of a starting cluster exited because one of its ports was in use."""

    def __init__(self, message: str, *, component: str, port: int | None) -> None:
        self.component = component
        self.port = port
        super().__init__(message)


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
            _report_kept_nodes(existing, nodes, report)
            existing.already_running = True
            return existing
        missing = _missing_files(existing.folder)
        if not missing:
            return _restart(existing, health.down, nodes=nodes, report=report, timeout=timeout)
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
    return _start_fresh(name, nodes=nodes or DEFAULT_NODES, report=report, timeout=timeout)


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
    if not _down_locked(name, remove=True):
        shutil.rmtree(paths.cluster_dir(name), ignore_errors=True)


def _report_kept_nodes(cluster: LocalCluster, nodes: int | None, report: Report) -> None:
    if nodes is not None and nodes != cluster.nodes:
        report(
            f"cluster {cluster.name} keeps its {cluster.nodes} simulated nodes: the node count"
            f" applies to a new cluster only; start it afresh with --fresh to change it"
        )


def _start_fresh(name: str, *, nodes: int, report: Report, timeout: float) -> LocalCluster:
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
            _start_all(cluster, api, PROCESS_ORDER, report=report, deadline=deadline)
        except PortTaken as error:
            _stop_processes(cluster)
            _raise_if_last_attempt(error, attempt)
            _report_port_retry(cluster, error, attempt, report)
            _clear_failed_attempt(cluster, attempt)
        except BaseException as error:
            outcome = "was interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            report(
                f"start-up of cluster {name} {outcome}; stopping what was started"
                f" (logs in {cluster.logs})"
            )
            _stop_processes(cluster)
            raise
        else:
            save(cluster, started=True)
            return cluster
    raise AssertionError("unreachable: the last attempt returns or raises")


def _raise_if_last_attempt(error: PortTaken, attempt: int) -> None:
    if attempt == START_ATTEMPTS:
        raise PortTaken(
            f"{error}\ngave up after {START_ATTEMPTS} attempts, each on fresh ports;"
            f" find the process that keeps taking ports on {processes.LOOPBACK}"
            " (for example with `ss -ltnp`) and try again",
            component=error.component,
            port=error.port,
        ) from error


def _report_port_retry(
    cluster: LocalCluster, error: PortTaken, attempt: int, report: Report
) -> None:
    port = error.port or "(not in its log)"
    report(
        f"{error.component} of cluster {cluster.name} could not listen on port {port}:"
        f" another process took it after it was picked; starting again on fresh"
        f" ports (attempt {attempt + 1} of {START_ATTEMPTS})"
    )


def _restart(
    cluster: LocalCluster, down: list[str], *, nodes: int | None, report: Report, timeout: float
) -> LocalCluster:
    """Start the cluster's stopped components again on its data, and wait until it is ready.

    Components that run stay untouched unless one they connect to moves to another port.
    A failure stops what this call started and keeps the data.
    """
    name = cluster.name
    build.ensure_built(report=report)
    deadline = time.monotonic() + timeout
    # Until this restart finishes, the cluster is not ready, even if every process runs.
    (cluster.folder / READY_MARK).unlink(missing_ok=True)
    _report_kept_nodes(cluster, nodes, report)
    if down:
        verb, pronoun = ("is", "it") if len(down) == 1 else ("are", "them")
        report(
            f"cluster {name}: {_names(down)} {verb} not running; starting {pronoun} again on"
            " the cluster's existing data (objects, keys and kubeconfig are kept)"
        )
    else:
        report(f"cluster {name}: every process runs; waiting for it to become ready")
    token = admin_token(cluster.folder)
    _stop_unrecorded(cluster, report=report)
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
            _start_all(cluster, api, started, report=report, deadline=deadline)
        except PortTaken as error:
            _stop_processes(cluster, started)
            _raise_if_last_attempt(error, attempt)
            _report_port_retry(cluster, error, attempt, report)
            taken_ports.update([error.port] if error.port else _ports_of(cluster, error.component))
            down = check(cluster).down
        except BaseException as error:
            outcome = "was interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            report(
                f"restart of cluster {name} {outcome}; stopping what it started"
                f" (logs in {cluster.logs})"
            )
            _stop_processes(cluster, started)
            if isinstance(error, LocalClusterError):
                raise LocalClusterError(
                    f"{error}\nthe data of cluster {name} is kept in {cluster.folder}; if etcd"
                    f" cannot use it, `deployer local up {name} --fresh` discards it and"
                    " starts afresh"
                ) from error
            raise
        else:
            cluster.kept_data = True
            cluster.restarted = list(started)
            save(cluster, started=True)
            return cluster
    raise AssertionError("unreachable: the last attempt returns or raises")


def _names(items: Iterable[str]) -> str:
    return ", ".join(items)


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
        _stop_processes(cluster, ["kube-apiserver"])
        if _move_if_taken(cluster, "kube-apiserver", taken_ports, report):
            start.update(API_CLIENTS)
    ordered = [name for name in PROCESS_ORDER if name in start]
    _stop_processes(cluster, ordered)
    for name in ordered:
        cluster.pids.pop(name, None)
    return ordered


def _move_if_taken(cluster: LocalCluster, key: str, taken_ports: set[int], report: Report) -> bool:
    """Give `key` (a component or `etcd-peer`) a free port if its own is in use.

    Returns True if the port changed.
    """
    port = cluster.ports[key]
    # Sockets of a process that was just killed can hold its port for a moment.
    if port not in taken_ports and _port_released(port, wait=PORT_RELEASE_WAIT):
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


def _start_all(
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
    _register_nodes(api, cluster.nodes)
    report(f"waiting for {cluster.nodes} simulated nodes and the default ServiceAccount")
    _wait(
        lambda: _nodes_ready(api) >= cluster.nodes,
        cluster,
        f"{cluster.nodes} nodes to be Ready",
        deadline,
    )
    _wait(lambda: _default_service_account(api), cluster, "the default ServiceAccount", deadline)
    _create_storage_class(api)


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


def _node_body(index: int) -> dict[str, object]:
    name = f"kwok-node-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {"podCIDR": _node_pod_cidr(index)},
    }


def _node_pod_cidr(index: int) -> str:
    """Return the pod range of node `index`: the index-th /22 of POD_CIDR."""
    network = ipaddress.ip_network(POD_CIDR)
    return str(list(network.subnets(new_prefix=NODE_POD_PREFIX))[index])


def _register_nodes(api: Api, count: int) -> None:
    for index in range(count):
        code, body = api.request("POST", "/api/v1/nodes", _node_body(index))
        if code not in (200, 201, 409):
            raise LocalClusterError(
                f"registering simulated node kwok-node-{index} failed: HTTP {code}: {body}"
            )


STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": "standard",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    },
    "provisioner": "kubernetes.io/host-path",
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}


def _create_storage_class(api: Api) -> None:
    """Create the default StorageClass `standard`, served by the host-path provisioner."""
    code, body = api.request("POST", "/apis/storage.k8s.io/v1/storageclasses", STORAGE_CLASS)
    if code not in (200, 201, 409):
        raise LocalClusterError(f"creating StorageClass standard failed: HTTP {code}: {body}")


def _nodes_ready(api: Api) -> int:
    code, body = api.request("GET", "/api/v1/nodes")
    if code != 200 or not isinstance(body, dict):
        return 0
    ready = 0
    for node in body.get("items", []):
        for condition in node.get("status", {}).get("conditions", []) or []:
            if condition.get("type") == "Ready" and condition.get("status") == "True":
                ready += 1
    return ready


def _default_service_account(api: Api) -> bool:
    code, _ = api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
    return code == 200


def down(name: str = "default", *, remove: bool = True) -> bool:
    """Stop every process of the cluster and free its ports; return False if it was not known."""
    with _cluster_lock(name):
        return _down_locked(name, remove=remove)


def _down_locked(name: str, *, remove: bool) -> bool:
    cluster = load(name)
    if cluster is None:
        folder = paths.cluster_dir(name)
        stray = LocalCluster(name=name, folder=folder, server="")
        _stop_unrecorded(stray, report=log.warning)
        return False
    volumes = _provisioned_volume_folders(cluster)
    left = _stop_processes(cluster) + _stop_unrecorded(cluster, report=log.info)
    if left:
        raise LocalClusterError(
            f"processes {left} of cluster {name} did not stop; kill them by hand"
        )
    busy = [p for p in cluster.ports.values() if not _port_released(p)]
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


def _stop_unrecorded(cluster: LocalCluster, *, report: Report) -> list[int]:
    """Stop the cluster's processes that state.json does not record; return pids left alive."""
    found = unrecorded(cluster)
    if not found:
        return []
    described = _names(f"{name} (pid {pid})" for pid, name in found.items())
    report(
        f"stopping {described} of cluster {cluster.name}: running but not recorded, as an"
        " interrupted `deployer local up` leaves it"
    )
    return processes.stop(list(found), marker=str(cluster.folder))


def _stop_processes(cluster: LocalCluster, names: Iterable[str] = PROCESS_ORDER) -> list[int]:
    """Stop the cluster's components in `names`, last started first; return pids left alive."""
    left: list[int] = []
    chosen = set(names)
    for name in reversed(PROCESS_ORDER):
        pid = cluster.pids.get(name) if name in chosen else None
        if pid is not None:
            left += processes.stop([pid], marker=str(cluster.folder))
    return left


def _port_released(port: int, wait: float = 5.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if processes.port_is_free(port):
            return True
        time.sleep(0.1)
    return False
