"""Static checks of the `{{...}}` variables a workflow reads, for validate.

A Names value describes what is defined at one place in a workflow: the template's
inputs, the workflow parameters, whether `{{retries}}` and `{{item}}` exist there, and
which steps or tasks have run before it. `undefined_reasons` returns, for a text, one
reason per placeholder that would fail at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from deployer.engine.workflow.expr_lang import expression_variables
from deployer.engine.workflow.variables import placeholders
from deployer.errors import WorkflowError
from deployer.model.workflow import Template

# Variables the runner defines for every node of a run.
WORKFLOW_VARIABLES = frozenset(
    {
        "workflow.name",
        "workflow.namespace",
        "workflow.uid",
        "workflow.creationTimestamp",
        "node.name",
    }
)
# Variables the runner defines only once the main workflow has finished.
EXIT_VARIABLES = frozenset({"workflow.status", "workflow.failures"})
# Argo variables that the runner does not define.
UNSUPPORTED_WORKFLOW_FIELDS = frozenset(
    {
        "labels",
        "annotations",
        "serviceAccountName",
        "duration",
        "mainEntrypoint",
        "priority",
        "outputs",
        "creationTimestamp",
        "scheduledTime",
    }
)
# The fields that may follow `steps.NAME.` or `tasks.NAME.` when the step or task does not
# loop, besides `outputs.parameters.X`; scope.node_vars defines them at run time.
NODE_FIELDS = frozenset({"outputs.result", "status", "exitCode", "id", "startedAt", "finishedAt"})
# The fields of a looped step or task: its status and JSON lists over its items.
LOOP_FIELDS = frozenset({"outputs.result", "outputs.parameters", "status"})
_NO_RESULT_KINDS = frozenset({"steps", "dag", "suspend", "resource"})
# The kinds whose node has an exit code: the ones that run a pod.
_EXIT_CODE_KINDS = frozenset({"container", "script"})


@dataclass(frozen=True)
class Names:
    """The variables a placeholder may refer to at one place in a workflow."""

    inputs: frozenset[str]
    workflow_parameters: frozenset[str]
    retries: bool = False
    pod: bool = False  # `{{pod.name}}` exists: container and script templates
    exit_handler: bool = False  # `{{workflow.status}}` and `{{workflow.failures}}` exist
    item: bool = False
    # Keys of each loop item, None for an item that is not a mapping. The tuple is None
    # when the items are known only at run time.
    item_shapes: tuple[frozenset[str] | None, ...] | None = None
    prefix: str = "steps"  # "steps" in a steps template, "tasks" in a DAG
    # Steps or tasks that have finished before this point, with the template each calls
    # (None when the call itself is invalid and was reported already).
    visible: Mapping[str, Template | None] = field(default_factory=dict)
    # Steps or tasks of the template that exist but are not visible here, with the reason.
    hidden: Mapping[str, str] = field(default_factory=dict)
    # Steps or tasks of the template that loop (withItems, withParam or withSequence).
    looped: frozenset[str] = frozenset()

    def with_calls(
        self,
        visible: Mapping[str, Template | None],
        hidden: Mapping[str, str],
        *,
        item: bool,
        item_shapes: tuple[frozenset[str] | None, ...] | None = None,
    ) -> Names:
        """Return these names with the given steps or tasks, and the loop item if `item`."""
        return replace(self, visible=visible, hidden=hidden, item=item, item_shapes=item_shapes)


def undefined_reasons(text: str, names: Names) -> list[str]:
    """Return one reason per placeholder of `text` that reads an undefined variable."""
    reasons: list[str] = []
    for inner in placeholders(text):
        if inner.startswith("="):
            try:
                variables = sorted(expression_variables(inner[1:]))
            except WorkflowError as exc:
                reasons.append(str(exc))
                continue
            for variable in variables:
                reason = _check(variable, names)
                if reason:
                    reasons.append(f"{reason} (in {{{{{inner}}}}})")
            continue
        reason = _check(inner, names)
        if reason:
            reasons.append(reason)
    return reasons


def strings_of(value: Any) -> list[str]:
    """Return every string inside a nested structure of mappings and lists."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for key, item in value.items() for s in (*strings_of(key), *strings_of(item))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings_of(item)]
    return []


def _check(name: str, names: Names) -> str | None:
    undefined = f"undefined variable {{{{{name}}}}}"
    head, _, rest = name.partition(".")
    if name in WORKFLOW_VARIABLES:
        return None
    if name in EXIT_VARIABLES:
        if names.exit_handler:
            return None
        return f"{undefined}: it is defined only in templates that an onExit handler runs"
    if name == "pod.name":
        return None if names.pod else f"{undefined}: only container and script templates run a pod"
    if head == "item":
        return _check_item(name, rest, names)
    if name == "retries":
        return None if names.retries else f"{undefined}: the template has no retryStrategy"
    if head == "inputs":
        return _check_group(name, rest, "parameters", names.inputs, "inputs of the template")
    if head == "workflow":
        return _check_workflow(name, rest, names)
    if head in ("steps", "tasks"):
        return _check_node(name, head, rest, names)
    return undefined


def _check_item(name: str, rest: str, names: Names) -> str | None:
    undefined = f"undefined variable {{{{{name}}}}}"
    if not names.item:
        return f"{undefined}: only a withItems/withParam/withSequence call has an item"
    if not rest or names.item_shapes is None:
        return None
    key = rest.split(".")[0]
    lacking = [
        (index, keys)
        for index, keys in enumerate(names.item_shapes)
        if keys is None or key not in keys
    ]
    if not lacking:
        return None
    if all(keys is None for keys in names.item_shapes):
        return f"{undefined}: the loop items are not mappings"
    descriptions = [_describe_item(index, keys, key) for index, keys in lacking[:3]]
    if len(lacking) > 3:
        descriptions.append(f"and {len(lacking) - 3} more")
    return f"{undefined}: " + "; ".join(descriptions)


def _describe_item(index: int, keys: frozenset[str] | None, key: str) -> str:
    if keys is None:
        return f"loop item {index} is not a mapping"
    listed = ", ".join(sorted(keys)) or "none"
    return f"loop item {index} has no key {key} (its keys: {listed})"


def _check_group(
    name: str, rest: str, group: str, known: frozenset[str], listing: str
) -> str | None:
    if rest == group:
        return None
    kind, _, key = rest.partition(".")
    if kind == "artifacts":
        return f"not supported: {{{{{name}}}}} (artifacts)"
    if kind != group or not key:
        return f"undefined variable {{{{{name}}}}}"
    if key in known:
        return None
    listed = ", ".join(sorted(known)) or "none"
    return f"undefined variable {{{{{name}}}}}; {listing}: {listed}"


def _check_workflow(name: str, rest: str, names: Names) -> str | None:
    group = rest.partition(".")[0]
    if rest == "parameters.json" and "json" not in names.workflow_parameters:
        # NOTE: Argo defines this variable (all workflow parameters as JSON), but the
        # runner does not set it yet.
        return f"not supported: {{{{{name}}}}}; deployer does not define this Argo variable yet"
    if group == "parameters" and rest != "parameters":
        return _check_group(
            name, rest, "parameters", names.workflow_parameters, "workflow parameters"
        )
    if group in UNSUPPORTED_WORKFLOW_FIELDS or rest == "parameters":
        return f"not supported: {{{{{name}}}}}; deployer does not define this Argo variable"
    return f"undefined variable {{{{{name}}}}}"


def _check_node(name: str, prefix: str, rest: str, names: Names) -> str | None:
    undefined = f"undefined variable {{{{{name}}}}}"
    node, _, node_field = rest.partition(".")
    if prefix != names.prefix:
        where = "a DAG task" if names.prefix == "tasks" else "a steps template"
        return f"{undefined}: use {{{{{names.prefix}.NAME...}}}} in {where}"
    if node in names.hidden:
        return f"{undefined}: {names.hidden[node]}"
    if node not in names.visible:
        known = ", ".join(sorted(names.visible)) or "none"
        return f"{undefined}: no {prefix[:-1]} {node} runs before this point (known: {known})"
    callee = names.visible[node]
    if node_field == "ip":
        return (
            f"not supported: {{{{{name}}}}}; deployer does not record pod IP addresses "
            "(Argo sets them for daemon steps, which deployer does not run)"
        )
    if node in names.looped:
        if node_field not in LOOP_FIELDS:
            return (
                f"{undefined}: {prefix[:-1]} {node} loops, so only its status, outputs.result "
                "and outputs.parameters (JSON lists over its items) are defined"
            )
        return _check_result(name, node_field, callee)
    if node_field == "outputs.parameters":
        return (
            f"{undefined}: only a looped {prefix[:-1]} has outputs.parameters as a whole; "
            "read one parameter as outputs.parameters.NAME"
        )
    if node_field == "exitCode" and callee is not None and callee.kind not in _EXIT_CODE_KINDS:
        return f"{undefined}: a {callee.kind} template runs no pod, so it has no exitCode"
    if node_field in NODE_FIELDS:
        return _check_result(name, node_field, callee)
    group, _, parameter = node_field.partition(".parameters.")
    if group != "outputs" or not parameter:
        return undefined
    if callee is None or callee.output(parameter) is not None:
        return None
    declared = ", ".join(p.name for p in callee.outputs.parameters) or "none"
    return (
        f"{undefined}: template {callee.name} declares no output {parameter} (outputs: {declared})"
    )


def _check_result(name: str, node_field: str, callee: Template | None) -> str | None:
    if node_field == "outputs.result" and callee is not None and callee.kind in _NO_RESULT_KINDS:
        return f"undefined variable {{{{{name}}}}}: a {callee.kind} template has no outputs.result"
    return None
