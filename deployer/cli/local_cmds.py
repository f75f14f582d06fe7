"""`deployer local ...`: build, start, stop and inspect local control planes."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from deployer.errors import LocalClusterError
from deployer.local import build, kubectl_binary, paths
from deployer.local import cluster as local


def _report(line: str) -> None:
    click.echo(line, err=True)


def _cluster_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """Reject an unusable cluster name as a usage error (exit code 2)."""
    try:
        local.check_name(value)
    except LocalClusterError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.group("local")
def local_group() -> None:
    """Run a real Kubernetes control plane on 127.0.0.1 with simulated nodes."""


@local_group.command("build")
def build_cmd() -> None:
    """Build (once, cached by version) etcd, the Kubernetes binaries, kwok and helm."""
    build.ensure_built(report=_report)
    for component in build.ALL:
        version = paths.versions()[component.key]
        click.echo(f"{component.key} {version}: {paths.bin_dir(component.key, version)}")


@local_group.command("up")
@click.argument("name", default="default", callback=_cluster_name)
@click.option(
    "--nodes",
    default=3,
    show_default=True,
    type=click.IntRange(1, local.MAX_NODES),
    help="Number of simulated nodes, each admitting 1,000 pods.",
)
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for start-up.")
def up_cmd(name: str, nodes: int, timeout: float) -> None:
    """Start the cluster NAME (default: default) and wait until it is ready."""
    started = time.monotonic()
    cluster = local.up(name, nodes=nodes, report=_report, timeout=timeout)
    if cluster.already_running:
        click.echo(f"cluster {name} already runs at {cluster.server}")
    else:
        click.echo(
            f"cluster {name} is ready at {cluster.server} ({time.monotonic() - started:.1f} s)"
        )
    click.echo(f"kubeconfig: {cluster.kubeconfig}")
    kubectl = kubectl_binary() or "kubectl"
    click.echo(f"try: {kubectl} --kubeconfig {cluster.kubeconfig} get nodes")
    click.echo(f"or:  export KUBECONFIG={cluster.kubeconfig}")


@local_group.command("down")
@click.argument("name", default="default")
def down_cmd(name: str) -> None:
    """Stop every process of the cluster NAME, free its ports and remove its data."""
    if local.down(name):
        click.echo(f"cluster {name} stopped")
    else:
        click.echo(f"cluster {name} is not known; nothing to stop")


@local_group.command("status")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def status_cmd(name: str | None, output: str) -> None:
    """Show the processes and ports of one cluster, or of every known cluster."""
    names = [name] if name else local.list_names()
    rows: list[dict[str, Any]] = []
    for each in names:
        cluster = local.status(each)
        if cluster is None:
            rows.append({"name": each, "state": "unknown"})
            continue
        alive = cluster.alive()
        state = (
            "running"
            if alive and all(alive.values())
            else ("stopped" if not any(alive.values()) else "degraded")
        )
        rows.append(
            {
                "name": each,
                "state": state,
                "server": cluster.server,
                "kubeconfig": str(cluster.kubeconfig),
                "processes": {
                    proc: {"pid": cluster.pids[proc], "alive": ok} for proc, ok in alive.items()
                },
                "ports": cluster.ports,
            }
        )
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no local clusters; start one with: deployer local up")
    for row in rows:
        click.echo(
            f"{row['name']}: {row['state']}" + (f" at {row['server']}" if "server" in row else "")
        )
        for proc, info in row.get("processes", {}).items():
            click.echo(
                f"  {proc:<24} pid {info['pid']:<8} {'alive' if info['alive'] else 'exited'}"
            )
    if name and rows and rows[0]["state"] != "running":
        raise SystemExit(1)


@local_group.command("kubeconfig")
@click.argument("name", default="default")
def kubeconfig_cmd(name: str) -> None:
    """Print the path of the cluster's kubeconfig."""
    cluster = local.status(name)
    if cluster is None:
        raise click.UsageError(
            f"cluster {name} is not known; start it with: deployer local up {name}"
        )
    click.echo(str(cluster.kubeconfig))


def register(group: click.Group) -> None:
    group.add_command(local_group)
