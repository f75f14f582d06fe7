"""Dependency graphs of DAG tasks: cycles and ancestors. Each task maps to its dependencies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


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
