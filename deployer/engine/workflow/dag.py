"""DAG templates: tasks start as their `dependencies` or `depends` allow, loops, failFast.

A DAG task is node `N.task`; the children of a looped task are `N.task(0:value)` under a
TaskGroup node `N.task`. A DAG fails when a task fails (or errors) unless the task has a
matching `continueOn`, or another task's `depends` expression handles the failure with
`A.Failed`, `A.Errored`, `A.AllFailed` or `A.AnySucceeded` (that task then decides what the
failure means). A task whose failure its `continueOn` allows still meets the dependencies of
the tasks that list it in `dependencies` or name it bare in `depends`, as in Argo. With
`dag.failFast` (the default) no task starts after an unhandled failure; with the template's
`failFast: true` none starts after any failure, and the DAG fails. Tasks that never start for
either reason are recorded as Omitted, naming the task that failed.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

from deployer.engine.workflow import leaves, scope
from deployer.engine.workflow.calls import Call, Outcome
from deployer.engine.workflow.flow import (
    FailFast,
    call_step,
    expand,
    failed_unhandled,
    omit,
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
        self.fail_fast = FailFast(call.template)
        self.continued = scope.continued_phases(call.template.dag)

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
            self._finished(task, child, children)
            if self.fail_fast.stop_starting(child):
                stop_scheduling = True
            if failed_unhandled(task, child) and task.name not in handled:
                self.failures.append(child)
                stop_scheduling = stop_scheduling or template.dag_fail_fast
        for task in waiting:
            self._omit(task, self._not_started_message())
        if self.runner.cancel.is_set():
            return Outcome("Failed", self.runner.stop_message)
        if self.fail_fast.failed is not None:
            return Outcome("Failed", self.fail_fast.message())
        if self.failures:
            failed = self.failures[0]
            return Outcome("Failed", f"task '{failed.display_name}' {failed.phase.lower()}")
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
                verdict = scope.dependencies_met(
                    task, self.phases, self.child_phases, self.continued
                )
                if verdict is None:
                    continue
                waiting.remove(task)
                progress = True
                if not verdict:
                    self._omit(task, "dependencies not met")
                    continue
                values = dict(self.values)
                threading.Thread(target=self._run_task, args=(task, values), daemon=True).start()
                started += 1
        return started

    def _finished(self, task: Task, child: NodeRecord, children: list[NodeRecord]) -> None:
        """Make a finished (or omitted) task's phase and variables visible to later tasks."""
        self.phases[task.name] = child.phase
        self.child_phases[task.name] = [c.phase for c in children]
        self.values.update(scope.node_vars("tasks", task.name, children, looped=task.loops))

    def _omit(self, task: Task, message: str) -> None:
        name = f"{self.call.name}.{task.name}"
        omitted = omit(
            self.runner, task, name=name, display=task.name, parent=self.node.id, message=message
        )
        self._finished(task, omitted, [omitted])

    def _not_started_message(self) -> str:
        """Explain why the tasks still waiting when scheduling ended never started."""
        if self.runner.cancel.is_set():
            return f"not started: {self.runner.stop_message}"
        if self.fail_fast.failed is not None:
            return self.fail_fast.omitted_message()
        if not self.failures:
            # Only a dependency cycle, which validate rejects, leaves tasks waiting otherwise.
            return "not started: its dependencies never finished"
        failed = self.failures[0]
        return (
            f"not started: task '{failed.display_name}' {failed.phase.lower()} and the DAG "
            "starts no task after a failure (dag.failFast is true by default)"
        )

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
        ran = run_parallel(jobs, limit=limit, stop_starting=self.fail_fast.stop_starting)
        results = []
        for (path, display, _), result in zip(children, ran, strict=True):
            if result is None:
                result = omit(
                    self.runner,
                    task,
                    name=path,
                    display=display,
                    parent=group.id,
                    message=self.fail_fast.omitted_message(),
                )
            results.append(result)
        failed = [r for r in results if failed_unhandled(task, r)]
        phase = failed[0].phase if failed else "Succeeded"
        message = f"child '{failed[0].display_name}' failed" if failed else ""
        self.runner.book.finish(group, phase, message)
        self.done.put((task, group, results))
