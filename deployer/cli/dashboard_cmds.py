"""`deployer dashboard`: serve the read-only web dashboard of recorded runs."""

from __future__ import annotations

import click

from deployer.cli.target import resolve_kubeconfig


@click.command("dashboard")
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Any address but loopback exposes run records to the network.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="TCP port (0: any free port).",
)
@click.option("--kubeconfig", default=None, help="Path of the kubeconfig file.")
@click.option("--context", default=None, help="Kubeconfig context to use.")
def dashboard_cmd(address: str, port: int, kubeconfig: str | None, context: str | None) -> None:
    """Serve a read-only web page of recorded runs that follows them live. Ctrl-C stops it."""
    from deployer.cluster.client import Cluster
    from deployer.dashboard import create_server

    cluster = Cluster.connect(kubeconfig=resolve_kubeconfig(kubeconfig), context=context)
    try:
        server = create_server(cluster, address=address, port=port)
    except OSError as failed:
        raise click.ClickException(
            f"cannot listen on {address}:{port}: {failed.strerror}; choose another --port"
        ) from failed
    click.echo(f"dashboard of recorded runs at {server.url} (read-only); Ctrl-C stops it", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("dashboard stopped", err=True)
    finally:
        server.close()


def register(group: click.Group) -> None:
    """Add `dashboard` to the `deployer` group."""
    group.add_command(dashboard_cmd)
