"""Load manifest files, folders and globs into Manifests that know their file and line.

- A folder is searched recursively for `*.yaml`, `*.yml` and `*.json`, skipping names
  that start with a dot. A glob (`dir/*.yaml`, `dir/**/*.yaml`) expands to its matches.
  Files load in sorted path order so the result is deterministic. A file named directly
  loads whatever its suffix, as JSON when it ends in `.json`, else as YAML.
- Files containing Jinja2 markers render first (see `deployer.sources.jinja`). The YAML
  is parsed from the rendered text, and its lines are mapped back to template lines.
  When an Argo Workflow file fails to render, the error says to run it with `submit`.
- Empty documents (`---` alone, comments only) are skipped. Every other document must be
  a mapping with `apiVersion` and `kind`.
- `kind: List` and typed lists (`ConfigMapList`, ...) that have an `items` key flatten into
  their items, each keeping its own line; `items: null` gives no objects. A custom kind
  ending in `List` without `items` is an ordinary object.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from deployer.errors import InputError, RenderError
from deployer.model.objects import Manifest, Source
from deployer.sources import jinja
from deployer.sources.documents import (
    MERGE_TAG,
    STR_TAG,
    Document,
    iter_documents,
    mapping_value,
    node_line,
    scalar_value,
    sequence_items,
)

SUFFIXES = (".yaml", ".yml", ".json")
_ARGO_API_VERSION = re.compile(r"^apiVersion:\s*[\"']?argoproj\.io/", re.MULTILINE)
_ARGO_KIND = re.compile(
    r"^kind:\s*[\"']?(Workflow|WorkflowTemplate|ClusterWorkflowTemplate|CronWorkflow)\b",
    re.MULTILINE,
)
GLOB_CHARACTERS = frozenset("*?[")

# Fields that Kubernetes types as string maps. For a non-string key or value in one of
# them the loader keeps the text as written (`on`, `0644`), so that deployer.plan.validate
# can name exactly what to quote. The check itself, per kind, lives in deployer.plan.validate.
STRING_MAP_FIELDS: tuple[tuple[str, ...], ...] = (
    ("metadata", "labels"),
    ("metadata", "annotations"),
    ("data",),
    ("stringData",),
    ("binaryData",),
    ("spec", "selector"),
    ("spec", "selector", "matchLabels"),
    ("spec", "nodeSelector"),
    ("spec", "template", "metadata", "labels"),
    ("spec", "template", "metadata", "annotations"),
    ("spec", "template", "spec", "nodeSelector"),
    ("spec", "jobTemplate", "spec", "template", "metadata", "labels"),
    ("spec", "jobTemplate", "spec", "template", "metadata", "annotations"),
    ("spec", "jobTemplate", "spec", "template", "spec", "nodeSelector"),
)


@dataclass
class LoadedManifest(Manifest):
    """A Manifest with the written text of non-string keys and values in string-map fields.

    Both map a field path, built from the loaded body, to the text in the file.
    `scalar_text` maps `data.FEATURE` to the value's text (`on`), and `key_text` maps
    `data.True`, the path of the key `on`, to the key's text and line (`on`, 7). The
    loader returns this subclass only for objects that have such keys or values.
    """

    scalar_text: Mapping[str, str] = field(default_factory=dict)
    key_text: Mapping[str, tuple[str, int]] = field(default_factory=dict)


def load_paths(
    paths: Sequence[str | Path],
    *,
    parameters: Mapping[str, Any] | None = None,
    base_dir: Path | None = None,
) -> list[Manifest]:
    """Load every manifest from files, folders and globs, in a deterministic order.

    Relative paths resolve against `base_dir` (default: the working directory). Jinja2
    templates render over `parameters`. Raises InputError for a missing path, a glob or
    folder without manifest files, an unreadable file or an invalid document, and
    RenderError for a template that does not render.
    """
    manifests: list[Manifest] = []
    for file in expand_paths(paths, base_dir=base_dir):
        text = read_text(file)
        manifests.extend(
            load_text(text, file=str(file), parameters=parameters, json=file.suffix == ".json")
        )
    return manifests


def expand_paths(paths: Sequence[str | Path], *, base_dir: Path | None = None) -> list[Path]:
    """Expand files, folders and globs into files, each once, in argument then path order."""
    files: list[Path] = []
    seen: set[Path] = set()
    for argument in paths:
        for file in _expand_one(Path(argument), base_dir):
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files


def _expand_one(path: Path, base_dir: Path | None) -> list[Path]:
    full = path if path.is_absolute() or base_dir is None else base_dir / path
    if full.is_file():
        return [full]
    if full.is_dir():
        found = sorted(_manifest_files(full), key=lambda p: p.relative_to(full).as_posix())
        if not found:
            raise InputError(f"no *.yaml, *.yml or *.json files in folder {full}")
        return found
    if GLOB_CHARACTERS.intersection(str(path)):
        matches = sorted(Path(m) for m in glob.glob(str(full), recursive=True))
        found = [m for m in matches if m.is_file()]
        if not found:
            raise InputError(f"no files match {full}")
        return found
    raise InputError(f"file or folder not found: {full}")


def _manifest_files(folder: Path) -> Iterator[Path]:
    for file in folder.rglob("*"):
        relative = file.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.suffix in SUFFIXES and file.is_file():
            yield file


def read_text(file: Path) -> str:
    """Read a UTF-8 file (a byte order mark is dropped); raise InputError if that fails."""
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(file)
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=str(file)) from None


def load_text(
    text: str,
    *,
    file: str,
    parameters: Mapping[str, Any] | None = None,
    json: bool | None = None,
) -> list[Manifest]:
    """Load the manifests in one YAML or JSON text; `file` names it in Sources and errors.

    The text renders as a Jinja2 template over `parameters` when it contains a marker.
    `json` defaults to whether `file` ends in `.json`.
    """
    line_map: list[int] = []
    if jinja.needs_rendering(text):
        try:
            rendered = jinja.render_lines(text, file=file, parameters=parameters or {})
        except RenderError:
            if _is_argo_workflow(text):
                raise _workflow_error(file) from None
            raise
        text, line_map = rendered.text, rendered.lines
    as_json = file.endswith(".json") if json is None else json
    manifests: list[Manifest] = []
    for document in iter_documents(text, file=file, json=as_json, line_map=line_map):
        if document.data is not None:
            manifests.extend(_document_manifests(document, file, line_map))
    return manifests


def _is_argo_workflow(text: str) -> bool:
    """Tell whether a file declares an Argo Workflows object at the top level."""
    return bool(_ARGO_API_VERSION.search(text)) and bool(_ARGO_KIND.search(text))


def _workflow_error(file: str) -> InputError:
    return InputError(
        f"this file is an Argo Workflow; run it with `deployer submit {file}`. "
        "Its {{...}} expressions are Argo's, not Jinja2 templates",
        file=file,
    )


def _document_manifests(document: Document, file: str, line_map: list[int]) -> list[Manifest]:
    where = f"document index {document.index}"
    _check_object(document.data, file=file, line=document.line, where=where)
    body: dict[str, Any] = document.data
    if _is_list(body):
        return _list_items(body, document, file, line_map)
    source = Source(file, document.line, document.index)
    return [_make_manifest(body, document.node, source, line_map)]


def _check_object(data: Any, *, file: str, line: int, where: str) -> None:
    if not isinstance(data, dict):
        raise InputError(
            f"{where} is {_describe_type(data)}, not a mapping; each document must be one "
            "Kubernetes object",
            file=file,
            line=line,
        )
    for key in ("apiVersion", "kind"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            problem = "has no" if value is None else "has an invalid"
            raise InputError(
                f'{where} {problem} "{key}"; every object needs apiVersion and kind',
                file=file,
                line=line,
            )


def _is_list(body: Mapping[str, Any]) -> bool:
    return "items" in body and str(body["kind"]).endswith("List")


def _list_items(
    body: Mapping[str, Any], document: Document, file: str, line_map: list[int]
) -> list[Manifest]:
    items = body["items"]
    if items is None:
        return []
    if not isinstance(items, list):
        raise InputError(
            f'"items" of the {body["kind"]} in document index {document.index} is '
            f"{_describe_type(items)}, not a list",
            file=file,
            line=document.line,
        )
    nodes = sequence_items(mapping_value(document.node, "items"))
    manifests: list[Manifest] = []
    for position, item in enumerate(items):
        node = nodes[position] if position < len(nodes) else None
        line = node_line(node, line_map) if node is not None else document.line
        where = f"item {position} of the {body['kind']} in document index {document.index}"
        _check_object(item, file=file, line=line, where=where)
        source = Source(file, line, document.index)
        manifests.append(_make_manifest(item, node, source, line_map))
    return manifests


def _make_manifest(
    body: dict[str, Any], node: Node | None, source: Source, line_map: list[int]
) -> Manifest:
    scalar_text, key_text = _non_string_text(body, node, line_map)
    if scalar_text or key_text:
        return LoadedManifest(body=body, source=source, scalar_text=scalar_text, key_text=key_text)
    return Manifest(body=body, source=source)


def _non_string_text(
    body: Mapping[str, Any], node: Node | None, line_map: list[int]
) -> tuple[dict[str, str], dict[str, tuple[str, int]]]:
    """Return the written text of non-string values and keys in STRING_MAP_FIELDS.

    Values map to their text, keys to their text and line, both by field path.
    """
    values_found: dict[str, str] = {}
    keys_found: dict[str, tuple[str, int]] = {}
    for path in STRING_MAP_FIELDS:
        values = _get_path(body, path)
        if not isinstance(values, Mapping):
            continue
        if all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
            continue
        map_node = node
        for key in path:
            map_node = mapping_value(map_node, key)
        if not isinstance(map_node, MappingNode):
            continue  # the mapping came in through a `<<` merge key
        for key_node, value_node in map_node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            string_key = key_node.tag == STR_TAG
            loaded = key_node.value if string_key else scalar_value(key_node)
            field_path = ".".join((*path, str(loaded)))
            if not string_key:
                keys_found[field_path] = (str(key_node.value), node_line(key_node, line_map))
            if isinstance(value_node, ScalarNode) and value_node.tag != STR_TAG:
                values_found[field_path] = str(value_node.value)
    return values_found, keys_found


def _get_path(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _describe_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"
