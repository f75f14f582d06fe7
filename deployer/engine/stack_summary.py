"""The summary that `deployer up` prints: one row per workflow and what is not ready.

`summarize` reads each run's record and the live objects of its tasks. It shares the
task listing and readiness checks of `deployer.engine.stack_run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deployer.engine.stack import Stack, StackWorkflow
from deployer.engine.stack_parameters import effective_parameters
from deployer.engine.stack_run import (
    TaskStatus,
    WorkflowRun,
    _check_objects,
    _context,
    _deployer_tasks,
    _task_node,
    _workflow_values,
)
from deployer.engine.workflow import scope
from deployer.engine.workflow.parse import load_with_templates
from deployer.model import run as runmodel
from deployer.model.run import NodeRecord
from deployer.model.workflow import Workflow


def summarize(stack: Stack, cluster: Any, runs: Sequence[WorkflowRun]) -> list[dict[str, Any]]:
    """Return one summary row per workflow: waves, tasks, objects, seconds, what is not ready.

    `waves` counts the dependency levels of the entrypoint DAG that had a task run.
    `not_ready` names each task that failed or never ran, with the reason, and each object
    that is not ready now. Workflows that did not run, because an earlier one failed, get
    a row with phase NotRun and run "-".
    """
    rows = []
    for run in runs:
        workflow, templates = load_with_templates(run.entry.file)
        values = _workflow_values(workflow, effective_parameters(stack, run.entry, workflow))
        levels = dag_levels(workflow)
        tasks = _deployer_tasks(workflow, templates)
        ran_levels: set[int] = set()
        done = objects = 0
        not_ready: list[str] = []
        for task, template in tasks:
            node = _task_node(run.record, task)
            problem = _task_problem(run, task, node)
            if problem:
                not_ready.append(problem)
            if node is None or node.phase in (runmodel.SKIPPED, runmodel.OMITTED):
                continue
            ran_levels.add(levels[task])
            if node.phase == runmodel.SUCCEEDED:
                done += 1
            status = TaskStatus(workflow=run.entry.file.name, task=task, kind=template.kind)
            ctx = _context(cluster, run.entry, workflow, values, task)
            spec = scope.substitute_value(dict(template.body), values)
            _check_objects(ctx, template.kind, spec, status)
            objects += status.objects
            not_ready.extend(status.not_ready)
        rows.append(
            {
                "workflow": run.entry.file.name,
                "run": run.record.name,
                "phase": run.record.phase if run.succeeded else runmodel.FAILED,
                "waves": len(ran_levels),
                "tasks": len(tasks),
                "tasks_done": done,
                "objects": objects,
                "seconds": run.seconds,
                "not_ready": not_ready,
            }
        )
    for entry in stack.workflows[len(runs) :]:
        rows.append(_not_run_row(entry, runs[-1] if runs else None))
    return rows


def _task_problem(run: WorkflowRun, task: str, node: NodeRecord | None) -> str | None:
    """Describe why a task of the run is not done, or return None when it is fine."""
    where = f"{run.entry.file.name} task {task}"
    if node is None:
        if run.succeeded:
            return None
        return f"{where}: not run, because run {run.record.name} stopped after a failure"
    if node.phase in (runmodel.SUCCEEDED, runmodel.SKIPPED):
        return None
    if not node.done:
        return f"{where} {node.phase}: the run ended before the task finished"
    return f"{where} {node.phase}: {node.message}"


def _not_run_row(entry: StackWorkflow, last: WorkflowRun | None) -> dict[str, Any]:
    cause = f"run {last.record.name} of {last.entry.file.name} failed" if last else "never started"
    return {
        "workflow": entry.file.name,
        "run": "-",
        "phase": "NotRun",
        "waves": 0,
        "tasks": 0,
        "tasks_done": 0,
        "objects": 0,
        "seconds": 0.0,
        "not_ready": [f"{entry.file.name}: not run, because {cause}"],
    }


def dag_levels(workflow: Workflow) -> dict[str, int]:
    """Return each entrypoint task's dependency level: 0 for tasks that depend on none."""
    entry = workflow.templates[workflow.entrypoint or ""]
    tasks = {task.name: task for task in entry.dag}
    levels: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in levels:
            dependencies = scope.dependency_names(tasks[name])
            levels[name] = 1 + max((level(d) for d in dependencies), default=-1)
        return levels[name]

    for name in tasks:
        level(name)
    return levels
