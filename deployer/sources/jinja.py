"""Render manifest files as sandboxed Jinja2 templates over a flat parameter mapping.

A file is rendered only when its text contains a Jinja2 marker (`{{`, `{%` or `{#`).
Other files are parsed as written, which keeps plain files fast. To keep a literal `{{`
in a rendered file (a Prometheus alert template, say), wrap it in
`{% raw %}...{% endraw %}`.

Rendering uses `jinja2.sandbox.SandboxedEnvironment` with `StrictUndefined`, so a name
that is not a parameter is an error, never an empty string. Newlines are kept as written
(no block trimming, and the final newline is kept). `render_lines` also maps each output
line back to the template line it came from, so that YAML errors and Sources name lines
of the file as written, even after a `{% for %}` loop.

Filters added for manifests, besides Jinja2's built-in ones:

- `tojson`: the value as JSON on one line, which is also valid YAML (`{{ ports | tojson }}`).
- `toyaml`: the value as block YAML (indent it with `indent`).
- `quote`: the value as a double-quoted YAML string (`{{ replicas | quote }}` gives `"3"`).
- `b64encode` / `b64decode`: base64 of the UTF-8 text, for Secret `data` values.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from deployer.errors import RenderError

MARKERS = ("{{", "{%", "{#")


def needs_rendering(text: str) -> bool:
    """Return whether `text` contains a Jinja2 marker and so is rendered as a template."""
    return any(marker in text for marker in MARKERS)


def to_json(value: Any) -> str:
    """Serialise `value` as JSON on one line."""
    return json.dumps(value, ensure_ascii=False)


def to_yaml(value: Any) -> str:
    """Serialise `value` as block YAML without a trailing newline."""
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")


def quote(value: Any) -> str:
    """Return `value` as text in a double-quoted YAML scalar (JSON string syntax)."""
    return json.dumps(value if isinstance(value, str) else str(value), ensure_ascii=False)


def b64encode(value: Any) -> str:
    """Return the base64 encoding of the UTF-8 text of `value`."""
    raw = value if isinstance(value, bytes) else str(value).encode()
    return base64.b64encode(raw).decode("ascii")


def b64decode(value: Any) -> str:
    """Decode base64 text to a UTF-8 string."""
    return base64.b64decode(str(value)).decode()


def make_environment() -> SandboxedEnvironment:
    """Create the sandboxed environment that every manifest template renders in."""
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        tojson=to_json, toyaml=to_yaml, quote=quote, b64encode=b64encode, b64decode=b64decode
    )
    return env


_ENVIRONMENT = make_environment()
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")
# Added to errors that literal braces from another template language can cause, such
# as a Prometheus alert's `{{ $labels.instance }}`.
RAW_HINT = "If the braces are literal text, wrap them in {% raw %}...{% endraw %}"


@dataclass(frozen=True)
class Rendered:
    """Rendered text, and for each of its lines the template line it came from (1-based)."""

    text: str
    lines: list[int]


def render(text: str, *, file: str, parameters: Mapping[str, Any]) -> str:
    """Render `text` as a Jinja2 template over `parameters`; see `render_lines` for errors."""
    return render_lines(text, file=file, parameters=parameters).text


def render_lines(text: str, *, file: str, parameters: Mapping[str, Any]) -> Rendered:
    """Render `text` as a Jinja2 template and map each output line to its template line.

    Raises RenderError naming the file, the template line when known, and the undefined
    name or syntax problem.
    """
    try:
        code = _ENVIRONMENT.compile(text, name=file, filename=file)
        template = _ENVIRONMENT.template_class.from_code(
            _ENVIRONMENT, code, _ENVIRONMENT.make_globals(None)
        )
        return _render_traced(template, text, parameters)
    except jinja2.TemplateAssertionError as exc:
        # A well-formed template that names an unknown filter or test: not a brace problem.
        raise RenderError(
            f"invalid Jinja2 template: {_sentence(exc.message)}", file=file, line=exc.lineno
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(
            f"invalid Jinja2 template: {_sentence(exc.message)}. {RAW_HINT}",
            file=file,
            line=exc.lineno,
        ) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(
            _undefined_message(str(exc.message)), file=file, line=_template_line(exc, file)
        ) from None
    except jinja2.TemplateError as exc:
        raise RenderError(
            f"template rendering failed: {_sentence(exc.message)}",
            file=file,
            line=_template_line(exc, file),
        ) from None
    except Exception as exc:  # the template is user code and can raise anything
        raise RenderError(
            _failure_message(exc), file=file, line=_template_line(exc, file)
        ) from None


def _render_traced(template: jinja2.Template, text: str, parameters: Mapping[str, Any]) -> Rendered:
    """Render chunk by chunk, noting the template line where each output line starts.

    A chunk equal to the text of a lexer data token gets that token's line, which is
    exact. Other chunks, such as expression values, get their line from Jinja2's
    code-to-template line table, which can point a few lines early.
    """
    data_lines: dict[str, list[int]] = {}
    for line, token, value in _ENVIRONMENT.lex(text):
        if token == "data":
            data_lines.setdefault(value, []).append(line)
    # Pairs of (template line, code line), sorted by code line.
    debug_info = template.debug_info
    chunks: list[str] = []
    lines: list[int] = []
    line_open = False  # whether the last output line has started but not ended
    context = template.new_context(dict(parameters))
    generator = cast("types.GeneratorType[str, None, None]", template.root_render_func(context))
    try:
        for chunk in generator:
            frame = generator.gi_frame
            near = _template_line_of_code(debug_info, frame.f_lineno) if frame else 1
            start = _data_line(data_lines.get(chunk), near)
            pieces = chunk.split("\n")
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                if not line_open and (piece or not last):
                    lines.append(near if start is None else start + index)
                line_open = last and (line_open or bool(piece))
            chunks.append(chunk)
    except Exception:
        # Rewrite the traceback so that its frames carry template lines, then re-raise.
        _ENVIRONMENT.handle_exception(source=text)
    return Rendered("".join(chunks), lines)


def _template_line_of_code(debug_info: list[tuple[int, int]], code_line: int) -> int:
    """Return the template line of a line of compiled code, like the Template method
    `get_corresponding_lineno` but by binary search, since that one scans the table."""
    index = bisect.bisect_right(debug_info, code_line, key=lambda pair: pair[1])
    return debug_info[index - 1][0] if index else 1


def _data_line(candidates: list[int] | None, near: int) -> int | None:
    """Return the line of the data token nearest after `near`, else the last one before it."""
    if not candidates:
        return None
    after = [line for line in candidates if line >= near]
    return min(after) if after else max(candidates)


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, TypeError) and "no loader" in str(exc):
        return (
            "{% include %}, {% import %} and {% extends %} are not supported; "
            "put the shared text in a parameter or in each file"
        )
    return f"template rendering failed: {type(exc).__name__}: {exc}"


def _sentence(message: str | None) -> str:
    """Return a Jinja2 message without its final period, so that more text can follow."""
    return (message or "unknown error").rstrip().removesuffix(".")


def _undefined_message(message: str) -> str:
    match = _UNDEFINED_NAME.search(message)
    if match is None:
        # An attribute or key missing from a parameter's value: the braces are Jinja2's.
        return f"undefined value in template: {_sentence(message)}"
    name = match.group(1)
    return (
        f'undefined parameter "{name}"; pass it as a parameter or give a default in the '
        f"template: {{{{ {name} | default(...) }}}}. {RAW_HINT}"
    )


def _template_line(exc: BaseException, file: str) -> int | None:
    """Return the template line of the innermost traceback frame that belongs to `file`."""
    line: int | None = None
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
