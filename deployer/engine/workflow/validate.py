"""Check a parsed workflow before it runs, reporting every problem at once.

validate finds a metadata.name or generateName that makes no valid run name, unknown
templates and templateRefs, DAG cycles (printed as a path), invalid `when` and `depends`
expressions, unknown dependencies, missing or unknown arguments, enum violations, and
`{{...}}` placeholders that read undefined variables.
Templates may call themselves: recursion is checked at run time, by depth.
"""

from __future__ import annotations

from collections.abc import Mapping

from deployer.engine.templates.render_checks import workflow_values
from deployer.engine.templates.spec_checks import template_problems

# The grammar is the runner's too: numbers of seconds, or parts such as 1m30s and 500ms.
from deployer.engine.timeouts import parse_duration
from deployer.engine.workflow.arguments import workflow_name_problem
from deployer.engine.workflow.expr_lang import expression_variables
from deployer.engine.workflow.expressions import parse_depends
from deployer.engine.workflow.graph import ancestors, exit_handler_templates, find_cycle
from deployer.engine.workflow.pods import script_flag, unsupported_interpreter
from deployer.engine.workflow.validate_calls import Checker, check_call, check_enum, missing_inputs
from deployer.engine.workflow.validate_names import Names, strings_of, undefined_reasons
from deployer.errors import InputError, WorkflowError
from deployer.model.workflow import DEPLOYER_KINDS, Parameter, Task, Template, Workflow


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
    checker = Checker(workflow, templates or {})
    checker.exit_templates = exit_handler_templates(workflow)
    checker.workflow_values = workflow_values(workflow.arguments, parameters or {})
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
    checker: Checker, workflow: Workflow, parameters: Mapping[str, str] | None
) -> None:
    where = f"{workflow.kind} {workflow.display_name}"
    name_problem = workflow_name_problem(workflow)
    if name_problem:
        checker.report(workflow, workflow.line, where, name_problem)
    if isinstance(workflow.active_deadline_seconds, str):
        # The runner starts the workflow's deadline timer before any substitution.
        checker.report(
            workflow,
            workflow.line,
            where,
            "not supported: a placeholder in spec.activeDeadlineSeconds; give a number of seconds",
        )
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
        check_enum(checker, workflow, workflow.line, where, argument, value)
    _check_entry_templates(checker, workflow, where)


def _check_entry_templates(checker: Checker, workflow: Workflow, where: str) -> None:
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
        for missing in missing_inputs(template, supplied):
            checker.report(
                workflow,
                template.line,
                f"template {name}",
                f"missing argument {missing}: the {role} template needs it; add it to "
                "spec.arguments.parameters or give the input a default",
            )


def _base_names(checker: Checker, owner: Workflow, template: Template) -> Names:
    # A run defines the parameters of the workflow it runs, also in templateRef callees.
    parameters = {p.name for p in checker.root.arguments}
    calls = [*(step for group in template.steps for step in group), *template.dag]
    return Names(
        inputs=frozenset(p.name for p in template.inputs),
        workflow_parameters=frozenset(parameters),
        retries=template.retry_strategy is not None,
        pod=template.kind in ("container", "script"),
        exit_handler=owner is checker.root and template.name in checker.exit_templates,
        prefix="tasks" if template.kind == "dag" else "steps",
        looped=frozenset(call.name for call in calls if call.loops),
    )


def _check_template(checker: Checker, owner: Workflow, template: Template) -> None:
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
    _check_durations(checker, owner, template, where)
    # The kind's own fields, value types and local paths: see deployer.engine.templates.
    problems = template_problems(
        template, source_file=owner.source_file, workflow_parameters=checker.workflow_values
    )
    for problem in problems:
        checker.report(owner, problem.line, where, problem.message)
    if template.kind == "script":
        _check_script_command(checker, owner, template, where)
    if template.kind == "steps":
        calls = _check_steps(checker, owner, template, names)
    elif template.kind == "dag":
        calls = _check_dag(checker, owner, template, names)
    else:
        calls = {}
    output_names = names.with_calls(calls, {}, item=False)
    _check_inputs(checker, owner, template, names)
    for output in template.outputs.parameters:
        _check_output_source(checker, owner, template, output)
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


def _check_script_command(
    checker: Checker, owner: Workflow, template: Template, where: str
) -> None:
    """Report a script whose interpreter the runner cannot pass the `source` to."""
    raw = template.body.get("command") or ["sh"]
    if not isinstance(raw, list):
        return  # The field checks report a command that is not a list.
    command = [str(part) for part in raw]
    if any("{{" in part for part in command):
        return  # Known only after substitution, so the runner checks it.
    if script_flag(command) is None:
        checker.report(owner, template.line, where, unsupported_interpreter(command))


def _check_inputs(checker: Checker, owner: Workflow, template: Template, names: Names) -> None:
    """Check the enums and placeholders of a template's input `value` and `default`.

    The runner resolves these with the workflow's variables only, before the template's own
    variables exist, so an input value cannot read other inputs, steps or `{{item}}`.
    """
    where = f"template {template.name}"
    input_names = Names(
        inputs=frozenset(),
        workflow_parameters=names.workflow_parameters,
        exit_handler=names.exit_handler,
    )
    for parameter in template.inputs:
        value = parameter.value if parameter.value is not None else parameter.default
        check_enum(checker, owner, template.line, where, parameter, value)
        for key, text in (("value", parameter.value), ("default", parameter.default)):
            for reason in undefined_reasons(text or "", input_names):
                checker.report(
                    owner, template.line, f"{where} input {parameter.name} {key}", reason
                )


# The variables `retryStrategy.expression` may read about the attempt that just ended.
LAST_RETRY_VARIABLES = frozenset(
    {"lastRetry.exitCode", "lastRetry.status", "lastRetry.duration", "lastRetry.message"}
)

# Output sources that only some template kinds can read; the rest work for any kind.
_OUTPUT_SOURCE_KINDS = {
    "path": frozenset({"container", "script", *DEPLOYER_KINDS}),
    "jsonPath": frozenset({"resource", *DEPLOYER_KINDS}),
    "object": DEPLOYER_KINDS,
}


def _check_output_source(
    checker: Checker, owner: Workflow, template: Template, output: Parameter
) -> None:
    where = f"template {template.name} output {output.name}"
    source = output.value_from
    if source is None:
        if output.value is None:
            checker.report(owner, template.line, where, "set valueFrom or value")
        return
    sources = {"path": source.path, "jsonPath": source.json_path, "object": source.object}
    for field_name, kinds in _OUTPUT_SOURCE_KINDS.items():
        if sources[field_name] is not None and template.kind not in kinds:
            argo_kinds = [k for k in kinds if k not in DEPLOYER_KINDS]
            allowed = ", ".join(sorted(argo_kinds or kinds))
            checker.report(
                owner,
                template.line,
                where,
                f"valueFrom.{field_name} works only in {allowed} templates, not {template.kind}",
            )


def _check_retry_strategy(
    checker: Checker, owner: Workflow, template: Template, where: str
) -> None:
    strategy = template.retry_strategy
    if strategy is None:
        return
    # The runner resolves limit and expression with the workflow's variables only.
    workflow_names = Names(
        inputs=frozenset(), workflow_parameters=frozenset(p.name for p in checker.root.arguments)
    )
    if isinstance(strategy.limit, str):
        for reason in undefined_reasons(strategy.limit, workflow_names):
            checker.report(owner, template.line, f"{where} retryStrategy.limit", reason)
    if strategy.expression is None:
        return
    try:
        variables = expression_variables(strategy.expression)
    except WorkflowError as exc:
        checker.report(owner, template.line, f"{where} retryStrategy.expression", str(exc))
        return
    for variable in sorted(variables - LAST_RETRY_VARIABLES):
        for reason in undefined_reasons("{{" + variable + "}}", workflow_names):
            checker.report(owner, template.line, f"{where} retryStrategy.expression", reason)


def _check_durations(checker: Checker, owner: Workflow, template: Template, where: str) -> None:
    backoff = template.retry_strategy.backoff if template.retry_strategy else None
    fields = {
        "timeout": template.timeout,
        "suspend.duration": template.suspend_duration,
        "retryStrategy.backoff.duration": backoff.duration if backoff else None,
        "retryStrategy.backoff.maxDuration": backoff.max_duration if backoff else None,
    }
    for name, text in fields.items():
        if text is None:
            continue
        if "{{" in text:
            # The runner substitutes timeout and suspend.duration, but reads backoff as written.
            if name.startswith("retryStrategy."):
                checker.report(
                    owner,
                    template.line,
                    where,
                    f"not supported: a placeholder in {name}; write a duration such as 30s",
                )
            continue
        try:
            parse_duration(text)
        except InputError:
            checker.report(
                owner,
                template.line,
                where,
                f"{name}: invalid duration {text!r}; use a form like 30s, 5m or 1h30m",
            )


def _check_steps(
    checker: Checker, owner: Workflow, template: Template, names: Names
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
            check_call(checker, owner, step, results[step.name], where, group_names)
        finished.update(results)
    return finished


def _check_dag(
    checker: Checker, owner: Workflow, template: Template, names: Names
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
        check_call(checker, owner, task, callees[name], where, task_names)
    return callees


def _task_dependencies(
    checker: Checker, owner: Workflow, template: Template, task: Task, tasks: Mapping[str, Task]
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
