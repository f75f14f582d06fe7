"""Stacks: environment definitions that run a list of workflows in order.

A stack file (`apiVersion: deployer.dev/v1alpha1`, `kind: Stack`; see docs/stacks.md)
names workflow files, the parameters each one gets and optionally a kubeconfig context.
This module loads and checks stack files and resolves each workflow's parameters; it does
no cluster I/O. `deployer.engine.stack_run` carries a loaded stack out on a cluster.

Parameter layering for one workflow, lowest first:
1. the workflow's own argument defaults;
2. `spec.parameters` of the stack, only the names the workflow declares, so one stack
   parameter can feed several workflows;
3. the entry's `parameters`, each of which the workflow must declare;
4. `-p NAME=VALUE` from the command line (`with_overrides`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deployer.engine.workflow.parse import load_workflow
from deployer.errors import InputError
from deployer.model.workflow import Workflow
from deployer.sources.documents import iter_documents, mapping_value, node_line, sequence_items

API_VERSION = "deployer.dev/v1alpha1"
KIND = "Stack"
STACK_SUFFIXES = (".yaml", ".yml")

_TOP_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec"})
_SPEC_KEYS = frozenset({"description", "context", "parameters", "workflows"})
_ENTRY_KEYS = frozenset({"file", "parameters"})


@dataclass(frozen=True)
class StackWorkflow:
    """One workflow of a stack: its file and the parameters the stack gives it."""

    file: Path  # absolute path of the workflow file
    parameters: Mapping[str, str]  # the entry's own parameters, as written
    line: int = 0  # line of the entry in the stack file


@dataclass(frozen=True)
class Stack:
    """A loaded stack file."""

    name: str
    file: Path
    description: str = ""
    context: str | None = None  # kubeconfig context; None means the current context
    parameters: Mapping[str, str] = field(default_factory=dict)
    workflows: tuple[StackWorkflow, ...] = ()


def find_stack(name_or_path: str, *, stacks_dirs: Sequence[Path]) -> Path:
    """Return the stack file for a path, or for a name looked up as `<dir>/<name>.yaml`.

    Raises InputError listing every place searched when nothing matches.
    """
    given = Path(name_or_path)
    if given.is_file():
        return given.resolve()
    searched = [str(given.absolute())]
    for folder in stacks_dirs:
        for suffix in STACK_SUFFIXES:
            candidate = folder / f"{name_or_path}{suffix}"
            if candidate.is_file():
                return candidate.resolve()
            searched.append(str(candidate.absolute()))
    missing = [str(folder.absolute()) for folder in stacks_dirs if not folder.is_dir()]
    note = f" (no such folder: {', '.join(missing)})" if missing else ""
    raise InputError(
        f"stack {name_or_path!r} not found: searched {', '.join(searched)}{note}. "
        "Run from the folder that contains stacks/ (the deployer checkout), pass "
        "--stacks-dir with the folder of stack files, or give the stack file's path."
    )


def load_stack(path: Path) -> Stack:
    """Read and check a stack file; workflow paths resolve against the file's folder."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read stack file: {error.strerror}", file=file) from error
    documents = [doc for doc in iter_documents(text, file=file) if doc.data is not None]
    if len(documents) != 1:
        raise InputError(
            f"a stack file must contain exactly one document, found {len(documents)}", file=file
        )
    data = documents[0].data
    line = documents[0].line
    if not isinstance(data, Mapping):
        raise InputError("a stack document must be a mapping", file=file, line=line)
    _check_header(data, file=file, line=line)

    spec = _mapping(data.get("spec"), "spec", file=file, line=line)
    _check_keys(spec, _SPEC_KEYS, "spec", file=file, line=line)
    metadata = _mapping(data.get("metadata"), "metadata", file=file, line=line)
    name = str(metadata.get("name") or path.stem)

    entries = spec.get("workflows")
    if not isinstance(entries, list) or not entries:
        raise InputError("spec.workflows must be a non-empty list", file=file, line=line)
    entry_nodes = sequence_items(
        mapping_value(mapping_value(documents[0].node, "spec"), "workflows")
    )
    entry_lines = [node_line(node) for node in entry_nodes]
    workflows = tuple(
        _read_entry(
            entry,
            index,
            base_dir=path.parent,
            file=file,
            line=entry_lines[index] if index < len(entry_lines) else line,
        )
        for index, entry in enumerate(entries)
    )

    context = spec.get("context")
    return Stack(
        name=name,
        file=path,
        description=str(spec.get("description") or ""),
        context=str(context) if context else None,
        parameters=_string_map(spec.get("parameters"), "spec.parameters", file=file, line=line),
        workflows=workflows,
    )


def load_stack_workflows(stack: Stack) -> list[Workflow]:
    """Parse every workflow file of a stack, in stack order."""
    return [load_workflow(entry.file) for entry in stack.workflows]


def with_overrides(stack: Stack, overrides: Mapping[str, str]) -> Stack:
    """Return the stack with command-line parameters over both of its parameter layers.

    Raises InputError for a name that no workflow of the stack declares.
    """
    if not overrides:
        return stack
    declared = {p.name for workflow in load_stack_workflows(stack) for p in workflow.arguments}
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise InputError(
            f"no workflow of stack {stack.name} declares parameter {', '.join(unknown)}; "
            f"declared: {', '.join(sorted(declared))}",
            file=str(stack.file),
        )
    entries = tuple(
        replace(
            entry,
            parameters={
                **entry.parameters,
                **{k: v for k, v in overrides.items() if k in entry.parameters},
            },
        )
        for entry in stack.workflows
    )
    return replace(stack, parameters={**stack.parameters, **overrides}, workflows=entries)


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
            line=entry.line or None,
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


def _check_header(data: Mapping[str, Any], *, file: str, line: int) -> None:
    _check_keys(data, _TOP_KEYS, "", file=file, line=line)
    if data.get("apiVersion") != API_VERSION or data.get("kind") != KIND:
        raise InputError(
            f"not a stack: expected apiVersion {API_VERSION} and kind {KIND}, "
            f"got {data.get('apiVersion')!r} and {data.get('kind')!r}",
            file=file,
            line=line,
        )


def _read_entry(entry: Any, index: int, *, base_dir: Path, file: str, line: int) -> StackWorkflow:
    where = f"spec.workflows[{index}]"
    body = _mapping(entry, where, file=file, line=line)
    _check_keys(body, _ENTRY_KEYS, where, file=file, line=line)
    workflow_file = body.get("file")
    if not isinstance(workflow_file, str) or not workflow_file:
        raise InputError(f"{where}.file is missing", file=file, line=line)
    resolved = (base_dir / workflow_file).resolve()
    if not resolved.is_file():
        raise InputError(f"{where}.file: workflow file not found: {resolved}", file=file, line=line)
    parameters = _string_map(body.get("parameters"), f"{where}.parameters", file=file, line=line)
    return StackWorkflow(file=resolved, parameters=parameters, line=line)


def _check_keys(
    data: Mapping[str, Any], known: frozenset[str], where: str, *, file: str, line: int
) -> None:
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        prefix = f"{where}." if where else ""
        raise InputError(
            f"not supported: {', '.join(prefix + key for key in unknown)}; "
            f"supported fields are {', '.join(sorted(known))}",
            file=file,
            line=line,
        )


def _mapping(value: Any, where: str, *, file: str, line: int) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{where} must be a mapping", file=file, line=line)
    return value


def _string_map(value: Any, where: str, *, file: str, line: int) -> dict[str, str]:
    mapping = _mapping(value, where, file=file, line=line)
    result: dict[str, str] = {}
    for key, item in mapping.items():
        if isinstance(item, bool | dict | list) or item is None:
            raise InputError(
                f'{where}.{key} must be a string (quote values such as "true"), got {item!r}',
                file=file,
                line=line,
            )
        result[str(key)] = str(item)
    return result
