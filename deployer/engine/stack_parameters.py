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

from deployer.engine.stack import Stack, StackWorkflow, load_stack_workflows
from deployer.errors import InputError
from deployer.model.workflow import Workflow


def with_overrides(stack: Stack, overrides: Mapping[str, str]) -> Stack:
    """Return the stack with command-line parameters over its parameter layers.

    `ENTRY.NAME` sets NAME in that one workflow entry. A plain `NAME` sets NAME in every
    workflow that declares it, and raises InputError when the stack file gives those
    workflows different values for it, because one value would erase that difference.
    Raises InputError for a name that no workflow of the stack (or of the entry) declares.
    """
    if not overrides:
        return stack
    loaded = list(zip(stack.workflows, load_stack_workflows(stack), strict=True))
    labels = {entry.label: index for index, (entry, _) in enumerate(loaded)}
    declared = {p.name for _, workflow in loaded for p in workflow.arguments}
    plain: dict[str, str] = {}
    scoped: dict[int, dict[str, str]] = {}
    for key, value in overrides.items():
        label, dot, name = key.rpartition(".")
        if dot and label in labels and key not in declared:
            entry, workflow = loaded[labels[label]]
            _check_declared(stack, entry, workflow, name)
            scoped.setdefault(labels[label], {})[name] = value
        elif key in declared:
            _check_unambiguous(stack, loaded, key)
            plain[key] = value
        else:
            raise InputError(
                _undeclared_message(stack, key, declared, labels), file=str(stack.file)
            )
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
    return replace(stack, parameters={**stack.parameters, **plain}, workflows=entries)


def _check_declared(stack: Stack, entry: StackWorkflow, workflow: Workflow, name: str) -> None:
    declared = sorted(p.name for p in workflow.arguments)
    if name not in declared:
        raise InputError(
            f"-p {entry.label}.{name}: workflow {entry.file.name} declares no parameter "
            f"{name}; it declares {', '.join(declared) or 'none'}",
            file=str(stack.file),
        )


def _check_unambiguous(
    stack: Stack, loaded: Sequence[tuple[StackWorkflow, Workflow]], name: str
) -> None:
    """Raise InputError when the stack gives the workflows that declare `name` different values."""
    values = {
        entry.label: effective_parameters(stack, entry, workflow)[name]
        for entry, workflow in loaded
        if workflow.argument(name) is not None
    }
    if len(set(values.values())) < 2:
        return
    given = ", ".join(f"{label}: {value}" for label, value in values.items())
    first = next(iter(values))
    raise InputError(
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
        f"declared: {', '.join(sorted(declared))}"
    )


def resolve_parameters(stack: Stack, entry: StackWorkflow, workflow: Workflow) -> dict[str, str]:
    """Return the parameters to submit the workflow with: stack layer, then entry layer.

    Workflow defaults are left to the runner. Raises InputError when the entry sets a
    parameter the workflow does not declare.
    """
    declared = {parameter.name for parameter in workflow.arguments}
    unknown = sorted(set(entry.parameters) - declared)
    if unknown:
        raise InputError(
            f"workflow {entry.file.name} declares no parameter {', '.join(unknown)}; "
            f"it declares {', '.join(sorted(declared)) or 'none'}",
            file=str(stack.file),
            line=entry.key_lines.get(f"parameters.{unknown[0]}", entry.line) or None,
        )
    resolved = {name: value for name, value in stack.parameters.items() if name in declared}
    resolved.update(entry.parameters)
    return resolved


def effective_parameters(stack: Stack, entry: StackWorkflow, workflow: Workflow) -> dict[str, str]:
    """Return every parameter's final value: workflow defaults under the stack's layers."""
    values = {
        p.name: p.value if p.value is not None else (p.default or "") for p in workflow.arguments
    }
    values.update(resolve_parameters(stack, entry, workflow))
    return values
