"""Start, stop and inspect local clusters: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok on 127.0.0.1, each cluster with its own folder and ports.

A cluster's folder (`<home>/clusters/<name>/`) holds its etcd data, keys, logs, the
written kubeconfig and `state.json` with the ports and pids, so `down` and `status` work
from any process.
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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deployer.errors import LocalClusterError
from deployer.local import build, paths, pki, processes
from deployer.local.api import Api, ApiUnreachable

log = logging.getLogger(__name__)

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
# Each simulated node gets a /22 of POD_CIDR (1,024 addresses), enough for the 1,000 pods
# a node admits (`pods` capacity in kwok-stages.yaml), so the /16 has room for 64 nodes.
NODE_POD_PREFIX = 22
MAX_NODES = 64
# A port picked as free can be taken by another process before our component listens on
# it. `up` then stops what it started and picks fresh ports, this many attempts in all.
START_ATTEMPTS = 3
STAGES_FILE = Path(__file__).with_name("kwok-stages.yaml")
# Order matters: processes start in this order and stop in reverse.
PROCESS_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
Report = Callable[[str], None]
# The controller manager's host-path provisioner creates volume folders here.
HOSTPATH_ROOT = "/tmp/hostpath_pv"
READY_MARK = "ready"  # file in the cluster folder, written once `up` has finished


@dataclass
class LocalCluster:
    """A local cluster as recorded in its state file."""

    name: str
    folder: Path
    server: str
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    nodes: int = 3
    started_at: float = 0.0
    already_running: bool = False

    @property
    def kubeconfig(self) -> Path:
        return self.folder / "kubeconfig"

    def alive(self) -> dict[str, bool]:
        """Which of the cluster's processes still run."""
        marker = str(self.folder)
        return {name: processes.is_alive(pid, marker=marker) for name, pid in self.pids.items()}


class PortTaken(LocalClusterError):
    """A component of a starting cluster exited because one of its ports was in use."""

    def __init__(self, message: str, *, component: str, port: int | None) -> None:
        self.component = component
        self.port = port
        super().__init__(message)


def _state_file(name: str) -> Path:
    return paths.cluster_dir(name) / "state.json"


def load(name: str) -> LocalCluster | None:
    """Read a cluster's recorded state, or None if it was never started."""
    try:
        raw = json.loads(_state_file(name).read_text())
    except (OSError, ValueError):
        return None
    raw["folder"] = Path(raw["folder"])
    raw.pop("already_running", None)
    return LocalCluster(**raw)


def _save(cluster: LocalCluster, *, started: bool = False) -> None:
    """Write the state file; `started` also marks the cluster as ready for use."""
    if started:
        (cluster.folder / READY_MARK).write_text(f"{time.time()}\n")
    data = asdict(cluster)
    data["folder"] = str(cluster.folder)
    data.pop("already_running")
    _state_file(cluster.name).write_text(json.dumps(data, indent=2) + "\n")


def list_names() -> list[str]:
    """Names of every cluster that has a state file."""
    root = paths.clusters_dir()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/state.json"))


def status(name: str) -> LocalCluster | None:
    """The recorded cluster, or None; check `.alive()` for its processes."""
    return load(name)


def up(
    name: str = "default", *, nodes: int = 3, report: Report = log.info, timeout: float = 180.0
) -> LocalCluster:
    """Start a local cluster, or return it if it already runs.

    Returns once /readyz is ok, every simulated node is Ready and the `default`
    ServiceAccount exists. Builds the binaries first if they are not cached. If a port
    is taken between picking it and starting its component, starts again on fresh
    ports, up to START_ATTEMPTS times within `timeout`.
    """
    check_name(name)
    check_nodes(nodes)
    with _cluster_lock(name):
        return _up_locked(name, nodes=nodes, report=report, timeout=timeout)


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


def _up_locked(name: str, *, nodes: int, report: Report, timeout: float) -> LocalCluster:
    existing = load(name)
    if existing is not None and is_ready(existing):
        existing.already_running = True
        return existing
    if existing is not None:
        report(f"cluster {name} was stopped, broken or never finished starting; starting it afresh")
        _down_locked(name, remove=True)

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
        _write_kubeconfig(cluster, token)
        api = Api(
            cluster.server, ca_file=folder / "pki" / "ca.crt", token=token, logs=_logs(cluster)
        )
        try:
            _start_all(cluster, api, report=report, deadline=deadline)
        except PortTaken as error:
            _stop_processes(cluster)
            if attempt == START_ATTEMPTS:
                raise PortTaken(
                    f"{error}\ngave up after {START_ATTEMPTS} attempts, each on fresh ports;"
                    f" find the process that keeps taking ports on {processes.LOOPBACK}"
                    " (for example with `ss -ltnp`) and try again",
                    component=error.component,
                    port=error.port,
                ) from error
            port = error.port or "(not in its log)"
            report(
                f"{error.component} of cluster {name} could not listen on port {port}:"
                f" another process took it after it was picked; starting again on fresh"
                f" ports (attempt {attempt + 1} of {START_ATTEMPTS})"
            )
            _clear_failed_attempt(cluster, attempt)
        except BaseException as error:
            outcome = "was interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            report(
                f"start-up of cluster {name} {outcome}; stopping what was started"
                f" (logs in {_logs(cluster)})"
            )
            _stop_processes(cluster)
            raise
        else:
            _save(cluster, started=True)
            return cluster
    raise AssertionError("unreachable: the last attempt returns or raises")


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
    logs = _logs(cluster)
    if logs.is_dir():
        logs.rename(logs.with_name(f"logs-attempt-{attempt}"))
    shutil.rmtree(cluster.folder / "etcd", ignore_errors=True)
    cluster.pids.clear()


def _logs(cluster: LocalCluster) -> Path:
    return cluster.folder / "logs"


def is_ready(cluster: LocalCluster) -> bool:
    """True if every process runs and the `up` that started the cluster finished."""
    alive = cluster.alive()
    return bool(alive) and all(alive.values()) and (cluster.folder / READY_MARK).exists()


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


def _start_all(cluster: LocalCluster, api: Api, *, report: Report, deadline: float) -> None:
    report(f"starting etcd on port {cluster.ports['etcd']}")
    _launch(cluster, "etcd", _etcd_command(cluster))
    report(f"starting kube-apiserver on {cluster.server}")
    _launch(cluster, "kube-apiserver", _apiserver_command(cluster))
    _wait(lambda: api.ready(), cluster, "kube-apiserver to report /readyz ok", deadline)
    for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
        _launch(cluster, name, _component_command(cluster, name))
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


def _launch(cluster: LocalCluster, name: str, command: list[str]) -> None:
    try:
        cluster.pids[name] = processes.start(command, log_file=_logs(cluster) / f"{name}.log")
    except OSError as error:
        raise LocalClusterError(
            f"starting {name} of cluster {cluster.name} ({command[0]}) failed: {error};"
            " rebuild the binaries with `deployer local build`"
        ) from error
    _save(cluster)


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
        f" see the logs in {_logs(cluster)}"
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
        raise LocalClusterError(
            f"{dead[0]} of cluster {cluster.name} exited while waiting for {what}:\n"
            f"{_tail(_log_text(cluster, dead[0]))}"
        )


def _log_text(cluster: LocalCluster, name: str) -> str:
    try:
        return (_logs(cluster) / f"{name}.log").read_text(errors="replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = 15) -> str:
    if not text:
        return "  (no log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:])


def _etcd_command(cluster: LocalCluster) -> list[str]:
    client = f"http://{processes.LOOPBACK}:{cluster.ports['etcd']}"
    peer = f"http://{processes.LOOPBACK}:{cluster.ports['etcd-peer']}"
    return [
        str(build.binary(build.ETCD, "etcd")),
        f"--name={cluster.name}",
        f"--data-dir={cluster.folder / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={cluster.name}={peer}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def _apiserver_command(cluster: LocalCluster) -> list[str]:
    pki_dir = cluster.folder / "pki"
    return [
        str(build.binary(build.KUBERNETES, "kube-apiserver")),
        f"--etcd-servers=http://{processes.LOOPBACK}:{cluster.ports['etcd']}",
        f"--bind-address={processes.LOOPBACK}",
        f"--secure-port={cluster.ports['kube-apiserver']}",
        f"--cert-dir={pki_dir}",
        f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
        f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
        f"--client-ca-file={pki_dir / 'ca.crt'}",
        f"--token-auth-file={pki_dir / 'tokens.csv'}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki_dir / 'sa.pub'}",
        f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=0",
    ]


def _component_command(cluster: LocalCluster, name: str) -> list[str]:
    kubeconfig = str(cluster.kubeconfig)
    pki_dir = cluster.folder / "pki"
    if name == "kwok":
        return [
            str(build.binary(build.KWOK, "kwok")),
            f"--kubeconfig={kubeconfig}",
            "--manage-all-nodes=true",
            f"--cidr={POD_CIDR}",
            f"--config={STAGES_FILE}",
        ]
    binary = build.binary(build.KUBERNETES, name)
    common = [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--bind-address={processes.LOOPBACK}",
        "--secure-port=0",
        "--leader-elect=false",
        # The default client limit (20 requests/s) makes controllers, not the tools under
        # test, the bottleneck once hundreds of objects arrive at once.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        "--v=0",
    ]
    if name == "kube-controller-manager":
        return [
            *common,
            f"--service-account-private-key-file={pki_dir / 'sa.key'}",
            f"--root-ca-file={pki_dir / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki_dir / 'ca.crt'}",
            f"--cluster-signing-key-file={pki_dir / 'ca.key'}",
            "--use-service-account-credentials=false",
            # Simulated nodes need no IP ranges. The node lifecycle controller lifts the
            # not-ready taint; a long grace period keeps a late heartbeat from evicting pods.
            "--controllers=*,-node-ipam-controller",
            "--node-monitor-grace-period=10m",
            # Volumes for claims of the `standard` StorageClass: folders under
            # /tmp/hostpath_pv on this machine, removed again when their claim is deleted.
            "--enable-hostpath-provisioner=true",
            "--concurrent-deployment-syncs=20",
            "--concurrent-replicaset-syncs=20",
        ]
    return common


def _write_kubeconfig(cluster: LocalCluster, token: str) -> None:
    import base64

    ca = base64.b64encode((cluster.folder / "pki" / "ca.crt").read_bytes()).decode()
    context = f"deployer-{cluster.name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": cluster.server, "certificate-authority-data": ca},
            }
        ],
        "users": [{"name": f"{context}-admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": f"{context}-admin", "namespace": "default"},
            }
        ],
        "current-context": context,
        "preferences": {},
    }
    cluster.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
    cluster.kubeconfig.chmod(0o600)


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
        return False
    volumes = _provisioned_volume_folders(cluster)
    left = _stop_processes(cluster)
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
        token = (cluster.folder / "pki" / "tokens.csv").read_text().split(",", 1)[0]
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


def _stop_processes(cluster: LocalCluster) -> list[int]:
    left: list[int] = []
    for name in reversed(PROCESS_ORDER):
        pid = cluster.pids.get(name)
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
