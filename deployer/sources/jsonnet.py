"""Jsonnet evaluation: one main file to Kubernetes objects.

Imports (`import`, `importstr`, `importbin`) resolve relative to the folder of the
IMPORTING file first, then each library path in order. Every path is made absolute
before evaluation, so the result does not depend on the working directory.

External variables and top-level arguments come in two flavours, as in the `jsonnet`
command: a string value is passed as a string (`--ext-str`, `--tla-str`), any other
value (number, boolean, list, mapping) is passed as JSON code (`--ext-code`,
`--tla-code`). Explicit code strings go in `ext_code` / `tla_code`.

The output may be one object, an array of objects, or (as Tanka reads it) an object
whose values are objects or arrays, nested to any depth. `kind: List` objects with
`items` are flattened. `null` values are skipped. Any other leaf is a RenderError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _jsonnet

from deployer.errors import RenderError
from deployer.model.objects import Manifest, Source

# One frame of a Jsonnet stack trace: "\t/abs/file.jsonnet:12:5-20\t..."
_FRAME = re.compile(r"^\t?(?P<file>[^\t\n]+?):(?P<line>\d+):\d+")
_STATIC = re.compile(r"^STATIC ERROR: (?P<file>[^\n]+?):(?P<line>\d+):\d+(?:-\d+)?: (?P<msg>.*)")
_UNDEFINED_EXT = re.compile(r"undefined external variable: (?P<name>\S+)")
_JSON_TYPES: dict[type, str] = {str: "string", int: "number", float: "number", bool: "boolean"}


@dataclass
class _Importer:
    """Import callback that records what it searched, for the error message."""

    lib_paths: tuple[Path, ...]
    missing: list[tuple[str, list[Path]]] = field(default_factory=list)

    def __call__(self, importing_dir: str, rel: str) -> tuple[str, bytes]:
        candidates = [Path(importing_dir) / rel, *(lib / rel for lib in self.lib_paths)]
        for candidate in candidates:
            if candidate.is_file():
                resolved = candidate.resolve()
                return str(resolved), resolved.read_bytes()
        self.missing.append((rel, candidates))
        searched = ", ".join(str(c) for c in candidates)
        raise RuntimeError(f"not found; searched {searched}")


def evaluate_jsonnet(
    main: str | Path,
    *,
    base_dir: Path | None = None,
    lib_paths: Sequence[str | Path] = (),
    ext_vars: Mapping[str, Any] | None = None,
    ext_code: Mapping[str, str] | None = None,
    tlas: Mapping[str, Any] | None = None,
    tla_code: Mapping[str, str] | None = None,
) -> Any:
    """Evaluate a Jsonnet main file and return its output as plain Python data.

    Relative `main` and `lib_paths` resolve against `base_dir` (default: the working
    directory). Raises RenderError naming the file and line for any Jsonnet error.
    """
    root = (base_dir or Path.cwd()).resolve()
    main_path = (root / main).resolve()
    if not main_path.is_file():
        raise RenderError(f"Jsonnet main file {main_path} not found", file=str(main))
    importer = _Importer(tuple((root / lib).resolve() for lib in lib_paths))
    str_ext, code_ext = _split_by_type(ext_vars, ext_code)
    str_tla, code_tla = _split_by_type(tlas, tla_code)
    try:
        text = _jsonnet.evaluate_file(
            str(main_path),
            ext_vars=str_ext,
            ext_codes=code_ext,
            tla_vars=str_tla,
            tla_codes=code_tla,
            import_callback=importer,
        )
    except RuntimeError as failure:
        raise _render_error(str(failure), main_path, importer) from None
    return json.loads(text)


def load_jsonnet(main: str | Path, **options: Any) -> list[Manifest]:
    """Evaluate a Jsonnet main file (see `evaluate_jsonnet`) and return its objects."""
    base_dir = options.get("base_dir") or Path.cwd()
    file = str((Path(base_dir) / main).resolve())
    value = evaluate_jsonnet(main, **options)
    return [Manifest(body=obj, source=Source(file=file)) for obj in objects_from_value(value, file)]


def objects_from_value(value: Any, file: str) -> list[dict[str, Any]]:
    """Extract Kubernetes objects from Jsonnet output: an object, array, or nested object."""
    return list(_walk(value, file, "$"))


def _walk(value: Any, file: str, path: str) -> Iterator[dict[str, Any]]:
    if value is None:
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, file, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        kind = _JSON_TYPES.get(type(value), type(value).__name__)
        raise RenderError(
            f"output at {path} is a {kind}, not a Kubernetes object; "
            "return objects, arrays of objects, or objects whose values are objects",
            file=file,
        )
    _check_identity(value, file, path)
    if "apiVersion" in value and "kind" in value:
        if _is_list(value):
            for index, item in enumerate(value.get("items") or []):
                yield from _walk(item, file, f"{path}.items[{index}]")
            return
        yield value
        return
    for key, item in value.items():
        yield from _walk(item, file, f"{path}.{key}")


def _check_identity(value: Mapping[str, Any], file: str, path: str) -> None:
    """Raise RenderError for an object with a text `apiVersion` but no `kind`, or the reverse.

    Such a mapping is meant as a Kubernetes object, so walking into its fields would only
    report a confusing leaf such as `output at $.apiVersion is a string`.
    """
    for present, missing in (("apiVersion", "kind"), ("kind", "apiVersion")):
        if isinstance(value.get(present), str) and missing not in value:
            metadata = value.get("metadata")
            name = metadata.get("name") if isinstance(metadata, Mapping) else None
            named = f" (metadata.name {name})" if isinstance(name, str) else ""
            raise RenderError(
                f"output at {path}{named} has {present} {value[present]} but no {missing}; "
                "every Kubernetes object needs apiVersion and kind",
                file=file,
            )


def _is_list(obj: Mapping[str, Any]) -> bool:
    kind = str(obj.get("kind", ""))
    return kind.endswith("List") and "items" in obj


def _split_by_type(
    values: Mapping[str, Any] | None, code: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, str]]:
    strings: dict[str, str] = {}
    codes: dict[str, str] = {name: str(text) for name, text in (code or {}).items()}
    for name, value in (values or {}).items():
        if isinstance(value, str):
            strings[name] = value
        else:
            codes[name] = json.dumps(value)
    return strings, codes


def _render_error(text: str, main_path: Path, importer: _Importer) -> RenderError:
    """Turn a Jsonnet error text into a RenderError naming the file and line."""
    first, _, trace = text.partition("\n")
    static = _STATIC.match(first)
    if static:
        return RenderError(
            f"Jsonnet syntax error: {static['msg']}",
            file=static["file"],
            line=int(static["line"]),
        )
    file, line = _first_frame(trace, main_path)
    undefined = _UNDEFINED_EXT.search(first)
    if undefined:
        return RenderError(
            f'external variable "{undefined["name"]}" is not set; '
            "pass it under extVars (or extCode)",
            file=file,
            line=line,
        )
    if importer.missing and "couldn't open import" in first:
        rel, searched = importer.missing[-1]
        paths = "\n".join(f"  {p}" for p in searched)
        return RenderError(f'import "{rel}" not found; searched:\n{paths}', file=file, line=line)
    message = first.removeprefix("RUNTIME ERROR: ")
    return RenderError(f"Jsonnet evaluation failed: {message}", file=file, line=line)


def _first_frame(trace: str, main_path: Path) -> tuple[str, int | None]:
    for raw in trace.splitlines():
        frame = _FRAME.match(raw)
        # Frames inside the standard library show as "<std>:LINE"; name the user's file.
        if frame and not frame["file"].startswith("<"):
            return frame["file"], int(frame["line"])
    return str(main_path), None
