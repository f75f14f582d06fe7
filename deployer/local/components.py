"""Command lines of a local cluster's processes, and the kubeconfig they and users read."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from deployer.local import build, processes
from deployer.local.state import LocalCluster

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
STAGES_FILE = Path(__file__).with_name("kwok-stages.yaml")


def etcd_command(cluster: LocalCluster) -> list[str]:
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


def apiserver_command(cluster: LocalCluster) -> list[str]:
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


def component_command(cluster: LocalCluster, name: str) -> list[str]:
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


def write_kubeconfig(cluster: LocalCluster, token: str) -> None:
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


def command(cluster: LocalCluster, name: str) -> list[str]:
    """Return the command line that starts component `name` of the cluster."""
    if name == "etcd":
        return etcd_command(cluster)
    if name == "kube-apiserver":
        return apiserver_command(cluster)
    return component_command(cluster, name)
