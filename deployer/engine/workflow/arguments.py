"""Workflow arguments and run names: `-p NAME=VALUE` over `spec.arguments.parameters`."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping

from deployer.errors import WorkflowError
from deployer.model.workflow import Workflow

# A run's name is the name of its record ConfigMap, so it must be a DNS subdomain name
# (RFC 1123: lowercase letters, digits, `-` and `.`, starting and ending with a letter or
# digit). It is also the value of the `deployer.dev/run` label on the run's pods, and label
# values have at most 63 characters.
RUN_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_RUN_NAME_CHARS = 63
GENERATED_SUFFIX_CHARS = 5
# The text after a generateName prefix, checked in place of the random characters.
_SAMPLE_SUFFIX = "a" * GENERATED_SUFFIX_CHARS


def make_run_name(workflow: Workflow) -> str:
    """Return a new run name for a workflow.

    That is metadata.name, or generateName followed by 5 random lowercase alphanumerics. A
    WorkflowTemplate run directly gets `NAME-` and 5 characters, as Argo names a Workflow
    submitted from a WorkflowTemplate, so that it can run more than once.
    """
    if workflow.name and workflow.kind == "Workflow":
        return workflow.name
    prefix = workflow.generate_name or (f"{workflow.name}-" if workflow.name else "run-")
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(GENERATED_SUFFIX_CHARS))


def run_name_problem(name: str) -> str | None:
    """Return why `name` cannot name a run, or None when it can."""
    if len(name) > MAX_RUN_NAME_CHARS:
        return (
            f"is {len(name)} characters long; a run name has at most {MAX_RUN_NAME_CHARS}, "
            "because it is the value of the deployer.dev/run label on the run's pods"
        )
    if not RUN_NAME.fullmatch(name):
        return (
            "is not a valid run name: use lowercase letters, digits, '-' and '.', starting "
            "and ending with a letter or digit (an RFC 1123 subdomain name, because it names "
            "the run's record ConfigMap)"
        )
    return None


def workflow_name_problem(workflow: Workflow) -> str | None:
    """Return why a Workflow's metadata.name or generateName cannot make a run name, or None."""
    if workflow.kind != "Workflow":
        # A WorkflowTemplate's runs are named NAME- plus 5 characters.
        problem = workflow.name and run_name_problem(f"{workflow.name}-{_SAMPLE_SUFFIX}")
        if not problem:
            return None
        return f"metadata.name {workflow.name!r} leaves no valid run name: the run name {problem}"
    if workflow.name:
        problem = run_name_problem(workflow.name)
        return f"metadata.name {workflow.name!r} {problem}" if problem else None
    if workflow.generate_name:
        problem = run_name_problem(workflow.generate_name + _SAMPLE_SUFFIX)
        if problem:
            return (
                f"metadata.generateName {workflow.generate_name!r} leaves no valid run name "
                f"(the prefix plus {GENERATED_SUFFIX_CHARS} random characters): the run name "
                f"{problem}"
            )
    return None


def check_run_name(name: str) -> None:
    """Raise WorkflowError when `name` cannot name a run."""
    problem = run_name_problem(name)
    if problem:
        raise WorkflowError(f"run name {name!r} {problem}")


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
