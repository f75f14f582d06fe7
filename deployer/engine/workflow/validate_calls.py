"""Shared state of one validate() run, and the checks of a step's or task's call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deployer.engine.workflow.expressions import parse_when
from deployer.engine.workflow.validate_names import Names, strings_of, undefined_reasons
from deployer.engine.workflow.variables import Scope, expand_items
from deployer.errors import WorkflowError
from deployer.model.workflow import Parameter, Step, Template, Workflow


@dataclass
class Checker:
    """The problems found so far and the templates still to check."""

    root: Workflow
    templates: Mapping[str, Workflow]
    problems: list[str] = field(default_factory=list)
    queue: list[tuple[Workflow, Template]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    exit_templates: set[str] = field(default_factory=set)
    # The run's workflow parameters by name; None for a value known only at run time.
    workflow_values: Mapping[str, str | None] = field(default_factory=dict)

    def report(self, owner: Workflow, line: int | None, where: str, message: str) -> None:
        place = f"{owner.source_file}:{line}" if line is not None else owner.source_file
        self.problems.append(f"{place}: {where}: {message}")

    def enqueue(self, owner: Workflow, template: Template) -> None:
        key = (owner.source_file + "#" + owner.kind + "/" + owner.name, template.name)
        if key not in self.seen:
            self.seen.add(key)
            self.queue.append((owner, template))

    def callee(self, owner: Workflow, call: Step, where: str) -> Template | None:
        """Find the template a step or task calls, reporting it when it does not exist."""
        if call.template_ref is not None:
            ref = call.template_ref
            holder = self.templates.get(ref.name)
            if holder is None:
                known = ", ".join(sorted(self.templates)) or "none found"
                self.report(
                    owner,
                    call.line,
                    where,
                    f"templateRef: WorkflowTemplate {ref.name} not found (known: {known}); "
                    "put its file next to the workflow or pass its folder",
                )
                return None
            target = holder.templates.get(ref.template)
            if target is None:
                known = ", ".join(sorted(holder.templates)) or "none"
                self.report(
                    owner,
                    call.line,
                    where,
                    f"templateRef: WorkflowTemplate {ref.name} has no template {ref.template} "
                    f"(templates: {known})",
                )
                return None
            self.enqueue(holder, target)
            return target
        target = owner.templates.get(call.template or "")
        if target is None:
            known = ", ".join(sorted(owner.templates)) or "none"
            self.report(
                owner,
                call.line,
                where,
                f"template {call.template} not found (templates: {known})",
            )
        return target


def missing_inputs(template: Template, passed: frozenset[str]) -> list[str]:
    return [
        p.name
        for p in template.inputs
        if p.value is None and p.default is None and p.name not in passed
    ]


def check_enum(
    checker: Checker,
    owner: Workflow,
    line: int | None,
    where: str,
    parameter: Parameter,
    value: str | None,
) -> None:
    if not parameter.enum or value is None or "{{" in value:
        return
    if value not in parameter.enum:
        allowed = ", ".join(parameter.enum)
        checker.report(
            owner,
            line,
            where,
            f"parameter {parameter.name} value {value!r} is not one of its enum: {allowed}",
        )


def check_call(
    checker: Checker,
    owner: Workflow,
    call: Step,
    callee: Template | None,
    where: str,
    names: Names,
) -> None:
    """Check one step or task: its arguments against the callee, its `when` and loop."""
    texts = [p.value or "" for p in call.arguments]
    if call.when is not None:
        try:
            parse_when(call.when)
        except WorkflowError as exc:
            checker.report(owner, call.line, where, str(exc))
        texts.append(call.when)
    _check_loop(checker, owner, call, where, names)

    call_names = names.with_calls(
        names.visible, names.hidden, item=call.loops, item_shapes=_item_shapes(call)
    )
    for text in texts:
        for reason in undefined_reasons(text, call_names):
            checker.report(owner, call.line, where, reason)
    if call.on_exit is not None and call.on_exit not in owner.templates:
        checker.report(owner, call.line, where, f"onExit template {call.on_exit} not found")
    if callee is not None:
        _check_arguments(checker, owner, call, callee, where)


def _check_loop(checker: Checker, owner: Workflow, call: Step, where: str, names: Names) -> None:
    """Check the loop of a call; the loop fields cannot read `{{item}}` themselves."""
    loop_names = names.with_calls(names.visible, names.hidden, item=False)
    loop_texts = [call.with_param or "", *strings_of(call.with_items or [])]
    if call.with_sequence is not None:
        sequence = call.with_sequence
        loop_texts += [
            v or "" for v in (sequence.count, sequence.start, sequence.end, sequence.format)
        ]
    for text in loop_texts:
        for reason in undefined_reasons(text, loop_names):
            checker.report(owner, call.line, where, reason)
    if call.loops and not any("{{" in text for text in loop_texts):
        # A loop written without placeholders expands the same now as at run time.
        try:
            expand_items(call, Scope())
        except WorkflowError as exc:
            reason = str(exc).removeprefix(f"step {call.name}: ")
            checker.report(owner, call.line, where, reason)


def _check_arguments(
    checker: Checker, owner: Workflow, call: Step, callee: Template, where: str
) -> None:
    inputs = {p.name: p for p in callee.inputs}
    for argument in call.arguments:
        if argument.value is None:
            checker.report(owner, call.line, where, f"argument {argument.name} has no value")
        declared = inputs.get(argument.name)
        if declared is None:
            known = ", ".join(inputs) or "none"
            checker.report(
                owner,
                call.line,
                where,
                f"template {callee.name} has no input {argument.name} (inputs: {known})",
            )
            continue
        check_enum(checker, owner, call.line, where, declared, argument.value)
    passed = frozenset(p.name for p in call.arguments)
    for missing in missing_inputs(callee, passed):
        checker.report(
            owner,
            call.line,
            where,
            f"missing argument {missing} for template {callee.name}: pass it in "
            "arguments.parameters or give the input a default",
        )


def _item_shapes(call: Step) -> tuple[frozenset[str] | None, ...] | None:
    """Return the keys of each loop item (None for an item that is not a mapping).

    Returns None when the items are known only at run time (withParam). withSequence
    items are numbers, so they count as one item that is not a mapping.
    """
    if call.with_sequence is not None:
        return (None,)
    if call.with_items is None:
        return None
    return tuple(frozenset(item) if isinstance(item, Mapping) else None for item in call.with_items)
