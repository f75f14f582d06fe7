"""Steps templates and what steps and DAG tasks share: `when`, arguments, loops, parallelism.

Node paths follow Argo: the groups of a steps node `N` are `N[0]`, `N[1]`, ..., a step of a
group is `N[0].step` and a loop child `N[0].step(0:value)`. A failed step fails its group and
the steps node unless it has a matching `continueOn`; later groups do not run.

As in Argo, the steps of a group, loop children included, start together, so a step that fails
at once does not keep its siblings from running. Only the template's `parallelism` makes
children wait for a slot, and with `failFast: true` the children still waiting when one fails
never start: they are recorded as Omitted.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from deployer.engine.workflow import leaves, scope
from deployer.engine.workflow.calls import Call, Outcome
from deployer.errors import WorkflowError
from deployer.model import run as runmodel
from deployer.model.run import NodeRecord
from deployer.model.workflow import Step, Template, Workflow

if TYPE_CHECKING:
    from deployer.engine.workflow.runner import Runner

log = logging.getLogger(__name__)


def lookup(runner: Runner, step: Step, source: Workflow) -> tuple[Template, Workflow]:
    """Find the template a step calls, in its own document or a WorkflowTemplate."""
    if step.template_ref is not None:
        ref = step.template_ref
        other = runner.options.templates.get(ref.name)
        if other is None:
            raise WorkflowError(f"step {step.name}: WorkflowTemplate {ref.name} not found")
        template = other.templates.get(ref.template)
        if template is None:
            raise WorkflowError(f"step {step.name}: template {ref.template} not in {ref.name}")
        return template, other
    template = source.templates.get(step.template or "")
    if template is None:
        raise WorkflowError(f"step {step.name}: template {step.template!r} not found")
    return template, source


def failed_unhandled(step: Step, node: NodeRecord) -> bool:
    """Return whether a finished child fails its parent, taking `continueOn` into account."""
    if node.phase not in ("Failed", "Error"):
        return False
    return step.continue_on is None or node.phase not in step.continue_on.phases


def call_step(
    runner: Runner,
    step: Step,
    *,
    call: Call,
    name: str,
    display: str,
    parent: str,
    values: Mapping[str, str],
) -> NodeRecord:
    """Run one step or task (one loop child): check `when`, resolve arguments, invoke."""
    old = runner.book.reusable(name)
    if old is not None:
        return runner.book.adopt(old, parent)
    target = step.template_ref.template if step.template_ref else step.template or ""
    if step.when:
        try:
            run_it = scope.evaluate_when(step.when, values)
        except WorkflowError as bad:
            node = runner.book.create(
                name=name, display=display, type="Skipped", template=target, parent=parent
            )
            shown = scope.shown_when(step.when, values)
            runner.book.finish(node, "Failed", f"invalid when expression {shown}: {bad}")
            return node
        if not run_it:
            node = runner.book.create(
                name=name, display=display, type="Skipped", template=target, parent=parent
            )
            shown = scope.shown_when(step.when, values)
            runner.book.finish(node, "Skipped", f"when {shown} evaluated false")
            return node
    try:
        template, source = lookup(runner, step, call.source)
        arguments = {
            p.name: _argument(runner, step, p.name, p.value, p.default, values)
            for p in step.arguments
        }
    except WorkflowError as bad:
        node = runner.book.create(
            name=name, display=display, type="Pod", template=target, parent=parent
        )
        runner.book.finish(node, "Error", str(bad))
        return node
    child = runner.invoke(
        Call(name, display, parent, template, source, arguments, call.depth + 1, call.deadline)
    )
    if step.on_exit:
        _step_exit_handler(runner, step, call=call, child=child, parent=parent, values=values)
    return child


def _argument(
    runner: Runner,
    step: Step,
    name: str,
    value: str | None,
    default: str | None,
    values: Mapping[str, str],
) -> str:
    if value is not None:
        return runner.substitute(value, values)
    if default is not None:
        return runner.substitute(default, values)
    raise WorkflowError(f"step {step.name}: argument {name} has no value")


def _step_exit_handler(
    runner: Runner,
    step: Step,
    *,
    call: Call,
    child: NodeRecord,
    parent: str,
    values: Mapping[str, str],
) -> None:
    handler = call.source.templates.get(step.on_exit or "")
    name = f"{child.name}.onExit"
    if handler is None:
        node = runner.book.create(
            name=name,
            display=f"{child.display_name}.onExit",
            type="Pod",
            template=step.on_exit or "",
            parent=parent,
        )
        runner.book.finish(
            node, "Error", f"step {step.name}: onExit template {step.on_exit!r} not found"
        )
        return
    runner.invoke(
        Call(
            name,
            f"{child.display_name}.onExit",
            parent,
            handler,
            call.source,
            {},
            call.depth + 1,
            call.deadline,
        )
    )


def expand(
    runner: Runner, step: Step, values: Mapping[str, str], base: str, display: str
) -> list[tuple[str, str, dict[str, str]]]:
    """Return (path, display name, variables) per child of a step: one, or one per loop item."""
    if not step.loops:
        return [(base, display, dict(values))]
    children = []
    for suffix, item_values in scope.expand(step, values):
        children.append((base + suffix, display + suffix, {**values, **item_values}))
    return children


def run_parallel(
    jobs: list[Callable[[], NodeRecord]],
    *,
    limit: int | None,
    stop_starting: Callable[[NodeRecord], bool],
) -> list[NodeRecord | None]:
    """Run jobs in threads, started in list order, at most `limit` at once.

    Once `stop_starting` returns True for the node of a finished job, no further job starts;
    their places in the result stay None. Without a limit every job starts before any result
    is looked at, so all of them run, as the steps of one group do in Argo. The decision is
    taken in the calling thread, one finished job at a time.
    """
    results: list[NodeRecord | None] = [None] * len(jobs)
    if len(jobs) == 1:
        results[0] = only = jobs[0]()
        stop_starting(only)
        return results
    finished: queue.Queue[int] = queue.Queue()

    def work(index: int) -> None:
        try:
            results[index] = jobs[index]()
        except Exception:  # a crash must not leave the caller waiting for this job
            log.exception("a child node crashed before it was recorded")
        finally:
            finished.put(index)

    started = running = 0
    stopped = False
    while True:
        while not stopped and started < len(jobs) and (not limit or running < limit):
            threading.Thread(target=work, args=(started,), daemon=True).start()
            started += 1
            running += 1
        if not running:
            return results
        ended = results[finished.get()]
        running -= 1
        if ended is not None and stop_starting(ended):
            stopped = True


class FailFast:
    """Template-level `failFast`: after a child fails or errors, start no further child.

    As in Argo, the field is off unless set to true, and it matters only for children that
    wait for a `parallelism` slot, because all others have started already. A child that
    fails makes the template fail even when its failure is allowed by `continueOn`.
    """

    def __init__(self, template: Template) -> None:
        self.template = template
        self.enabled = template.fail_fast is True
        self.failed: NodeRecord | None = None
        self.lock = threading.Lock()

    def stop_starting(self, node: NodeRecord) -> bool:
        """Note a finished child; return whether no further child may start."""
        if not self.enabled or node.phase not in runmodel.FAILED_PHASES:
            return False
        with self.lock:
            self.failed = self.failed or node
        return True

    def message(self) -> str:
        """Explain a failure of the template that failFast caused."""
        assert self.failed is not None
        return (
            f"child '{self.failed.display_name}' {self.failed.phase.lower()} and template "
            f"{self.template.name} sets failFast"
        )

    def omitted_message(self) -> str:
        """Explain why a child never started; a child whose job crashed has no failed sibling."""
        if self.failed is None:
            return "not started: an internal error stopped it; see the log of the run"
        return f"not started: {self.message()}"


def omit(
    runner: Runner, step: Step, *, name: str, display: str, parent: str, message: str
) -> NodeRecord:
    """Record a step, task or loop child that never started, as phase Omitted."""
    target = step.template_ref.template if step.template_ref else step.template or ""
    node = runner.book.create(
        name=name, display=display, type="Skipped", template=target, parent=parent
    )
    runner.book.finish(node, runmodel.OMITTED, message)
    return node


def run_steps(runner: Runner, node: NodeRecord, call: Call, values: dict[str, str]) -> Outcome:
    """Run the step groups of a steps template in order, the steps of a group in parallel."""
    template = call.template
    values = dict(values)
    for index, group in enumerate(template.steps):
        failed = _run_group(runner, node, call, index, group, values)
        if failed is not None:
            return failed
    return Outcome("Succeeded", outputs=leaves.declared_outputs(runner, template, values))


def _run_group(
    runner: Runner,
    node: NodeRecord,
    call: Call,
    index: int,
    group: list[Step],
    values: dict[str, str],
) -> Outcome | None:
    """Run one step group and add its steps' variables to `values`; return None unless it failed."""
    template = call.template
    group_name = f"{call.name}[{index}]"
    group_node = runner.book.create(
        name=group_name,
        display=f"[{index}]",
        type="StepGroup",
        template=template.name,
        parent=node.id,
    )
    runner.book.start(group_node)
    planned: list[tuple[Step, str, str, dict[str, str]]] = []
    try:
        for step in group:
            for path, display, child_values in expand(
                runner, step, values, f"{group_name}.{step.name}", step.name
            ):
                planned.append((step, path, display, child_values))
    except WorkflowError as bad:
        runner.book.finish(group_node, "Failed", str(bad))
        return Outcome("Failed", str(bad))

    jobs = [
        step_job(runner, step, call, path, display, group_node.id, child_values)
        for step, path, display, child_values in planned
    ]
    fail_fast = FailFast(template)
    results = run_parallel(jobs, limit=template.parallelism, stop_starting=fail_fast.stop_starting)
    finished: list[tuple[Step, NodeRecord]] = []
    for (step, path, display, _), result in zip(planned, results, strict=True):
        if result is None:
            result = omit(
                runner,
                step,
                name=path,
                display=display,
                parent=group_node.id,
                message=fail_fast.omitted_message(),
            )
        finished.append((step, result))
    for step in group:
        children = [r for s, r in finished if s is step]
        values.update(scope.node_vars("steps", step.name, children, looped=step.loops))

    failures = [r for s, r in finished if failed_unhandled(s, r)]
    if failures or fail_fast.failed is not None or runner.cancel.is_set():
        # After a stop the children failed because of it, so the stop is the message.
        message = runner.stop_message
        if fail_fast.failed is not None and not runner.cancel.is_set():
            message = fail_fast.message()
        elif failures and not runner.cancel.is_set():
            message = f"child '{failures[0].display_name}' {failures[0].phase.lower()}"
        runner.book.finish(group_node, "Failed", message)
        return Outcome("Failed", message)
    runner.book.finish(group_node, "Succeeded")
    return None


def step_job(
    runner: Runner,
    step: Step,
    call: Call,
    path: str,
    display: str,
    parent: str,
    values: dict[str, str],
) -> Callable[[], NodeRecord]:
    return lambda: call_step(
        runner, step, call=call, name=path, display=display, parent=parent, values=values
    )
