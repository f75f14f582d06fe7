"""DAG templates: tasks start as their `dependencies` or `depends` allow, loops, failFast.

A DAG task is node `N.task`; the children of a looped task are `N.task(0:value)` under a
TaskGroup node `N.task`. A DAG fails when a task fails (or errors) unless the task has a
matching `continueOn`, or another task's `depends` expression names it (that task then
decides what the failure means). With failFast (the default) no task starts after a failure.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

from deployer.engine.workflow import leaves, scope
from deployer.engine.workflow.calls import Call, Outcome
from deployer.engine.workflow.flow import (
    call_step,
    expand,
    failed_unhandled,
    run_parallel,
    step_job,
)
from deployer.errors import WorkflowError
from deployer.model.run import NodeRecord
from deployer.model.workflow import Task

if TYPE_CHECKING:
    from deployer.engine.workflow.runner import Runner


def run_dag(runner: Runner, node: NodeRecord, call: Call, values: dict[str, str]) -> Outcome:
    """Run DAG tasks as their dependencies allow, at most `parallelism` at once."""
    template = call.template
    dag = _DagRun(runner, node, call, dict(values))
    return dag.run(template.dag)


class _DagRun:
    """The state of one DAG node while its tasks run."""

    def __init__(
        self, runner: Runner, node: NodeRecord, call: Call, values: dict[str, str]
    ) -> None:
        self.runner = runner
        self.node = node
        self.call = call
        self.values = values
        self.phases: dict[str, str] = {}
        self.child_phases: dict[str, list[str]] = {}
        self.done: queue.Queue[tuple[Task, NodeRecord, list[NodeRecord]]] = queue.Queue()
        self.failures: list[NodeRecord] = []

    def run(self, tasks: list[Task]) -> Outcome:
        template = self.call.template
        handled = {name for t in tasks if t.depends for name in scope.failure_handled_names(t)}
        waiting = list(tasks)
        running = 0
        stop_scheduling = False
        while waiting or running:
            if not stop_scheduling and not self.runner.cancel.is_set():
                running += self._start_ready(waiting, template.parallelism, running)
            if not running:
                break
            task, child, children = self.done.get()
            running -= 1
            self.phases[task.name] = child.phase
            self.child_phases[task.name] = [c.phase for c in children]
            self.values.update(scope.node_vars("tasks", task.name, children, looped=task.loops))
            if failed_unhandled(task, child) and task.name not in handled:
                self.failures.append(child)
                stop_scheduling = template.dag_fail_fast
        if self.failures or self.runner.cancel.is_set():
            message = self.runner.stop_message
            if self.failures and not self.runner.cancel.is_set():
                failed = self.failures[0]
                message = f"task '{failed.display_name}' {failed.phase.lower()}"
            return Outcome("Failed", message)
        return Outcome(
            "Succeeded", outputs=leaves.declared_outputs(self.runner, template, self.values)
        )

    def _start_ready(self, waiting: list[Task], limit: int | None, running: int) -> int:
        started = 0
        progress = True
        while progress:
            progress = False
            for task in list(waiting):
                if limit and running + started >= limit:
                    return started
                verdict = scope.dependencies_met(task, self.phases, self.child_phases)
                if verdict is None:
                    continue
                waiting.remove(task)
                progress = True
                if not verdict:
                    self._omit(task)
                    continue
                values = dict(self.values)
                threading.Thread(target=self._run_task, args=(task, values), daemon=True).start()
                started += 1
        return started

    def _omit(self, task: Task) -> None:
        name = f"{self.call.name}.{task.name}"
        omitted = self.runner.book.create(
            name=name,
            display=task.name,
            type="Skipped",
            template=task.template or "",
            parent=self.node.id,
        )
        self.runner.book.finish(omitted, "Omitted", "dependencies not met")
        self.phases[task.name] = "Omitted"

    def _run_task(self, task: Task, values: dict[str, str]) -> None:
        base = f"{self.call.name}.{task.name}"
        try:
            children = expand(self.runner, task, values, base, task.name)
        except WorkflowError as bad:
            node = self.runner.book.create(
                name=base,
                display=task.name,
                type="TaskGroup",
                template=task.template or "",
                parent=self.node.id,
            )
            self.runner.book.finish(node, "Failed", str(bad))
            self.done.put((task, node, []))
            return
        if not task.loops:
            path, display, child_values = children[0]
            child = call_step(
                self.runner,
                task,
                call=self.call,
                name=path,
                display=display,
                parent=self.node.id,
                values=child_values,
            )
            self.done.put((task, child, [child]))
            return
        self._run_loop(task, base, children)

    def _run_loop(
        self, task: Task, base: str, children: list[tuple[str, str, dict[str, str]]]
    ) -> None:
        """Run the children of a looped task in parallel under one TaskGroup node."""
        group = self.runner.book.create(
            name=base,
            display=task.name,
            type="TaskGroup",
            template=task.template or "",
            parent=self.node.id,
        )
        self.runner.book.start(group)
        jobs = [
            step_job(self.runner, task, self.call, path, display, group.id, child_values)
            for path, display, child_values in children
        ]
        limit = self.call.template.parallelism
        ran = run_parallel(jobs, limit=limit, fail_fast=False, fails=lambda i, n: False)
        results = [r for r in ran if r is not None]
        failed = [r for r in results if failed_unhandled(task, r)]
        phase = failed[0].phase if failed else "Succeeded"
        message = f"child '{failed[0].display_name}' failed" if failed else ""
        self.runner.book.finish(group, phase, message)
        self.done.put((task, group, results))
