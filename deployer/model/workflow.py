"""Workflows in Argo Workflows' `argoproj.io/v1alpha1` form, as plain data.

The parser (`deployer.engine.workflow.parse`) builds these from `Workflow` and
`WorkflowTemplate` documents. Field names follow Argo's, in snake_case. Values that Argo
types as strings-or-numbers (`value`, `limit`, `activeDeadlineSeconds`, ...) are kept as
text when they contain a `{{...}}` placeholder, because only the runner can resolve them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TemplateKindName = Literal[
    "container",
    "script",
    "resource",
    "steps",
    "dag",
    "suspend",
    "manifests",
    "helm",
    "jsonnet",
    "fixture",
]

# The template keys that choose a template's kind; exactly one must be present.
TEMPLATE_KINDS: tuple[TemplateKindName, ...] = (
    "container",
    "script",
    "resource",
    "steps",
    "dag",
    "suspend",
    "manifests",
    "helm",
    "jsonnet",
    "fixture",
)

# The kinds that deployer adds to Argo's; their bodies go to deployer.engine.templates.
DEPLOYER_KINDS: frozenset[str] = frozenset({"manifests", "helm", "jsonnet", "fixture"})


@dataclass(frozen=True, kw_only=True)
class ValueFrom:
    """The source of a parameter's value when it is not given inline."""

    path: str | None = None  # a file in the main container (output parameters)
    json_path: str | None = None  # a JSONPath into a resource template's object
    # For deployer kinds: which deployed object json_path reads, as `Kind/name` or
    # `Kind/namespace/name`; a deployer extension of Argo's schema.
    object: str | None = None
    expression: str | None = None  # an expr-lang expression, as in `{{=...}}`
    parameter: str | None = None  # a `{{steps...}}` / `{{tasks...}}` reference
    default: str | None = None  # used when the source above yields nothing
    supplied: bool = False  # the value is supplied later, by `deployer resume`


@dataclass(frozen=True, kw_only=True)
class Parameter:
    """One input, output or argument parameter; scalar YAML values are kept as text."""

    name: str
    value: str | None = None
    default: str | None = None
    enum: list[str] = field(default_factory=list)
    value_from: ValueFrom | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class Outputs:
    """A template's declared output parameters; `outputs.result` is set only at run time."""

    parameters: list[Parameter] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Delay between retries: `duration` grows by `factor` up to `max_duration`."""

    duration: str | None = None  # Argo duration text such as "10s", "1m" or "5" (seconds)
    factor: float | None = None
    max_duration: str | None = None


@dataclass(frozen=True, kw_only=True)
class RetryStrategy:
    """How often and when a failed node is run again."""

    limit: int | str | None = None  # None means retry without limit; str contains a placeholder
    retry_policy: str = "OnFailure"  # Always, OnFailure, OnError or OnTransientError
    backoff: Backoff | None = None
    # expr-lang; may read lastRetry.exitCode, .status, .duration and .message
    expression: str | None = None


@dataclass(frozen=True, kw_only=True)
class TemplateRef:
    """A reference to template `template` of the WorkflowTemplate named `name`."""

    name: str
    template: str


@dataclass(frozen=True, kw_only=True)
class WithSequence:
    """A numeric loop: `count` items from `start`, or `start` to `end` inclusive."""

    count: str | None = None
    start: str | None = None
    end: str | None = None
    format: str | None = None  # printf-style, such as "test-%02d"


@dataclass(frozen=True, kw_only=True)
class ContinueOn:
    """Whether the caller continues when this node fails or errors."""

    failed: bool = False
    error: bool = False

    @property
    def phases(self) -> frozenset[str]:
        """The failure phases (Failed, Error) after which the caller continues."""
        phases = set()
        if self.failed:
            phases.add("Failed")
        if self.error:
            phases.add("Error")
        return frozenset(phases)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One call of a template from a `steps` group.

    Exactly one of `template` and `template_ref` is set. At most one of `with_items`,
    `with_param` and `with_sequence` is set; `with_items` keeps the YAML values as
    written (strings, numbers, booleans, mappings, lists).
    """

    name: str
    template: str | None = None
    template_ref: TemplateRef | None = None
    arguments: list[Parameter] = field(default_factory=list)
    when: str | None = None
    with_items: list[Any] | None = None
    with_param: str | None = None
    with_sequence: WithSequence | None = None
    continue_on: ContinueOn | None = None
    on_exit: str | None = None
    line: int | None = None  # line of the step in the source file

    @property
    def target(self) -> str:
        """Name the called template, as `template` or `WorkflowTemplate/template`."""
        if self.template_ref is not None:
            return f"{self.template_ref.name}/{self.template_ref.template}"
        return self.template or ""

    @property
    def loops(self) -> bool:
        """Whether the call expands into one child per item."""
        return (
            self.with_items is not None
            or self.with_param is not None
            or self.with_sequence is not None
        )


@dataclass(frozen=True, kw_only=True)
class Task(Step):
    """One task of a `dag` template: a step plus what it depends on.

    `dependencies` lists tasks that must all succeed; `depends` is an expression such as
    `A.Succeeded || B.Failed` (see deployer.engine.workflow.expressions.parse_depends).
    At most one of the two is set.
    """

    dependencies: list[str] = field(default_factory=list)
    depends: str | None = None


@dataclass(frozen=True, kw_only=True)
class Metadata:
    """Labels and annotations for the pods (or objects) of a template."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Template:
    """One entry of `spec.templates`.

    `body` is the raw mapping of the kind-specific key: the container for `container`,
    the script (container fields plus `source`) for `script`, the resource spec for
    `resource`, the suspend spec for `suspend`, and the deployer kinds' mappings as
    written. Steps and DAGs are parsed into `steps` and `dag` and have an empty body.
    """

    name: str
    kind: TemplateKindName
    inputs: list[Parameter] = field(default_factory=list)
    outputs: Outputs = field(default_factory=Outputs)
    body: Mapping[str, Any] = field(default_factory=dict)
    steps: list[list[Step]] = field(default_factory=list)
    dag: list[Task] = field(default_factory=list)
    dag_fail_fast: bool = True  # Argo's DAG default: stop scheduling after a failure
    suspend_duration: str | None = None  # None: wait for `deployer resume`
    retry_strategy: RetryStrategy | None = None
    active_deadline_seconds: int | str | None = None
    timeout: str | None = None  # Argo duration text, such as "5m"
    parallelism: int | None = None
    fail_fast: bool | None = None
    metadata: Metadata = field(default_factory=Metadata)
    sidecars: list[Mapping[str, Any]] = field(default_factory=list)
    line: int | None = None  # line of the template in the source file

    def input(self, name: str) -> Parameter | None:
        """Return the input parameter called `name`, or None."""
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Parameter | None:
        """Return the output parameter called `name`, or None."""
        return next((p for p in self.outputs.parameters if p.name == name), None)


@dataclass(frozen=True, kw_only=True)
class Workflow:
    """A parsed `Workflow` or `WorkflowTemplate` document.

    `name` is empty when the document gives only `generate_name`. `source_file` is the
    file the document came from, as given to the parser, for error messages.
    """

    kind: Literal["Workflow", "WorkflowTemplate"] = "Workflow"
    name: str = ""
    generate_name: str = ""
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    arguments: list[Parameter] = field(default_factory=list)
    templates: dict[str, Template] = field(default_factory=dict)
    on_exit: str | None = None
    parallelism: int | None = None
    active_deadline_seconds: int | str | None = None
    service_account: str | None = None
    pod_metadata: Metadata = field(default_factory=Metadata)
    workflow_template_ref: str | None = None  # spec.workflowTemplateRef.name, if used
    source_file: str = ""
    line: int | None = None

    @property
    def display_name(self) -> str:
        """Name the workflow in messages: its name, else its generateName prefix."""
        return self.name or self.generate_name or "<unnamed>"

    def argument(self, name: str) -> Parameter | None:
        """Return the workflow argument (`spec.arguments.parameters`) called `name`."""
        return next((p for p in self.arguments if p.name == name), None)
