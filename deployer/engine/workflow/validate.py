"""Check a parsed workflow before it runs, reporting every problem at once.

validate finds unknown templates and templateRefs, DAG cycles (printed as a path),
invalid `when` and `depends` expressions, unknown dependencies, missing or unknown
arguments, enum violations, and `{{...}}` placeholders that read undefined variables.
Templates may call themselves: recursion is checked at run time, by depth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deployer.engine.workflow.expr_parse import parse_expression
from deployer.engine.workflow.expressions import parse_depends, parse_when
from deployer.engine.workflow.graph import ancestors, exit_handler_templates, find_cycle
from deployer.engine.workflow.validate_names import Names, strings_of, undefined_reasons
from deployer.errors import WorkflowError
from deployer.model.workflow import Parameter, Step, Task, Template, Workflow


@dataclass
class _Checker:
    root: Workflow
    templates: Mapping[str, Workflow]
    problems: list[str] = field(default_factory=list)
    queue: list[tuple[Workflow, Template]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    exit_templates: set[str] = field(default_factory=set)

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


def validate(
    workflow: Workflow,
    *,
    templates: Mapping[str, Workflow] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> None:
    """Check a workflow and every template it can reach; raise WorkflowError listing problems.

    `templates` contains the WorkflowTemplates that `templateRef` may name, keyed by name.
    `parameters` are the values given on the command line for `spec.arguments`; when
    given, unknown names and missing values are reported against them.
    """
    checker = _Checker(workflow, templates or {})
    checker.exit_templates = exit_handler_templates(workflow)
    _check_workflow_level(checker, workflow, parameters)
    for template in workflow.templates.values():
        checker.enqueue(workflow, template)
    while checker.queue:
        owner, template = checker.queue.pop(0)
        _check_template(checker, owner, template)
    if checker.problems:
        count = len(checker.problems)
        lines = "\n".join(f"  {p}" for p in checker.problems)
        name = f"{workflow.kind} {workflow.display_name}"
        raise WorkflowError(f"{name} has {count} problem(s):\n{lines}")


def _check_workflow_level(
    checker: _Checker, workflow: Workflow, parameters: Mapping[str, str] | None
) -> None:
    where = f"{workflow.kind} {workflow.display_name}"
    supplied_values = dict(parameters or {})
    for name in sorted(set(supplied_values) - {p.name for p in workflow.arguments}):
        known = ", ".join(p.name for p in workflow.arguments) or "none"
        checker.report(
            workflow, workflow.line, where, f"unknown parameter {name} (parameters: {known})"
        )
    for argument in workflow.arguments:
        value = supplied_values.get(argument.name, argument.value)
        if value is None:
            value = argument.default
        if value is None and not (argument.value_from and argument.value_from.supplied):
            checker.report(
                workflow,
                workflow.line,
                where,
                f"workflow parameter {argument.name} has no value; pass -p {argument.name}=VALUE",
            )
        _check_enum(checker, workflow, workflow.line, where, argument, value)
    _check_entry_templates(checker, workflow, where)


def _check_entry_templates(checker: _Checker, workflow: Workflow, where: str) -> None:
    supplied = frozenset(p.name for p in workflow.arguments)
    for role, name in (("entrypoint", workflow.entrypoint), ("onExit", workflow.on_exit)):
        if name is None:
            if role == "entrypoint":
                checker.report(workflow, workflow.line, where, "spec.entrypoint is missing")
            continue
        template = workflow.templates.get(name)
        if template is None:
            known = ", ".join(sorted(workflow.templates)) or "none"
            checker.report(
                workflow,
                workflow.line,
                where,
                f"{role} template {name} not found (templates: {known})",
            )
            continue
        # As in Argo, workflow arguments also fill the entrypoint's inputs of the same name.
        for missing in _missing_inputs(template, supplied):
            checker.report(
                workflow,
                template.line,
                f"template {name}",
                f"missing argument {missing}: the {role} template needs it; add it to "
                "spec.arguments.parameters or give the input a default",
            )


def _missing_inputs(template: Template, passed: frozenset[str]) -> list[str]:
    return [
        p.name
        for p in template.inputs
        if p.value is None and p.default is None and p.name not in passed
    ]


def _check_enum(
    checker: _Checker,
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


def _base_names(checker: _Checker, owner: Workflow, template: Template) -> Names:
    parameters = {p.name for p in checker.root.arguments} | {p.name for p in owner.arguments}
    return Names(
        inputs=frozenset(p.name for p in template.inputs),
        workflow_parameters=frozenset(parameters),
        retries=template.retry_strategy is not None,
        pod=template.kind in ("container", "script"),
        exit_handler=owner is checker.root and template.name in checker.exit_templates,
        prefix="tasks" if template.kind == "dag" else "steps",
    )


def _check_template(checker: _Checker, owner: Workflow, template: Template) -> None:
    where = f"template {template.name}"
    names = _base_names(checker, owner, template)
    texts = [
        *strings_of(dict(template.body)),
        *strings_of(template.sidecars),
        *template.metadata.annotations.values(),
        *template.metadata.labels.values(),
        *(str(v) for v in (template.active_deadline_seconds, template.timeout) if v is not None),
        *([template.suspend_duration] if template.suspend_duration else []),
    ]
    if template.retry_strategy is not None:
        _check_retry_strategy(checker, owner, template, where)
    if template.kind == "steps":
        calls = _check_steps(checker, owner, template, names)
    elif template.kind == "dag":
        calls = _check_dag(checker, owner, template, names)
    else:
        calls = {}
    output_names = names.with_calls(calls, {}, item=False)
    for output in template.outputs.parameters:
        source = output.value_from
        texts_of_output = [output.value or ""]
        if source is not None:
            texts_of_output += [source.parameter or "", source.default or ""]
            if source.expression:
                texts_of_output.append("{{=" + source.expression + "}}")
        for text in texts_of_output:
            for reason in undefined_reasons(text, output_names):
                checker.report(owner, template.line, f"{where} output {output.name}", reason)
    for text in texts:
        for reason in undefined_reasons(text, names):
            checker.report(owner, template.line, where, reason)


def _check_retry_strategy(
    checker: _Checker, owner: Workflow, template: Template, where: str
) -> None:
    strategy = template.retry_strategy
    if strategy is None or strategy.expression is None:
        return
    try:
        parse_expression(strategy.expression)
    except WorkflowError as exc:
        checker.report(owner, template.line, f"{where} retryStrategy.expression", str(exc))


def _check_call(
    checker: _Checker,
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
    call_names = names.with_calls(names.visible, names.hidden, item=call.loops)
    for text in texts:
        for reason in undefined_reasons(text, call_names):
            checker.report(owner, call.line, where, reason)
    if call.on_exit is not None and call.on_exit not in owner.templates:
        checker.report(owner, call.line, where, f"onExit template {call.on_exit} not found")
    if callee is not None:
        _check_arguments(checker, owner, call, callee, where)


def _check_arguments(
    checker: _Checker, owner: Workflow, call: Step, callee: Template, where: str
) -> None:
    inputs = {p.name: p for p in callee.inputs}
    for argument in call.arguments:
        if argument.value_from is not None:
            checker.report(
                owner,
                call.line,
                where,
                f"argument {argument.name}: not supported: valueFrom in arguments; use value",
            )
        elif argument.value is None:
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
        _check_enum(checker, owner, call.line, where, declared, argument.value)
    passed = frozenset(p.name for p in call.arguments)
    for missing in _missing_inputs(callee, passed):
        checker.report(
            owner,
            call.line,
            where,
            f"missing argument {missing} for template {callee.name}: pass it in "
            "arguments.parameters or give the input a default",
        )


def _check_steps(
    checker: _Checker, owner: Workflow, template: Template, names: Names
) -> dict[str, Template | None]:
    finished: dict[str, Template | None] = {}
    all_names = [step.name for group in template.steps for step in group]
    for group in template.steps:
        in_group = {step.name for step in group}
        hidden = {
            name: (
                f"step {name} runs in parallel in the same group"
                if name in in_group
                else f"step {name} runs in a later group"
            )
            for name in all_names
            if name not in finished
        }
        group_names = names.with_calls(dict(finished), hidden, item=False)
        results: dict[str, Template | None] = {}
        for step in group:
            where = f"template {template.name} step {step.name}"
            results[step.name] = checker.callee(owner, step, where)
            _check_call(checker, owner, step, results[step.name], where, group_names)
        finished.update(results)
    return finished


def _check_dag(
    checker: _Checker, owner: Workflow, template: Template, names: Names
) -> dict[str, Template | None]:
    tasks = {task.name: task for task in template.dag}
    graph = {
        name: _task_dependencies(checker, owner, template, task, tasks)
        for name, task in tasks.items()
    }
    cycle = find_cycle(graph)
    if cycle:
        checker.report(
            owner,
            template.line,
            f"template {template.name}",
            f"dependency cycle: {' -> '.join(cycle)}; remove one of these dependencies",
        )
    callees = {
        name: checker.callee(owner, task, f"template {template.name} task {name}")
        for name, task in tasks.items()
    }
    for name, task in tasks.items():
        upstream = ancestors(name, graph)
        hidden = {
            other: f"task {other} is not a dependency of task {name}; add it to depends"
            for other in tasks
            if other not in upstream
        }
        visible = {a: callees[a] for a in upstream}
        task_names = names.with_calls(visible, hidden, item=False)
        where = f"template {template.name} task {name}"
        _check_call(checker, owner, task, callees[name], where, task_names)
    return callees


def _task_dependencies(
    checker: _Checker, owner: Workflow, template: Template, task: Task, tasks: Mapping[str, Task]
) -> list[str]:
    where = f"template {template.name} task {task.name}"
    names: list[str] = list(task.dependencies)
    if task.depends is not None:
        try:
            names = sorted(parse_depends(task.depends).tasks())
        except WorkflowError as exc:
            checker.report(owner, task.line, where, str(exc))
            return []
    known = [n for n in names if n in tasks]
    for unknown in (n for n in names if n not in tasks):
        listed = ", ".join(sorted(tasks))
        checker.report(
            owner, task.line, where, f"depends on unknown task {unknown} (tasks: {listed})"
        )
    return known
