"""Parse YAML and JSON text into documents that remember their line numbers.

The loaders are PyYAML safe loaders (the libyaml-backed CSafeLoader when PyYAML was built
with it) with three changes:

- A duplicate key in one mapping raises InputError naming both lines, as in
  `a.yaml:7: duplicate key "image" (first at line 5)`. Keys merged in with `<<` may be
  overridden; only keys written twice in the same mapping are duplicates.
- Unquoted timestamps such as `2024-01-01` stay strings, because a manifest body must
  serialise to JSON.
- JSON text uses JSON's own scalar rules (so `1e5` is a number, not a string) and may be
  indented with tabs.

YAML 1.1 scalar rules otherwise hold for YAML files, as in kubectl: an unquoted `on`,
`yes` or `off` is a boolean. `deployer.plan.validate` reports those where Kubernetes
expects strings.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from deployer.errors import InputError

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True)
class Document:
    """One YAML document: its 0-based index in the stream, 1-based first line, data and node.

    `node` is the composed YAML node, which callers use to find the line of a nested
    value. It is None in the documents that `parse_documents` returns.
    """

    index: int
    line: int
    data: Any
    node: Node | None


class LineLoader(_BaseLoader):
    """Safe loader that rejects duplicate mapping keys and keeps timestamps as strings."""

    file: str = "<text>"
    # Template line of each line of the parsed text, when it was rendered from a template.
    line_map: Sequence[int] = ()

    def source_line(self, mark_line: int) -> int:
        """Return the 1-based line in the source file of the 0-based parsed line `mark_line`."""
        return source_line(self.line_map, mark_line)

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, MappingNode):
            check_duplicate_keys(self, node)
        return super().construct_mapping(node, deep)  # type: ignore[arg-type]


# Copy the resolver table before removing timestamps so the stock loaders keep theirs.
LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class JsonLineLoader(LineLoader):
    """LineLoader with JSON's scalars: numbers, true, false and null; all else is a string."""


JsonLineLoader.yaml_implicit_resolvers = {}
JsonLineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^-?(?:0|[1-9][0-9]*)$"), list("-0123456789")
)
JsonLineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$"),
    list("-0123456789"),
)
JsonLineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)
JsonLineLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^null$"), ["n"])


def check_duplicate_keys(loader: LineLoader, node: MappingNode) -> None:
    """Raise InputError if one key is written twice in `node`, naming both lines."""
    first_lines: dict[Hashable, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == MERGE_TAG:
            continue
        if isinstance(key_node, ScalarNode) and key_node.tag == STR_TAG:
            key: Any = key_node.value
        else:
            key = loader.construct_object(key_node, deep=True)
        line = loader.source_line(key_node.start_mark.line)
        try:
            first = first_lines.get(key)
        except TypeError:
            raise InputError(
                "a mapping key must be a scalar, not a list or mapping", file=loader.file, line=line
            ) from None
        if first is not None:
            raise InputError(
                f"duplicate key {_quote(key)} (first at line {first}); remove one of them",
                file=loader.file,
                line=line,
            )
        first_lines[key] = line


def _quote(key: Any) -> str:
    return f'"{key}"' if isinstance(key, str) else repr(key)


def parse_documents(
    text: str, *, file: str, json: bool = False, line_map: Sequence[int] = ()
) -> list[Document]:
    """Parse every document of a YAML (or, with `json=True`, JSON) stream, nulls included.

    The documents keep no YAML nodes (`node` is None), which keeps memory low; use
    `iter_documents` to read nodes. Raises InputError with the file and line for syntax
    errors and duplicate keys.
    """
    return [
        Document(index=doc.index, line=doc.line, data=doc.data, node=None)
        for doc in iter_documents(text, file=file, json=json, line_map=line_map)
    ]


def iter_documents(
    text: str, *, file: str, json: bool = False, line_map: Sequence[int] = ()
) -> Iterator[Document]:
    """Yield each document of a stream with its YAML node, one at a time.

    For text rendered from a template, `line_map` gives the template line of each line of
    `text` (see `deployer.sources.jinja.render_lines`), and every line reported is a line
    of the template.

    Do not keep the nodes: a node tree costs several times the memory of its data, and
    many live trees slow the garbage collector down.
    """
    if json:
        # A valid JSON text can hold a tab only as whitespace (a tab inside a string must
        # be written \t), and YAML rejects tabs as indentation, so swapping is lossless.
        text = text.replace("\t", " ")
    syntax = "JSON" if json else "YAML"
    loader = (JsonLineLoader if json else LineLoader)(text)
    loader.file = file
    loader.line_map = line_map
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            data = loader.construct_document(node)
            line = loader.source_line(node.start_mark.line)
            yield Document(index=index, line=line, data=data, node=node)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        error_line = loader.source_line(mark.line) if mark is not None else None
        problem = exc.problem or exc.context or f"invalid {syntax}"
        raise InputError(f"invalid {syntax}: {problem}", file=file, line=error_line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid {syntax}: {exc}", file=file) from None
    finally:
        loader.dispose()


def scalar_value(node: ScalarNode) -> Any:
    """Construct the Python value of one scalar node, such as True for the key `on`."""
    loader = LineLoader("")
    try:
        return loader.construct_object(node)
    finally:
        loader.dispose()


def mapping_value(node: Node | None, key: str) -> Node | None:
    """Return the value node under the string key `key` of a mapping node, if any."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None


def sequence_items(node: Node | None) -> list[Node]:
    """Return the item nodes of a sequence node, or an empty list for anything else."""
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def node_line(node: Node, line_map: Sequence[int] = ()) -> int:
    """Return the 1-based source line where `node` starts; see `iter_documents` for `line_map`."""
    return source_line(line_map, node.start_mark.line)


def source_line(line_map: Sequence[int], mark_line: int) -> int:
    """Map a 0-based line of parsed text to a 1-based source line through `line_map`."""
    if not line_map:
        return mark_line + 1
    return line_map[min(mark_line, len(line_map) - 1)]
