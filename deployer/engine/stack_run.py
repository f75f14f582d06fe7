"""Carry a stack out on a cluster: `up`, `down` and `status`.

Each workflow runs through the workflow runner, so every run is recorded in the cluster
like one started with `deployer submit`. `down` and `status` find a task's objects
through its inventory: the stack workflows give each `manifests` and `jsonnet` task an
explicit `inventory` name, so the name stays the same from run to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployer.cluster import inventory
from deployer.engine.kinds import TemplateContext
from deployer.engine.live import judge_live
from deployer.engine.stack import (
    Stack,
    StackWorkflow,
    check_entrypoints,
    combine_problems,
    entrypoint_dag,
)
from deployer.engine.stack_parameters import (
    declared_parameters,
    effective_parameters,
    undeclared_problem,
)
from deployer.engine.stack_values import add_stack_values
from deployer.engine.workflow import scope
from deployer.engine.workflow.nodes import NodeListener
from deployer.engine.workflow.parse import load_with_templates
from deployer.errors import DeployerError, InputError, WorkflowError
from deployer.model import run as runmodel
from deployer.model.events import ProgressSink, discard
from deployer.model.run import NodeRecord, RunRecord
from deployer.model.status import State
from deployer.model.workflow import DEPLOYER_KINDS, Task, Template, Workflow

if TYPE_CHECKING:
    from deployer.engine.workflow.submit import Prepared


@dataclass
class WorkflowRun:
    """One workflow of `up`: the entry, its finished run record and how long it took."""

    entry: StackWorkflow
    record: RunRecord
    seconds: float

    @property
    def succeeded(self) -> bool:
        """True when the run succeeded and no node of it failed.

        A DAG can end Succeeded when its failed task has only omitted dependents. The
        stack counts such a run as failed, because some of its objects are not up.
        """
        return self.record.phase == runmodel.SUCCEEDED and not self.record.failures()


@dataclass
class TaskStatus:
    """One deployer-kind task of a workflow, as `status` and `down` report it."""

    workflow: str  # file name of the workflow
    task: str
    kind: str
    phase: str = ""  # the task's phase in the last run, "" if it never ran
    objects: int = 0  # objects in the task's inventory
    not_ready: list[str] = field(default_factory=list)  # `Kind ns/name: message`
    message: str = ""
    deployed: bool = True  # False when the task's inventory or helm release is missing


def up_stack(
    stack: Stack,
    cluster: Any,
    *,
    listeners: Sequence[NodeListener] = (),
    progress: ProgressSink = discard,
) -> list[WorkflowRun]:
    """Run the stack's workflows in order, stopping after the first that does not succeed.

    Every workflow is loaded and validated first (see `prepare_stack`), so a bad one fails
    the stack before the first workflow runs. `listeners` receive node changes and
    `progress` the object events of every run. Objects of earlier waves and workflows stay
    in place, so `deployer retry RUN` can continue the failed run.
    """
    prepared = prepare_stack(stack)
    runs: list[WorkflowRun] = []
    for entry, (workflow, parameters) in zip(stack.workflows, prepared, strict=True):
        started = time.monotonic()
        record = run_workflow(cluster, workflow, parameters, listeners=listeners, progress=progress)
        run = WorkflowRun(entry=entry, record=record, seconds=time.monotonic() - started)
        runs.append(run)
        if not run.succeeded:
            break
    return runs


def prepare_stack(
    stack: Stack, *, file_problems: Sequence[DeployerError] = ()
) -> list[tuple[Prepared, dict[str, str]]]:
    """Load and validate every workflow of the stack, in stack order, for `up`.

    Raises one error that lists `file_problems`, the stack file's own from `read_stack`,
    and every problem of every workflow. Those are invalid templates, parameters a
    workflow does not declare, an entrypoint that is no dag template, Helm values for a
    template that does not exist, and a fixed `metadata.name`.
    """
    problems = list(file_problems)
    prepared = []
    for entry in stack.workflows:
        try:
            prepared.append(prepare_workflow(stack, entry))
        except (InputError, WorkflowError) as problem:
            problems.append(problem)
    if problems:
        raise combine_problems(problems, file=str(stack.file), summary="problems; nothing was run")
    return prepared


def prepare_workflow(stack: Stack, entry: StackWorkflow) -> tuple[Prepared, dict[str, str]]:
    """Load and validate one workflow of the stack; return it with its parameters.

    The entry's Helm values go into the workflow's helm templates. The record of the run
    keeps the Workflow document, with those values, and the WorkflowTemplates it calls,
    so `deployer retry` can rebuild the run from the record alone. Raises one error that
    lists every problem found.
    """
    from deployer.engine.workflow import submit

    workflow, _ = load_with_templates(entry.file)
    problems: list[DeployerError] = []
    try:
        entrypoint_dag(workflow)
    except WorkflowError as problem:
        problems.append(problem)
    undeclared = undeclared_problem(stack, entry, workflow)
    if undeclared is not None:
        problems.append(undeclared)
    fixed_name = fixed_name_problem(entry, workflow)
    if fixed_name is not None:
        problems.append(fixed_name)
    parameters = declared_parameters(stack, entry, workflow)
    try:
        prepared = submit.prepare(entry.file, parameters=parameters)
        with_values, document = add_stack_values(stack, entry, prepared.workflow, prepared.document)
    except (InputError, WorkflowError) as problem:
        problems.append(problem)
    if problems:
        raise combine_problems(problems, file=str(stack.file))
    return replace(prepared, workflow=with_values, document=document), parameters


def fixed_name_problem(entry: StackWorkflow, workflow: Workflow) -> WorkflowError | None:
    """Return the error for a stack workflow that gives its run a fixed `metadata.name`.

    A run name is used once: `deployer submit` rejects a name that a recorded run has. So
    a fixed name would let the first `deployer up` pass and stop the next one, after the
    workflows before it had run again.
    """
    if workflow.kind != "Workflow" or not workflow.name:
        return None
    line = _metadata_name_line(entry.file) or workflow.line
    return WorkflowError(
        f"{entry.file}:{line}: metadata.name {workflow.name} gives every run of this workflow "
        "the same name, but `deployer up` runs the stack's workflows again each time and a "
        f"run name can be used only once; write `generateName: {workflow.name}-` in its "
        "place, so that each up records a run of its own"
    )


def _metadata_name_line(path: Path) -> int | None:
    """Return the line of `metadata.name` in the Workflow document of a workflow file."""
    from deployer.engine.workflow.parse_fields import line_of, load_yaml_documents

    for document in load_yaml_documents(path):
        if isinstance(document, Mapping) and document.get("kind") == "Workflow":
            return line_of(document.get("metadata"), "name")
    return None


def run_workflow(
    cluster: Any,
    prepared: Prepared,
    parameters: Mapping[str, str],
    *,
    listeners: Sequence[NodeListener] = (),
    progress: ProgressSink = discard,
) -> RunRecord:
    """Run one prepared workflow of the stack as `deployer submit` would; return its record."""
    from deployer.engine.workflow import submit

    return submit.run_workflow(
        cluster,
        prepared,
        namespace=prepared.workflow.namespace or cluster.default_namespace,
        parameters=parameters,
        listeners=listeners,
        progress=progress,
    )


def down_stack(
    stack: Stack, cluster: Any, *, on_task: Callable[[TaskStatus], None] | None = None
) -> list[TaskStatus]:
    """Destroy each workflow's objects, last workflow first and last task first.

    Tasks whose inventory is missing (never run, or destroyed already) are skipped, and
    fixtures are never touched. Raises WorkflowError for the first task that fails.
    """
    from deployer.engine.templates import KINDS

    check_entrypoints(stack)
    done: list[TaskStatus] = []
    for entry in reversed(stack.workflows):
        workflow, templates = load_with_templates(entry.file)
        values = _workflow_values(workflow, effective_parameters(stack, entry, workflow))
        for task, template in reversed(_deployer_tasks(workflow, templates)):
            spec = scope.substitute_value(dict(template.body), values)
            status = TaskStatus(workflow=entry.file.name, task=task, kind=template.kind)
            ctx = _context(cluster, entry, workflow, values, task)
            if template.kind == "fixture" or not _has_objects(ctx, template.kind, spec):
                status.phase = runmodel.SKIPPED
            else:
                result = KINDS[template.kind].destroy(spec, ctx)
                status.phase, status.message = result.phase, result.message
                if result.phase != runmodel.SUCCEEDED:
                    raise WorkflowError(
                        f"{entry.file.name} task {task}: destroy failed: {result.message}"
                    )
            done.append(status)
            if on_task is not None:
                on_task(status)
    return done


def stack_status(stack: Stack, cluster: Any) -> list[tuple[RunRecord | None, list[TaskStatus]]]:
    """Return each workflow's last run and the live readiness of each task's objects."""
    from deployer.engine.workflow.record import ClusterRecordStore

    runs = ClusterRecordStore(cluster).list_runs()
    report: list[tuple[RunRecord | None, list[TaskStatus]]] = []
    for entry in stack.workflows:
        workflow, templates = load_with_templates(entry.file)
        values = _workflow_values(workflow, effective_parameters(stack, entry, workflow))
        last = last_run(runs, entry)
        tasks = []
        for task, template in _deployer_tasks(workflow, templates):
            status = TaskStatus(workflow=entry.file.name, task=task, kind=template.kind)
            node = _task_node(last, task) if last else None
            status.phase = node.phase if node else ""
            spec = scope.substitute_value(dict(template.body), values)
            ctx = _context(cluster, entry, workflow, values, task)
            _check_objects(ctx, template.kind, spec, status)
            expected = template.kind != "fixture" and status.phase != runmodel.SKIPPED
            if expected and not _has_objects(ctx, template.kind, spec):
                status.deployed = False
                status.not_ready.append(f"{entry.file.name} task {task}: not deployed")
            tasks.append(status)
        report.append((last, tasks))
    return report


def last_run(runs: Sequence[RunRecord], entry: StackWorkflow) -> RunRecord | None:
    """Return the newest of `runs` started from the entry's workflow file, if any."""
    mine = [run for run in runs if Path(run.source_file).resolve() == entry.file]
    return max(mine, key=lambda run: run.started or "", default=None)


def _workflow_values(workflow: Workflow, parameters: Mapping[str, str]) -> dict[str, str]:
    values = {f"workflow.parameters.{name}": value for name, value in parameters.items()}
    values["workflow.name"] = workflow.name or workflow.generate_name.rstrip("-")
    return values


def _deployer_tasks(
    workflow: Workflow, templates: Mapping[str, Workflow]
) -> list[tuple[str, Template]]:
    """Return the entrypoint DAG's deployer-kind tasks in dependency order.

    A task with `templateRef` is looked up in `templates`, the WorkflowTemplates by name.
    """
    entry = entrypoint_dag(workflow)
    tasks = {task.name: task for task in entry.dag}
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dependency in sorted(scope.dependency_names(tasks[name])):
            visit(dependency)
        ordered.append(name)

    for name in tasks:
        visit(name)
    result = []
    for name in ordered:
        template = _called_template(workflow, templates, tasks[name])
        if template is not None and template.kind in DEPLOYER_KINDS:
            result.append((name, template))
    return result


def _called_template(
    workflow: Workflow, templates: Mapping[str, Workflow], task: Task
) -> Template | None:
    ref = task.template_ref
    if ref is None:
        return workflow.templates.get(task.template or "")
    owner = templates.get(ref.name)
    return owner.templates.get(ref.template) if owner is not None else None


def _context(
    cluster: Any, entry: StackWorkflow, workflow: Workflow, values: Mapping[str, str], task: str
) -> TemplateContext:
    parameters = {
        key.removeprefix("workflow.parameters."): value
        for key, value in values.items()
        if key.startswith("workflow.parameters.")
    }
    run_name = values["workflow.name"]
    return TemplateContext(
        cluster=cluster,
        base_dir=entry.file.parent,
        parameters={},
        workflow_parameters=parameters,
        namespace=cluster.default_namespace,
        run_name=run_name,
        node_name=f"{run_name}.{task}",
    )


def _has_objects(ctx: TemplateContext, kind: str, spec: Mapping[str, Any]) -> bool:
    """Tell whether a task left anything to destroy: an inventory, or a helm release."""
    if kind == "helm":
        return _release_installed(ctx.cluster, spec)
    namespace = _inventory_namespace(ctx.cluster, spec)
    return inventory.read(ctx.cluster, _inventory_name(ctx, spec), namespace) is not None


def _inventory_name(ctx: TemplateContext, spec: Mapping[str, Any]) -> str:
    """Return the task's inventory name: its `inventory`, else the name its kind derives.

    The derived name, `<workflow>.<task>`, is the same in every run, because the context
    gives the workflow's name (its generateName without the dash) as the run name.
    """
    from deployer.engine.templates.common import inventory_name

    explicit = spec.get("inventory")
    return inventory_name(ctx, str(explicit) if explicit else None)


def _release_installed(cluster: Any, spec: Mapping[str, Any]) -> bool:
    # NOTE: only an explicit `release` is looked up. A helm task without one installs a
    # release named after the task, which `down` skips and `status` reports as not deployed.
    from deployer.engine.templates.helm_client import Helm, context_of, kubeconfig_of

    helm = Helm(kubeconfig=kubeconfig_of(cluster), context=context_of(cluster))
    release = str(spec.get("release") or "")
    return bool(release) and release in helm.releases(namespace=_inventory_namespace(cluster, spec))


def _check_objects(
    ctx: TemplateContext, kind: str, spec: Mapping[str, Any], status: TaskStatus
) -> None:
    """Fill `status` with the task's object count and the objects not ready now."""
    cluster = ctx.cluster
    refs = _task_objects(ctx, kind, spec)
    status.objects = len(refs)
    for api_version, object_kind, namespace, name in refs:
        described = f"{object_kind} {namespace}/{name}" if namespace else f"{object_kind} {name}"
        live = cluster.get(api_version, object_kind, name, namespace)
        if live is None:
            status.not_ready.append(f"{described}: not found")
            continue
        verdict = judge_live(cluster, live)
        if verdict.state not in (State.READY, State.SKIPPED):
            status.not_ready.append(f"{described}: {verdict.message or verdict.reason}")


ObjectKey = tuple[str, str, str | None, str]  # apiVersion, kind, namespace, name


def _task_objects(ctx: TemplateContext, kind: str, spec: Mapping[str, Any]) -> list[ObjectKey]:
    """List a task's objects: its inventory, or for helm the release's manifest."""
    if kind == "helm":
        return _release_objects(ctx.cluster, spec)
    if kind not in ("manifests", "jsonnet"):
        return []
    namespace = _inventory_namespace(ctx.cluster, spec)
    entries = inventory.read(ctx.cluster, _inventory_name(ctx, spec), namespace) or []
    return [(e.api_version, e.kind, e.namespace, e.name) for e in entries]


def _release_objects(cluster: Any, spec: Mapping[str, Any]) -> list[ObjectKey]:
    from deployer.engine.templates.helm_client import Helm, context_of, kubeconfig_of
    from deployer.sources.helm import parse_release_manifest

    release = str(spec.get("release") or "")
    namespace = _inventory_namespace(cluster, spec)
    helm = Helm(kubeconfig=kubeconfig_of(cluster), context=context_of(cluster))
    if not _release_installed(cluster, spec):
        return []
    manifests = parse_release_manifest(helm.manifest(release, namespace=namespace), release=release)
    keys: list[ObjectKey] = []
    for manifest in manifests:
        namespaced = cluster.resource(manifest.api_version, manifest.kind).namespaced
        where = (manifest.namespace or namespace) if namespaced else None
        keys.append((manifest.api_version, manifest.kind, where, manifest.name))
    return keys


def _inventory_namespace(cluster: Any, spec: Mapping[str, Any]) -> str:
    """Return where a task's inventory lives: the task's namespace, else the default one."""
    return str(spec.get("namespace") or cluster.default_namespace)


def _task_node(record: RunRecord, task: str) -> NodeRecord | None:
    for node in record.nodes.values():
        if node.display_name == task:
            return node
    return None
