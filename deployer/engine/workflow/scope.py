"""The runner's variables: flat dotted names to text, and the calls into the workflow language.

The runner keeps each node's variables as a plain dict (`inputs.parameters.x`,
`steps.flip.outputs.result`, `item`, `item.key`, `retries`, ...) and goes through this module
for substitution, `when`, `depends`, expressions and loop expansion.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from deployer.engine.workflow import expressions, variables
from deployer.engine.workflow.expr_lang import evaluate_expression, expression_text
from deployer.errors import WorkflowError
from deployer.model.run import NodeRecord
from deployer.model.workflow import Parameter, Step, Task


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _scope(values: Mapping[str, str]) -> variables.Scope:
    return variables.Scope(values=values)


def substitute(text: str, values: Mapping[str, str]) -> str:
    return variables.substitute(text, _scope(values))


def substitute_value(value: Any, values: Mapping[str, str]) -> Any:
    return variables.substitute_value(value, _scope(values))


def evaluate_when(expression: str, values: Mapping[str, str]) -> bool:
    """Evaluate a `when` expression; raise WorkflowError for bad syntax or unknown names."""
    try:
        return expressions.evaluate_when(expression, _scope(values).resolve)
    except KeyError as missing:
        raise WorkflowError(f"undefined variable {missing.args[0]}") from None


def shown_when(expression: str, values: Mapping[str, str]) -> str:
    """Return a `when` expression quoted for a message, with its substituted form after it.

    The substituted form is left out when it cannot be made (an undefined variable) or is
    the same text.
    """
    try:
        substituted = substitute(expression, values)
    except (WorkflowError, KeyError):
        substituted = expression
    if substituted == expression:
        return f"'{expression}'"
    return f"'{expression}' ('{substituted}')"


def evaluate(expression: str, values: Mapping[str, str]) -> str:
    """Evaluate an expr-lang expression (as in `{{=...}}`) and return its text."""
    try:
        return expression_text(evaluate_expression(expression, _scope(values).resolve))
    except KeyError as missing:
        raise WorkflowError(
            f"expression {expression!r}: undefined variable {missing.args[0]}"
        ) from None


def flatten_item(value: Any, prefix: str = "item") -> dict[str, str]:
    """Return `item` and `item.KEY...` variables for one loop item."""
    flat = {prefix: variables.item_text(value)}
    if isinstance(value, Mapping):
        for key, field in value.items():
            flat.update(flatten_item(field, f"{prefix}.{key}"))
    return flat


def expand(step: Step, values: Mapping[str, str]) -> list[tuple[str, dict[str, str]]]:
    """Return (name suffix `(INDEX:LABEL)`, item variables) for each loop item of a step."""
    items = variables.expand_items(step, _scope(values))
    return [(f"({item.index}:{item.label})", flatten_item(item.value)) for item in items]


def _depends(task: Task) -> expressions.DependsExpr | None:
    if task.depends:
        return expressions.parse_depends(task.depends)
    if task.dependencies:
        return expressions.depends_from_dependencies(task.dependencies)
    return None


def dependency_names(task: Task) -> set[str]:
    """Return the tasks that `task`'s `depends` expression reads."""
    expression = _depends(task)
    return expression.tasks() if expression else set()


def failure_handled_names(task: Task) -> set[str]:
    """Return the tasks whose failure `task`'s `depends` handles (`A.Failed` and the like)."""
    expression = _depends(task)
    return expression.failure_handled_tasks() if expression else set()


def continued_phases(tasks: Iterable[Task]) -> dict[str, frozenset[str]]:
    """Map each task with `continueOn` to the phases it allows: Failed, Error or both."""
    return {task.name: task.continue_on.phases for task in tasks if task.continue_on}


def dependencies_met(
    task: Task,
    phases: Mapping[str, str],
    child_phases: Mapping[str, Sequence[str]],
    continued: Mapping[str, frozenset[str]] | None = None,
) -> bool | None:
    """Return None while a dependency is unfinished, else whether the task should run.

    `continued` is the `continued_phases` of the DAG's tasks. A dependency that ended in a
    phase its `continueOn` allows counts as met, both in `dependencies` and as a bare name
    in `depends`.
    """
    expression = _depends(task)
    if expression is None:
        return True
    if any(name not in phases for name in expression.tasks()):
        return None
    return expression.evaluate(phases, all_children=child_phases, continued=continued)


def node_vars(
    prefix: str, name: str, children: Sequence[NodeRecord], *, looped: bool
) -> dict[str, str]:
    """Return the `steps.NAME.*` or `tasks.NAME.*` variables of a finished step or task.

    A looped step's `outputs.result` and `outputs.parameters` are JSON lists over its
    children, in item order, as in Argo.
    """
    base = f"{prefix}.{name}"
    if not children:
        return {
            f"{base}.status": "Skipped",
            f"{base}.outputs.parameters": "[]",
            f"{base}.outputs.result": "[]",
        }
    if looped:
        results = [c.result for c in children if c.result is not None]
        return {
            f"{base}.status": _aggregate_phase(children),
            f"{base}.outputs.result": to_json(results),
            f"{base}.outputs.parameters": to_json([dict(c.outputs) for c in children]),
        }
    node = children[0]
    found = {
        f"{base}.status": node.phase,
        f"{base}.id": node.id,
        f"{base}.startedAt": node.started or "",
        f"{base}.finishedAt": node.finished or "",
    }
    if node.result is not None:
        found[f"{base}.outputs.result"] = node.result
    if node.exit_code is not None:
        found[f"{base}.exitCode"] = str(node.exit_code)
    for key, value in node.outputs.items():
        found[f"{base}.outputs.parameters.{key}"] = value
    return found


def _aggregate_phase(children: Sequence[NodeRecord]) -> str:
    for phase in ("Error", "Failed"):
        if any(c.phase == phase for c in children):
            return phase
    return "Succeeded"


def parameter_dict(parameter: Parameter, substitute_text: Callable[[str], str]) -> dict[str, Any]:
    """Return an output parameter declaration in Argo's mapping form, placeholders resolved."""
    data: dict[str, Any] = {"name": parameter.name}
    if parameter.value is not None:
        data["value"] = parameter.value
    source = parameter.value_from
    if source is not None:
        value_from: dict[str, Any] = {}
        for key, text in (
            ("path", source.path),
            ("jsonPath", source.json_path),
            ("expression", source.expression),
            ("parameter", source.parameter),
            ("default", source.default),
            ("object", source.object),
        ):
            if text is not None:
                value_from[key] = substitute_text(text) if key in ("jsonPath", "object") else text
        data["valueFrom"] = value_from
    return data
