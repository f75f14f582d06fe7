"""Parameters of the workflows of a stack: each workflow's layers and `-p` overrides.

Parameter layering for one workflow, lowest first:
1. the workflow's own argument defaults;
2. `spec.parameters` of the stack, only the names the workflow declares, so one stack
   parameter can feed several workflows;
3. the entry's `parameters`, each of which the workflow must declare;
4. `-p NAME=VALUE` and `-p ENTRY.NAME=VALUE` from the command line (`with_overrides`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from deployer.engine.stack import Stack, StackWorkflow, combine_problems
from deployer.engine.workflow.parse import load_workflow
from deployer.errors import DeployerError, InputError, WorkflowError
from deployer.model.workflow import Workflow


def with_overrides(stack: Stack, overrides: Mapping[str, str]) -> Stack:
    """Return the stack with command-line parameters over its parameter layers.

    Raises one error that lists every problem that `apply_overrides` finds.
    """
    result, problems = apply_overrides(stack, overrides)
    if problems:
        raise combine_problems(problems, file=str(stack.file))
    return result


def apply_overrides(
    stack: Stack, overrides: Mapping[str, str], *, check_names: bool = True
) -> tuple[Stack, list[DeployerError]]:
    """Return the stack with the valid command-line parameters applied, and the problems.

    `ENTRY.NAME` sets NAME in that one workflow entry. A plain `NAME` sets NAME in every
    workflow that declares it. It is a problem when the stack file gives those workflows
    different values for it, because one value would erase that difference, and so is a
    name that no workflow of the stack (or of the entry) declares. A workflow file that
    fails to parse adds its parse error to the problems, and a name that no other workflow
    declares is then not reported, since that file may declare it. Without `check_names`
    no such name is reported, for a stack that lost entries to problems of the stack file.
    """
    if not overrides:
        return stack, []
    problems: list[DeployerError] = []
    loaded: dict[int, tuple[StackWorkflow, Workflow]] = {}
    for index, entry in enumerate(stack.workflows):
        try:
            loaded[index] = (entry, load_workflow(entry.file))
        except (InputError, WorkflowError) as parse_error:
            problems.append(parse_error)
    all_parsed = check_names and not problems
    labels = {entry.label: index for index, entry in enumerate(stack.workflows)}
    declared = {p.name for _, workflow in loaded.values() for p in workflow.arguments}
    plain: dict[str, str] = {}
    scoped: dict[int, dict[str, str]] = {}
    for key, value in overrides.items():
        label, dot, name = key.rpartition(".")
        if dot and label in labels and key not in declared:
            if labels[label] not in loaded:
                continue  # its workflow file failed to parse, which is a problem already
            entry, workflow = loaded[labels[label]]
            problem = _undeclared_in_entry(stack, entry, workflow, name)
            if problem is None:
                scoped.setdefault(labels[label], {})[name] = value
        elif key in declared:
            problem = _ambiguity(stack, list(loaded.values()), key)
            if problem is None:
                plain[key] = value
        elif all_parsed:
            problem = InputError(
                _undeclared_message(stack, key, declared, labels), file=str(stack.file)
            )
        else:
            problem = None
        if problem is not None:
            problems.append(problem)
    entries = tuple(
        replace(
            entry,
            parameters={
                **entry.parameters,
                **{k: v for k, v in plain.items() if k in entry.parameters},
                **scoped.get(index, {}),
            },
        )
        for index, entry in enumerate(stack.workflows)
    )
    return replace(stack, parameters={**stack.parameters, **plain}, workflows=entries), problems


def _undeclared_in_entry(
    stack: Stack, entry: StackWorkflow, workflow: Workflow, name: str
) -> InputError | None:
    declared = sorted(p.name for p in workflow.arguments)
    if name in declared:
        return None
    return InputError(
        f"-p {entry.label}.{name}: workflow {entry.file.name} declares no parameter "
        f"{name}; it declares {', '.join(declared) or 'none'}",
        file=str(stack.file),
    )


def _ambiguity(
    stack: Stack, loaded: Sequence[tuple[StackWorkflow, Workflow]], name: str
) -> InputError | None:
    """Return the error for a name that the stack gives different values in its workflows."""
    values = {
        entry.label: _final_values(stack, entry, workflow)[name]
        for entry, workflow in loaded
        if workflow.argument(name) is not None
    }
    if len(set(values.values())) < 2:
        return None
    given = ", ".join(f"{label}: {value}" for label, value in values.items())
    first = next(iter(values))
    return InputError(
        f"-p {name} is ambiguous: stack {stack.name} gives it a different value in each "
        f"workflow ({given}). Set it for one workflow with -p ENTRY.{name}=VALUE, for "
        f"example -p {first}.{name}=VALUE",
        file=str(stack.file),
    )


def _undeclared_message(
    stack: Stack, key: str, declared: set[str], labels: Mapping[str, int]
) -> str:
    label, dot, _ = key.rpartition(".")
    if dot:
        return (
            f"-p {key}: stack {stack.name} has no workflow entry {label} and no workflow "
            f"declares parameter {key}; entries: {', '.join(labels)}"
        )
    return (
        f"no workflow of stack {stack.name} declares parameter {key}; "
        f"declared: {', '.join(sorted(declared)) or 'none'}"
    )


def resolve_parameters(stack: Stack, entry: StackWorkflow, workflow: Workflow) -> dict[str, str]:
    """Return the parameters to submit the workflow with: stack layer, then entry layer.

    Workflow defaults are left to the runner. Raises InputError when the entry sets a
    parameter the workflow does not declare.
    """
    problem = undeclared_problem(stack, entry, workflow)
    if problem is not None:
        raise problem
    return declared_parameters(stack, entry, workflow)


def declared_parameters(stack: Stack, entry: StackWorkflow, workflow: Workflow) -> dict[str, str]:
    """Return the stack layer, then the entry layer, of the parameters the workflow declares."""
    declared = {parameter.name for parameter in workflow.arguments}
    resolved = {name: value for name, value in stack.parameters.items() if name in declared}
    resolved.update((name, value) for name, value in entry.parameters.items() if name in declared)
    return resolved


def undeclared_problem(stack: Stack, entry: StackWorkflow, workflow: Workflow) -> InputError | None:
    """Return the error for entry parameters that the workflow does not declare, if any."""
    declared = {parameter.name for parameter in workflow.arguments}
    unknown = sorted(set(entry.parameters) - declared)
    if not unknown:
        return None
    return InputError(
        f"workflow {entry.file.name} declares no parameter {', '.join(unknown)}; "
        f"it declares {', '.join(sorted(declared)) or 'none'}",
        file=str(stack.file),
        line=entry.key_lines.get(f"parameters.{unknown[0]}", entry.line) or None,
    )


def effective_parameters(stack: Stack, entry: StackWorkflow, workflow: Workflow) -> dict[str, str]:
    """Return every parameter's final value: workflow defaults under the stack's layers.

    Raises InputError when the entry sets a parameter the workflow does not declare.
    """
    resolve_parameters(stack, entry, workflow)
    return _final_values(stack, entry, workflow)


def _final_values(stack: Stack, entry: StackWorkflow, workflow: Workflow) -> dict[str, str]:
    values = {
        p.name: p.value if p.value is not None else (p.default or "") for p in workflow.arguments
    }
    values.update(declared_parameters(stack, entry, workflow))
    return values
