"""Parse Argo-form `Workflow` and `WorkflowTemplate` documents into deployer.model.workflow.

Every mapping is read against a closed set of keys. A key outside that set, whether
Argo defines it (artifacts, volumes, hooks, synchronization, memoize, ...) or not, is
reported as `not supported: <field path>` with the file and line, so nothing in a
workflow is silently ignored. All problems of a document are reported together.

WorkflowTemplates for `templateRef` and `workflowTemplateRef` are looked up in the
workflow file's folder and in the extra template folders the caller names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from deployer.engine.workflow import parse_fields as fields
from deployer.engine.workflow.parse_fields import Reader
from deployer.engine.workflow.parse_template import read_template
from deployer.errors import WorkflowError
from deployer.model.workflow import Metadata, Template, Workflow

API_VERSION = "argoproj.io/v1alpha1"
WORKFLOW_KINDS = ("Workflow", "WorkflowTemplate")

_TOP_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec"})
_METADATA_KEYS = frozenset({"name", "generateName", "namespace", "labels", "annotations"})
_SPEC_KEYS = frozenset(
    {
        "entrypoint",
        "arguments",
        "templates",
        "onExit",
        "parallelism",
        "activeDeadlineSeconds",
        "serviceAccountName",
        "podMetadata",
        "workflowTemplateRef",
    }
)
# Every field of Argo's io.argoproj.workflow.v1alpha1.WorkflowSpec OpenAPI schema,
# so that an unsupported one is not reported as a typo.
_ARGO_SPEC_FIELDS = frozenset(
    {
        "activeDeadlineSeconds",
        "affinity",
        "archiveLogs",
        "arguments",
        "artifactGC",
        "artifactRepositoryRef",
        "automountServiceAccountToken",
        "dnsConfig",
        "dnsPolicy",
        "entrypoint",
        "executor",
        "hooks",
        "hostAliases",
        "hostNetwork",
        "imagePullSecrets",
        "metrics",
        "nodeSelector",
        "onExit",
        "parallelism",
        "podDisruptionBudget",
        "podGC",
        "podMetadata",
        "podPriority",
        "podPriorityClassName",
        "podSpecPatch",
        "priority",
        "retryStrategy",
        "schedulerName",
        "securityContext",
        "serviceAccountName",
        "shutdown",
        "suspend",
        "synchronization",
        "templateDefaults",
        "templates",
        "tolerations",
        "ttlStrategy",
        "volumeClaimGC",
        "volumeClaimTemplates",
        "volumes",
        "workflowMetadata",
        "workflowTemplateRef",
    }
)
_YAML_SUFFIXES = (".yaml", ".yml")


def parse_workflow(doc: Mapping[str, Any], *, file: str) -> Workflow:
    """Parse one Workflow or WorkflowTemplate document; `file` names it in errors.

    Raises WorkflowError listing every unsupported or malformed field.
    """
    reader = Reader(file)
    workflow = _read_workflow(reader, doc)
    reader.raise_problems()
    return workflow


def load_documents(path: Path) -> list[Workflow]:
    """Parse every Argo Workflow and WorkflowTemplate document of a YAML file.

    Documents of other API groups are skipped, because a folder of workflows may also
    hold plain Kubernetes manifests. Raises WorkflowError for unreadable files and
    malformed workflow documents.
    """
    file = str(path)
    workflows = []
    for doc in fields.load_yaml_documents(path):
        if not isinstance(doc, Mapping):
            continue
        api_version, kind = str(doc.get("apiVersion", "")), doc.get("kind")
        if kind not in WORKFLOW_KINDS and api_version.startswith("argoproj.io/"):
            line = fields.line_of(doc, "kind")
            raise WorkflowError(
                f"{file}:{line}: not supported: kind {kind}; deployer runs Workflow and "
                "WorkflowTemplate documents"
            )
        if kind not in WORKFLOW_KINDS or not api_version.startswith("argoproj.io/"):
            continue
        workflows.append(parse_workflow(doc, file=file))
    return workflows


def load_workflow(path: Path, *, templates_dirs: Sequence[Path] = ()) -> Workflow:
    """Load the workflow of a file, resolving `spec.workflowTemplateRef` if it has one.

    The file must hold exactly one `Workflow` document, or else exactly one
    `WorkflowTemplate` (which then runs as a workflow). Other documents in the file,
    such as WorkflowTemplates used by `templateRef`, are allowed.
    """
    documents = load_documents(path)
    if not documents:
        raise WorkflowError(_no_workflow_message(path))
    workflows = [w for w in documents if w.kind == "Workflow"]
    if not workflows:
        workflows = [w for w in documents if w.kind == "WorkflowTemplate"]
    if len(workflows) != 1:
        found = ", ".join(f"{w.kind}/{w.display_name}" for w in documents) or "none"
        raise WorkflowError(
            f"{path}: expected one {API_VERSION} Workflow document, found: {found}; "
            "keep one workflow per file"
        )
    workflow = workflows[0]
    if workflow.workflow_template_ref is None:
        return workflow
    templates = load_workflow_templates(workflow_template_paths(path, templates_dirs))
    return merge_workflow_template_ref(workflow, templates)


def _no_workflow_message(path: Path) -> str:
    """Describe a file without workflows: the kinds it contains and how to apply them."""
    kinds = []
    for doc in fields.load_yaml_documents(path):
        if not isinstance(doc, Mapping):
            kinds.append(f"{fields.describe_type(doc)} document")
            continue
        kind = f"{doc.get('apiVersion', '(no apiVersion)')} {doc.get('kind', '(no kind)')}"
        line = fields.line_of(doc)
        kinds.append(f"{kind} at line {line}" if line is not None else kind)
    message = f"{path}: no {API_VERSION} Workflow or WorkflowTemplate document found"
    if not kinds:
        return f"{message}; the file is empty"
    return (
        f"{message}; the file contains {', '.join(kinds)}. "
        f"To apply plain Kubernetes manifests, run `deployer apply -f {path}`"
    )


def workflow_template_paths(workflow_file: Path, templates_dirs: Sequence[Path] = ()) -> list[Path]:
    """List where WorkflowTemplates for a workflow file are looked up: its folder, then the dirs."""
    return [workflow_file.parent, *templates_dirs]


def load_workflow_templates(paths: Iterable[Path]) -> dict[str, Workflow]:
    """Load the WorkflowTemplates of the given files and folders, keyed by metadata.name.

    A folder is searched (not recursively) for `*.yaml` and `*.yml` files that mention
    `kind: WorkflowTemplate`; an explicitly named file is always read. Two templates
    with the same name raise WorkflowError naming both files.
    """
    found: dict[str, Workflow] = {}
    for path in _template_files(paths):
        for workflow in load_documents(path):
            if workflow.kind != "WorkflowTemplate":
                continue
            if not workflow.name:
                raise WorkflowError(
                    f"{path}: a WorkflowTemplate needs metadata.name to be referenced"
                )
            earlier = found.get(workflow.name)
            if earlier is not None and earlier.source_file != workflow.source_file:
                raise WorkflowError(
                    f"WorkflowTemplate {workflow.name} is defined twice: in "
                    f"{earlier.source_file} and {workflow.source_file}; rename one"
                )
            found[workflow.name] = workflow
    return found


def load_with_templates(
    path: Path, *, templates_dirs: Sequence[Path] = ()
) -> tuple[Workflow, dict[str, Workflow]]:
    """Load a workflow and the WorkflowTemplates its `templateRef` calls may use."""
    workflow = load_workflow(path, templates_dirs=templates_dirs)
    templates = load_workflow_templates(workflow_template_paths(path, templates_dirs))
    return workflow, templates


def merge_workflow_template_ref(workflow: Workflow, templates: Mapping[str, Workflow]) -> Workflow:
    """Return the workflow with the spec of its `workflowTemplateRef` filled in.

    As in Argo, the workflow's own fields win: its arguments override the template's
    arguments of the same name, and its entrypoint, onExit and templates take precedence.
    """
    name = workflow.workflow_template_ref
    if name is None:
        return workflow
    base = templates.get(name)
    if base is None:
        known = ", ".join(sorted(templates)) or "none found"
        raise WorkflowError(
            f"{workflow.source_file}: spec.workflowTemplateRef: WorkflowTemplate {name} "
            f"not found (known: {known}); put it next to the workflow or pass its folder"
        )
    own = {p.name for p in workflow.arguments}
    arguments = [*workflow.arguments, *(p for p in base.arguments if p.name not in own)]
    return replace(
        workflow,
        entrypoint=workflow.entrypoint or base.entrypoint,
        arguments=arguments,
        templates={**base.templates, **workflow.templates},
        on_exit=workflow.on_exit or base.on_exit,
        parallelism=workflow.parallelism if workflow.parallelism is not None else base.parallelism,
        active_deadline_seconds=(
            workflow.active_deadline_seconds
            if workflow.active_deadline_seconds is not None
            else base.active_deadline_seconds
        ),
        service_account=workflow.service_account or base.service_account,
        pod_metadata=Metadata(
            labels={**base.pod_metadata.labels, **workflow.pod_metadata.labels},
            annotations={**base.pod_metadata.annotations, **workflow.pod_metadata.annotations},
        ),
    )


def _template_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if p.suffix in _YAML_SUFFIXES)
            candidates = [p for p in candidates if _mentions_workflow_template(p)]
        elif path.is_file():
            candidates = [path]
        else:
            raise WorkflowError(f"{path}: WorkflowTemplate file or folder not found")
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(candidate)
    return files


def _mentions_workflow_template(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        # A folder may hold files that are not workflows at all; only named files must load.
        return False
    return "WorkflowTemplate" in text


def _read_workflow(reader: Reader, doc: Mapping[str, Any]) -> Workflow:
    reader.check_keys(doc, "", _TOP_KEYS)
    if doc.get("apiVersion") != API_VERSION:
        reader.problem(doc, "apiVersion", f"must be {API_VERSION}, got {doc.get('apiVersion')!r}")
    kind: Literal["Workflow", "WorkflowTemplate"] = "Workflow"
    if doc.get("kind") == "WorkflowTemplate":
        kind = "WorkflowTemplate"
    elif doc.get("kind") != "Workflow":
        reader.problem(
            doc, "kind", f"must be Workflow or WorkflowTemplate, got {doc.get('kind')!r}"
        )

    metadata = reader.mapping(doc, "metadata", "metadata")
    reader.check_keys(metadata, "metadata", _METADATA_KEYS)
    spec = reader.mapping(doc, "spec", "spec")
    reader.check_keys(spec, "spec", _SPEC_KEYS, _ARGO_SPEC_FIELDS)

    name = reader.string(metadata, "name", "metadata.name") or ""
    generate_name = reader.string(metadata, "generateName", "metadata.generateName") or ""
    if kind == "Workflow" and not name and not generate_name:
        reader.problem(metadata, "metadata", "set metadata.name or metadata.generateName")

    return Workflow(
        kind=kind,
        name=name,
        generate_name=generate_name,
        namespace=reader.string(metadata, "namespace", "metadata.namespace"),
        labels=reader.string_map(metadata, "labels", "metadata.labels"),
        annotations=reader.string_map(metadata, "annotations", "metadata.annotations"),
        entrypoint=reader.string(spec, "entrypoint", "spec.entrypoint"),
        arguments=fields.read_arguments(reader, spec, "spec.arguments"),
        templates=_read_templates(reader, spec),
        on_exit=reader.string(spec, "onExit", "spec.onExit"),
        parallelism=reader.integer(spec, "parallelism", "spec.parallelism"),
        active_deadline_seconds=reader.int_or_text(
            spec, "activeDeadlineSeconds", "spec.activeDeadlineSeconds"
        ),
        service_account=reader.string(spec, "serviceAccountName", "spec.serviceAccountName"),
        pod_metadata=fields.read_metadata(reader, spec, "podMetadata", "spec.podMetadata"),
        workflow_template_ref=_read_workflow_template_ref(reader, spec),
        source_file=reader.file,
        line=fields.line_of(doc),
    )


def _read_workflow_template_ref(reader: Reader, spec: Mapping[str, Any]) -> str | None:
    if "workflowTemplateRef" not in spec:
        return None
    ref = reader.mapping(spec, "workflowTemplateRef", "spec.workflowTemplateRef")
    reader.check_keys(ref, "spec.workflowTemplateRef", frozenset({"name"}))
    return reader.required_string(ref, "name", "spec.workflowTemplateRef.name")


def _read_templates(reader: Reader, spec: Mapping[str, Any]) -> dict[str, Template]:
    templates: dict[str, Template] = {}
    for index, raw in enumerate(reader.sequence(spec, "templates", "spec.templates")):
        path = f"spec.templates[{index}]"
        if not isinstance(raw, Mapping):
            reader.problem(spec, "templates", f"{path} must be a mapping")
            continue
        template = read_template(reader, raw, path)
        if template is None:
            continue
        if template.name in templates:
            reader.problem(raw, "name", f"{path}.name: duplicate template name {template.name!r}")
            continue
        templates[template.name] = template
    return templates
