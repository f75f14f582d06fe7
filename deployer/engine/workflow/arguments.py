"""Workflow arguments and run names: `-p NAME=VALUE` over `spec.arguments.parameters`."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping

from deployer.errors import WorkflowError
from deployer.model.workflow import Workflow


def make_run_name(workflow: Workflow) -> str:
    """Return metadata.name, or generateName followed by 5 random lowercase alphanumerics."""
    if workflow.name:
        return workflow.name
    prefix = workflow.generate_name or "run-"
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(5))


def resolve_arguments(workflow: Workflow, given: Mapping[str, str]) -> dict[str, str]:
    """Merge `-p` values over `spec.arguments.parameters`; unknown or missing names raise."""
    declared = {p.name: p for p in workflow.arguments}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(declared) or "none"
        raise WorkflowError(
            f"{workflow.source_file}: unknown workflow parameter(s) {', '.join(unknown)}; "
            f"declared: {names}"
        )
    values = {}
    for name, parameter in declared.items():
        value = given.get(
            name, parameter.value if parameter.value is not None else parameter.default
        )
        if value is None:
            raise WorkflowError(
                f"{workflow.source_file}: workflow parameter {name} has no value; "
                f"pass it with -p {name}=VALUE"
            )
        if parameter.enum and value not in parameter.enum:
            raise WorkflowError(
                f"{workflow.source_file}: workflow parameter {name}={value!r} is not one of "
                f"{', '.join(parameter.enum)}"
            )
        values[name] = str(value)
    return values
