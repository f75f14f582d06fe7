"""Graphs inside a workflow: DAG task dependencies, and the templates exit handlers run.

In a dependency graph each task maps to the tasks it depends on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deployer.model.workflow import Step, Template, Workflow


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Return one dependency cycle as a closed path of task names, or [] when there is none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "active"
        path.append(node)
        for dependency in graph.get(node, ()):
            if state.get(dependency) == "active":
                start = path.index(dependency)
                return [*path[start:], dependency]
            if dependency not in state:
                found = visit(dependency)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return []

    for node in graph:
        if node not in state:
            cycle = visit(node)
            if cycle:
                # Print the cycle in run order: a dependency before the task that needs it.
                return list(reversed(cycle))
    return []


def ancestors(name: str, graph: Mapping[str, Sequence[str]]) -> set[str]:
    """Return every task that `name` depends on, directly or through other tasks."""
    found: set[str] = set()
    pending = list(graph.get(name, ()))
    while pending:
        node = pending.pop()
        if node in found or node == name:
            continue
        found.add(node)
        pending.extend(graph.get(node, ()))
    return found


def exit_handler_templates(workflow: Workflow) -> set[str]:
    """Return the names of the workflow's templates that an onExit handler may run.

    NOTE: validate allows `{{workflow.status}}` in every template returned here, even one
    that also runs outside exit handlers, where a run fails on the undefined variable.
    """
    pending = [workflow.on_exit] if workflow.on_exit else []
    for template in workflow.templates.values():
        pending.extend(call.on_exit for call in _calls(template) if call.on_exit)
    found: set[str] = set()
    while pending:
        name = pending.pop()
        callee = workflow.templates.get(name)
        if name in found or callee is None:
            continue
        found.add(name)
        pending.extend(call.template for call in _calls(callee) if call.template)
    return found


def _calls(template: Template) -> list[Step]:
    return [*(step for group in template.steps for step in group), *template.dag]
