"""Benchmark `deployer apply` against `kubectl apply --server-side` plus `kubectl wait`.

Usage: python bench/apply_vs_kubectl.py --kubeconfig PATH [--objects 1000] [--rss-objects 5000]

Each tool applies the same mixed objects (ConfigMaps, Secrets, Services and 1-replica
Deployments in equal shares) into its own fresh namespace and waits until the
Deployments are Available. The script prints both wall times and their ratio, and the
write requests per object from the API server's `apiserver_request_total` (`count_writes`
lists what is counted). It also prints the peak RSS of a separate `deployer apply` of
`--rss-objects` objects in the same equal shares, which waits for their Deployments too.
Use a cluster that no other client writes to, since the counters are server-wide.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from deployer.local import kubectl_binary

KINDS = ("ConfigMap", "Secret", "Service", "Deployment")
WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}
RESOURCES = {"configmaps", "secrets", "services", "deployments"}
DEPLOYER = [sys.executable, "-c", "from deployer.cli.main import main; main()"]
_METRIC = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def object_body(kind: str, index: int) -> dict[str, object]:
    """Return one benchmark object of `kind`, named after its index."""
    name = f"{kind.lower()}-{index}"
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": {"k": "v"}}
    if kind == "Secret":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name},
            "stringData": {"k": "v"},
        }
    if kind == "Service":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }


def write_manifests(folder: Path, count: int, *, max_deployments: int | None = None) -> Path:
    """Write `count` objects, the kinds in turn, into one multi-document file.

    With `max_deployments`, Deployment slots past that many become ConfigMaps, for
    clusters whose nodes admit fewer pods than the local cluster's (3 nodes of 1,000).
    """
    bodies = []
    deployments = 0
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        if kind == "Deployment":
            deployments += 1
            if max_deployments is not None and deployments > max_deployments:
                kind = "ConfigMap"
        bodies.append(object_body(kind, index))
    path = folder / f"objects-{count}.yaml"
    path.write_text(yaml.safe_dump_all(bodies))
    return path


def manifest_kinds(path: Path) -> list[str]:
    """Return the kind of each object in a file that `write_manifests` wrote."""
    return [str(body["kind"]) for body in yaml.safe_load_all(path.read_text())]


def kubectl_command() -> str:
    """The kubectl to compare with: the one built with the local control plane, else PATH's.

    The built one has the server's version, so neither side pays for version skew.
    """
    built = kubectl_binary()
    return str(built) if built else "kubectl"


def kubectl(kubeconfig: str, *args: str) -> str:
    """Run kubectl and return its stdout; raise when it fails."""
    done = subprocess.run(
        [kubectl_command(), "--kubeconfig", kubeconfig, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    if done.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def fresh_namespace(kubeconfig: str, stem: str) -> str:
    """Create a namespace and wait until its controllers finished writing into it."""
    name = f"bench-{stem}-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", name)
    kubectl(
        kubeconfig, "wait", "--for=create", "serviceaccount/default", "-n", name, "--timeout=60s"
    )
    kubectl(
        kubeconfig,
        "wait",
        "--for=create",
        "configmap/kube-root-ca.crt",
        "-n",
        name,
        "--timeout=60s",
    )
    return name


def count_writes(kubeconfig: str) -> tuple[int, int]:
    """Return (writes, dry-run writes) so far to the benchmark's four resources.

    Counted: POST, PUT, PATCH, DELETE and APPLY requests to configmaps, secrets, services
    and deployments, not to subresources such as `deployments/status`, so the
    controllers' status updates and the ReplicaSets and Pods they create are left out.
    """
    writes = dry_runs = 0
    for line in kubectl(kubeconfig, "get", "--raw", "/metrics").splitlines():
        match = _METRIC.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("verb") not in WRITE_VERBS or labels.get("resource") not in RESOURCES:
            continue
        if labels.get("subresource"):
            continue
        value = int(float(match["value"]))
        if labels.get("dry_run"):
            dry_runs += value
        else:
            writes += value
    return writes, dry_runs


def timed_deployer(command: list[str]) -> tuple[float, float]:
    """Run a `deployer apply -o json` and return its wall time and when its last write ended.

    The second number is the time of the last Applied event, in seconds from the start,
    which separates deployer's own work from the wait for the cluster's controllers.
    """
    wall_start, started = time.time(), time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"deployer apply failed: {done.stderr.strip()[-2000:]}")
    applied = [
        event["time"]
        for event in map(json.loads, done.stdout.splitlines())
        if event.get("type") == "object" and event.get("state") == "Applied"
    ]
    return seconds, max(applied) - wall_start


def deployer_apply(kubeconfig: str, path: Path, namespace: str) -> list[str]:
    """Return the command line of a deployer apply of `path` into `namespace`."""
    return [
        *DEPLOYER,
        "apply",
        "-f",
        str(path),
        "--kubeconfig",
        kubeconfig,
        "-n",
        namespace,
        "--timeout",
        "15m",
        "-o",
        "json",
    ]


def peak_rss_mb(command: list[str]) -> float:
    """Run `command` under a fresh Python parent and return the child's peak RSS in MB."""
    # The probe exits with the child's code, so a failure shows deployer's own message.
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(done.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"deployer apply for the RSS probe failed: {done.stderr.strip()[-2000:]}")
    return int(done.stdout.split()[-1]) / 1024  # Linux reports ru_maxrss in KiB


def compare(kubeconfig: str, folder: Path, count: int) -> tuple[dict[str, float], list[str]]:
    """Time both tools on `count` objects and count their write requests.

    Returns the numbers and the two namespaces used.
    """
    path = write_manifests(folder, count)
    ours = fresh_namespace(kubeconfig, "deployer")
    theirs = fresh_namespace(kubeconfig, "kubectl")

    before, dry_before = count_writes(kubeconfig)
    deployer_seconds, deployer_writes_done = timed_deployer(deployer_apply(kubeconfig, path, ours))
    after, dry_after = count_writes(kubeconfig)

    started = time.monotonic()
    kubectl(kubeconfig, "apply", "--server-side", "-f", str(path), "-n", theirs)
    kubectl_writes_done = time.monotonic() - started
    kubectl_after, _ = count_writes(kubeconfig)
    kubectl(
        kubeconfig,
        "wait",
        "--for=condition=Available",
        "deployment",
        "--all",
        "-n",
        theirs,
        "--timeout=15m",
    )
    kubectl_seconds = time.monotonic() - started
    numbers = {
        "deployer_seconds": deployer_seconds,
        "kubectl_seconds": kubectl_seconds,
        "deployer_writes_done": deployer_writes_done,
        "kubectl_writes_done": kubectl_writes_done,
        "ratio": deployer_seconds / kubectl_seconds,
        "writes_per_object": (after - before) / count,
        "dry_runs_per_object": (dry_after - dry_before) / count,
        "kubectl_writes_per_object": (kubectl_after - after) / count,
    }
    return numbers, [ours, theirs]


def print_comparison(numbers: dict[str, float], count: int) -> None:
    """Print the numbers that `compare` returned for `count` objects."""
    print(f"kubectl:                  {kubectl_command()}")
    print(f"objects:                  {count}")
    print(f"deployer apply:           {numbers['deployer_seconds']:.1f} s")
    print(f"kubectl apply + wait:     {numbers['kubectl_seconds']:.1f} s")
    print(f"  last write after:       {numbers['deployer_writes_done']:.1f} s (deployer)")
    print(f"  last write after:       {numbers['kubectl_writes_done']:.1f} s (kubectl)")
    print(f"ratio deployer/kubectl:   {numbers['ratio']:.2f} (target <= 0.35)")
    print(f"deployer writes/object:   {numbers['writes_per_object']:.2f} (target <= 1.1)")
    print(f"deployer dry runs/object: {numbers['dry_runs_per_object']:.2f}")
    print(f"kubectl writes/object:    {numbers['kubectl_writes_per_object']:.2f}")


def wait_for_leftovers(kubeconfig: str) -> None:
    """Wait until no namespace of an earlier benchmark run is still being deleted.

    Deleting 1,250 Deployments with their pods keeps the API server and the controllers
    busy for minutes, which would slow whichever tool runs next.
    """
    template = '{range .items[*]}{.metadata.name} {.status.phase}{"\\n"}{end}'
    listed = kubectl(kubeconfig, "get", "namespaces", "-o", f"jsonpath={template}")
    leftovers = [
        f"namespace/{name}"
        for name, _, phase in (line.partition(" ") for line in listed.splitlines())
        if name.startswith("bench-") and phase == "Terminating"
    ]
    if not leftovers:
        return
    print(f"waiting until {len(leftovers)} namespace(s) of earlier runs are deleted")
    kubectl(kubeconfig, "wait", "--for=delete", *leftovers, "--timeout=900s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", default=os.environ.get("DEPLOYER_TEST_KUBECONFIG"))
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--rss-objects", type=int, default=5000)
    parser.add_argument(
        "--rss-deployments",
        type=int,
        default=None,
        help=(
            "Maximum Deployments among the --rss-objects, the rest of their share being"
            " ConfigMaps (default: no maximum, a quarter of the objects are Deployments)."
        ),
    )
    parser.add_argument(
        "--rss-only",
        action="store_true",
        help="Skip the timed comparison and measure only the peak RSS of the memory run.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark namespaces.")
    args = parser.parse_args()
    if not args.kubeconfig:
        parser.error("give --kubeconfig or set DEPLOYER_TEST_KUBECONFIG")

    wait_for_leftovers(args.kubeconfig)
    namespaces: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        if not args.rss_only:
            numbers, namespaces = compare(args.kubeconfig, Path(folder), args.objects)
            print_comparison(numbers, args.objects)

        if namespaces and not args.keep:
            # The memory run starts on a cluster without the comparison's objects.
            for namespace in namespaces:
                kubectl(args.kubeconfig, "delete", "namespace", namespace, "--wait=false")
            wait_for_leftovers(args.kubeconfig)
            namespaces = []
        rss_path = write_manifests(
            Path(folder), args.rss_objects, max_deployments=args.rss_deployments
        )
        rss_namespace = fresh_namespace(args.kubeconfig, "rss")
        namespaces.append(rss_namespace)
        rss_started = time.monotonic()
        rss = peak_rss_mb(deployer_apply(args.kubeconfig, rss_path, rss_namespace))
        rss_seconds = time.monotonic() - rss_started
        deployments = manifest_kinds(rss_path).count("Deployment")
        print(
            f"peak RSS, {args.rss_objects} objects ({deployments} Deployments): "
            f"{rss:.0f} MB (target < 150), apply took {rss_seconds:.1f} s"
        )

    if not args.keep:
        for namespace in namespaces:
            kubectl(args.kubeconfig, "delete", "namespace", namespace, "--wait=false")


if __name__ == "__main__":
    main()
