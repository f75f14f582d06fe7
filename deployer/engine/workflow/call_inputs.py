"""The inputs of one template call, resolved before it runs: its input parameters, its
variables and its deadline."""

from __future__ import annotations

from collections.abc import Mapping

from deployer.engine.timeouts import parse_duration
from deployer.engine.workflow import scope
from deployer.engine.workflow.calls import Call, deadline_after
from deployer.engine.workflow.masking import Masker, looks_secret
from deployer.errors import WorkflowError
from deployer.model.run import NodeRecord


def resolve_inputs(call: Call, workflow_vars: Mapping[str, str], masker: Masker) -> dict[str, str]:
    """Resolve a call's input parameters: argument, else the input's value, else default.

    An input's own `value` and `default` may read the workflow's variables and
    `{{node.name}}`; validate checks that they read nothing else. The value of an input
    whose name looks secret is added to `masker`.
    """
    values = {}
    known = {**workflow_vars, "node.name": call.name}
    for parameter in call.template.inputs:
        value = call.arguments.get(parameter.name)
        if value is None and parameter.value is not None:
            value = scope.substitute(parameter.value, known)
        if value is None and parameter.default is not None:
            value = scope.substitute(parameter.default, known)
        if value is None:
            raise WorkflowError(
                f"template {call.template.name}: input parameter {parameter.name} has no value"
            )
        if parameter.enum and value not in parameter.enum:
            raise WorkflowError(
                f"template {call.template.name}: input {parameter.name}={value!r} is not one "
                f"of {', '.join(parameter.enum)}"
            )
        if looks_secret(parameter.name):
            masker.add(value)
        values[parameter.name] = value
    return values


def template_vars(
    workflow_vars: Mapping[str, str],
    node: NodeRecord,
    inputs: Mapping[str, str],
    retries: int | None,
) -> dict[str, str]:
    """Return the variables of one attempt: the workflow's, its inputs, `node.name`, `retries`."""
    values = dict(workflow_vars)
    for key, value in inputs.items():
        values[f"inputs.parameters.{key}"] = value
    values["inputs.parameters"] = scope.to_json(
        [{"name": k, "value": v} for k, v in inputs.items()]
    )
    values["node.name"] = node.name
    if retries is not None:
        values["retries"] = str(retries)
    return values


def with_deadline(call: Call, values: Mapping[str, str]) -> Call:
    """Return the call with its deadline moved up to the template's time limit, if that is earlier.

    The limit is the smaller of `activeDeadlineSeconds` and `timeout`, counted from now.
    """
    template = call.template
    seconds: float | None = None
    if template.active_deadline_seconds not in (None, ""):
        text = scope.substitute(str(template.active_deadline_seconds), values)
        seconds = parse_duration(text, what=f"template {template.name} activeDeadlineSeconds")
    if template.timeout:
        text = scope.substitute(template.timeout, values)
        timeout = parse_duration(text, what=f"template {template.name} timeout")
        seconds = timeout if seconds is None else min(seconds, timeout)
    deadline = deadline_after(seconds, call.deadline)
    return Call(
        call.name,
        call.display,
        call.parent,
        template,
        call.source,
        call.arguments,
        call.depth,
        deadline,
    )
