"""`deployer apply | plan | template | diff | destroy`: manifests to a cluster and back.

Cluster options follow kubectl: `--kubeconfig`, `KUBECONFIG`, `--context`, and
`-n/--namespace` as the namespace for objects that name none. Exit codes: 0 success,
1 failure, 2 usage error (see deployer.cli.main).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import yaml

from deployer.cli.progress import object_name, progress_view
from deployer.engine.timeouts import parse_duration
from deployer.errors import DeployerError, InputError
from deployer.model.objects import Manifest

F = TypeVar("F", bound=Callable[..., Any])
MASK = "***"
ARGO_WORKFLOW_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")


def _parameters(
    _ctx: click.Context, _param: click.Parameter, values: Sequence[str]
) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        parsed[key] = text
    return parsed


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value, what="--timeout")
    except InputError as invalid:
        raise click.BadParameter(str(invalid)) from None


def source_options(required: bool = True) -> Callable[[F], F]:
    """Add `-f/--filename` (repeatable) and `-p/--param KEY=VALUE` to a command."""

    def decorate(command: F) -> F:
        command = click.option(
            "-p",
            "--param",
            "parameters",
            multiple=True,
            callback=_parameters,
            help="Template parameter KEY=VALUE for Jinja2 manifests (repeatable).",
        )(command)
        return click.option(
            "-f",
            "--filename",
            "files",
            multiple=True,
            required=required,
            help="Manifest file, folder (recursive) or glob (repeatable).",
        )(command)

    return decorate


def cluster_options(command: F) -> F:
    """Add kubectl's `--kubeconfig`, `--context` and `-n/--namespace` to a command."""
    for option in (
        click.option("--kubeconfig", help="Kubeconfig file (default: KUBECONFIG, ~/.kube/config)."),
        click.option("--context", help="Kubeconfig context (default: the current context)."),
        click.option(
            "-n", "--namespace", help="Namespace for objects without one (default: the context's)."
        ),
    ):
        command = option(command)
    return command


def connect(kubeconfig: str | None, context: str | None) -> Any:
    """Connect to the cluster that kubectl would use, or to the local one when none is set."""
    from deployer.cli.target import resolve_kubeconfig
    from deployer.cluster import Cluster

    return Cluster.connect(kubeconfig=resolve_kubeconfig(kubeconfig), context=context)


def load(files: Sequence[str], parameters: dict[str, str]) -> list[Manifest]:
    """Load and render the manifests given with -f."""
    from deployer.sources.loader import load_paths

    return load_paths(list(files), parameters=parameters)


def check_offline(manifests: Sequence[Manifest], namespace: str | None = None) -> Any:
    """Build the plan and run every check that needs no cluster, as apply runs them.

    Returns the plan. Raises PlanError or ValidationError, so that `plan` and `template`
    fail where apply would fail before it writes anything.
    """
    from deployer.engine.prepare import offline_problems
    from deployer.errors import ValidationError
    from deployer.plan import build_plan

    plan = build_plan(manifests, default_namespace=namespace)
    problems = offline_problems(list(plan.manifests()))
    if problems:
        raise ValidationError(problems)
    return plan


def inventory_name(
    inventory: str | None,
    files: Sequence[str],
    namespace: str | None,
    parameters: dict[str, str],
) -> str:
    """Return `--inventory`, else the default name of these -f, -n and -p arguments.

    The values of parameters whose names look secret (password, token, ...) are left
    out of the default name: they could be guessed back from its digest, and a changed
    password is no new instance.
    """
    from deployer.cluster.inventory import default_name
    from deployer.engine.workflow.masking import looks_secret

    if inventory:
        return inventory
    hashed = {key: MASK if looks_secret(key) else value for key, value in parameters.items()}
    return default_name(files, namespace=namespace, parameters=hashed)


def output_option(command: F) -> F:
    """Add `-o/--output text|json` to a command."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text: one line per state change (live table on a terminal); json: JSON lines.",
    )(command)


def mask_secrets(body: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a Secret with every data and stringData value replaced by `***`."""
    if body.get("kind") != "Secret":
        return body
    masked = dict(body)
    for section in ("data", "stringData"):
        if isinstance(body.get(section), dict):
            masked[section] = dict.fromkeys(body[section], MASK)
    return masked


def _kept_json(kept: Any) -> dict[str, str]:
    return {"object": kept.entry.describe(), "reason": kept.reason}


def _summary(result: Any) -> dict[str, Any]:
    return {
        "type": "result",
        "objects": len(result.objects),
        "created": result.count("created"),
        "configured": result.count("configured"),
        "unchanged": result.count("unchanged"),
        "dryRun": result.count("dry-run"),
        "notChecked": result.count("not-checked"),
        "pruned": [object_name(ref) for ref in result.pruned],
        "kept": [_kept_json(item) for item in result.kept],
        "inventory": result.inventory,
        "inventoryNamespace": result.inventory_namespace,
        "seconds": round(result.seconds, 3),
    }


def _print_summary(output: str, summary: dict[str, Any]) -> None:
    if output == "json":
        click.echo(json.dumps(summary))
        return
    if summary["dryRun"] or summary["notChecked"]:
        text = f"dry run passed for {summary['dryRun']} of {summary['objects']} object(s)"
        if summary["notChecked"]:
            text += f"; {summary['notChecked']} could not be checked (NotChecked above)"
        click.echo(text + "; nothing written")
        return
    text = (
        f"applied {summary['objects']} object(s) in {summary['seconds']:.1f} s: "
        f"{summary['created']} created, {summary['configured']} configured, "
        f"{summary['unchanged']} unchanged, {len(summary['pruned'])} pruned"
    )
    if summary["inventory"]:
        text += f"; inventory {summary['inventory']} in namespace {summary['inventoryNamespace']}"
    click.echo(text)
    for kept in summary["kept"]:
        click.echo(f"kept {kept['object']}: {kept['reason']}")


@click.command("apply")
@source_options()
@cluster_options
@click.option("--force-conflicts", is_flag=True, help="Take over fields owned by other managers.")
@click.option(
    "--dry-run",
    type=click.Choice(["none", "server"]),
    default="none",
    show_default=True,
    help="server: only validate every object with a server-side dry run.",
)
@click.option(
    "--timeout",
    callback=_duration,
    default="5m",
    show_default=True,
    help="Readiness timeout per object (30s, 5m, 1h); deployer.dev/timeout overrides it.",
)
@click.option("--wave-timeout", callback=_duration, help="Readiness timeout per wave.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for readiness.")
@click.option(
    "--inventory",
    help="Name of this instance, under which to record what was applied "
    "(default: derived from -f, -n and -p).",
)
@click.option("--inventory-namespace", help="Namespace of the inventory (default: -n's).")
@click.option(
    "--prune/--no-prune",
    default=None,
    help="Delete the inventory's objects that left the manifests (default: yes, but a prune "
    "that deletes a Namespace or over half of the inventory needs --prune).",
)
@output_option
def apply_cmd(
    files: Sequence[str],
    parameters: dict[str, str],
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    force_conflicts: bool,
    dry_run: str,
    timeout: float,
    wave_timeout: float | None,
    wait: bool,
    inventory: str | None,
    inventory_namespace: str | None,
    prune: bool | None,
    output: str,
) -> None:
    """Apply manifests in dependency waves and wait until every object is ready.

    Records what was applied in an inventory in the cluster, and prunes the objects that
    an earlier apply recorded there and that left the manifests.
    """
    from deployer.engine.apply import ApplyOptions, apply_manifests

    options = ApplyOptions(
        namespace=namespace,
        force_conflicts=force_conflicts,
        dry_run=dry_run == "server",
        wait=wait,
        timeout_seconds=timeout,
        wave_timeout_seconds=wave_timeout,
        inventory=inventory_name(inventory, files, namespace, parameters),
        inventory_namespace=inventory_namespace,
        prune=prune is not False,
        guard_prune=prune is None,
    )
    try:
        manifests = load(files, parameters)
        cluster = connect(kubeconfig, context)
        with progress_view(output) as progress:
            result = apply_manifests(cluster, manifests, options=options, progress=progress)
    except DeployerError as failure:
        if output == "json":
            # CI readers of stdout get the failure too; main() still prints `error:` and exits 1.
            click.echo(json.dumps({"type": "error", "message": str(failure)}))
        raise
    _print_summary(output, _summary(result))


@click.command("plan")
@source_options()
@click.option("-n", "--namespace", help="Namespace for objects without one.")
def plan_cmd(files: Sequence[str], parameters: dict[str, str], namespace: str | None) -> None:
    """Print the waves an apply would use, with sources and dependencies. No cluster needed."""
    from deployer.plan.describe import format_plan

    manifests = load(files, parameters)
    for manifest in manifests:
        if manifest.group == "argoproj.io" and manifest.kind in ARGO_WORKFLOW_KINDS:
            file = manifest.source.file if manifest.source else "FILE"
            click.echo(
                f"note: {manifest.describe()} is an Argo Workflow object; to run it without "
                f"Argo Workflows installed, use `deployer submit {file}`",
                err=True,
            )
    click.echo(format_plan(check_offline(manifests, namespace)))


@click.command("template")
@source_options()
@click.option("--show-secrets", is_flag=True, help="Print Secret values instead of ***.")
def template_cmd(files: Sequence[str], parameters: dict[str, str], show_secrets: bool) -> None:
    """Print the rendered objects as YAML documents; Secret values are masked by default.

    Fails, and prints nothing, when the objects would fail apply's offline checks.
    """
    manifests = load(files, parameters)
    check_offline(manifests)
    bodies = [manifest.body for manifest in manifests]
    if not show_secrets:
        bodies = [mask_secrets(body) for body in bodies]
    click.echo(yaml.safe_dump_all(bodies, sort_keys=False), nl=False)


@click.command("diff")
@source_options()
@cluster_options
@click.option("--force-conflicts", is_flag=True, help="Diff as if conflicts were taken over.")
@click.option(
    "--inventory",
    help="Inventory whose objects a prune would delete (default: derived from -f, -n and -p).",
)
@click.option("--inventory-namespace", help="Namespace of the inventory (default: -n's).")
@click.option(
    "--exit-code",
    is_flag=True,
    hidden=True,
    help="Accepted for older scripts; diff always exits 1 when objects differ.",
)
def diff_cmd(
    files: Sequence[str],
    parameters: dict[str, str],
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    force_conflicts: bool,
    inventory: str | None,
    inventory_namespace: str | None,
    exit_code: bool,
) -> None:
    """Show what an apply would change, as unified YAML diffs; Secret values are masked.

    The objects that an apply would prune from the inventory show as removed. Exits 0
    when nothing differs and 1 when any object differs or would be pruned, like kubectl
    diff.
    """
    from deployer.engine.diff import diff_manifests, prune_diffs

    del exit_code  # kept so that scripts passing it still run
    manifests = load(files, parameters)
    cluster = connect(kubeconfig, context)
    changed = diff_manifests(cluster, manifests, namespace=namespace, force=force_conflicts)
    pruned = prune_diffs(
        cluster,
        manifests,
        inventory_name=inventory_name(inventory, files, namespace, parameters),
        inventory_namespace=inventory_namespace,
        namespace=namespace,
    )
    for _manifest, text in changed:
        click.echo(text, nl=False)
    for _entry, text in pruned:
        click.echo(text, nl=False)
    summary = f"{len(changed)} of {len(manifests)} object(s) differ, {len(pruned)} would be pruned"
    click.echo(summary, err=True)
    if changed or pruned:
        # NOTE: SystemExit, because main() runs click with standalone_mode=False, which
        # turns click.exceptions.Exit into a return value that main() does not pass on.
        sys.exit(1)


@click.command("destroy")
@source_options(required=False)
@cluster_options
@click.option(
    "--inventory",
    help="Delete every object stored in this inventory (default with -f: derived from -f, -n "
    "and -p).",
)
@click.option("--inventory-namespace", help="Namespace of the inventory (default: -n's).")
@click.option(
    "--timeout", callback=_duration, default="5m", show_default=True, help="Deletion timeout."
)
@output_option
def destroy_cmd(
    files: Sequence[str],
    parameters: dict[str, str],
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    inventory: str | None,
    inventory_namespace: str | None,
    timeout: float,
    output: str,
) -> None:
    """Delete the objects of manifests (-f) and of their inventory, last wave first, and wait.

    With -f, the objects recorded in the inventory of the same -f, -n and -p arguments are
    deleted too, so objects that left the manifests but were kept with `apply --no-prune`
    go as well.
    """
    from deployer.engine.deletion import destroy

    if not files and not inventory:
        raise click.UsageError("give the manifests with -f, or --inventory NAME")
    manifests = load(files, parameters) if files else []
    cluster = connect(kubeconfig, context)
    with progress_view(output) as progress:
        result = destroy(
            cluster,
            inventory_name=inventory_name(inventory, files, namespace, parameters),
            manifests=manifests,
            namespace=namespace,
            inventory_namespace=inventory_namespace,
            progress=progress,
            timeout_seconds=timeout,
        )
    deleted = [object_name(ref) for ref in result.deleted]
    kept = [_kept_json(item) for item in result.kept]
    if output == "json":
        click.echo(json.dumps({"type": "result", "deleted": deleted, "kept": kept}))
        return
    click.echo(f"deleted {len(deleted)} object(s)")
    for item in kept:
        click.echo(f"kept {item['object']}: {item['reason']}")


def register(group: click.Group) -> None:
    """Add the apply commands to the `deployer` group."""
    for command in (apply_cmd, plan_cmd, template_cmd, diff_cmd, destroy_cmd):
        group.add_command(command)
