"""Render manifest files as sandboxed Jinja2 templates over a flat parameter mapping.

A file is rendered only when its text contains a Jinja2 marker (`{{`, `{%` or `{#`).
Other files are parsed as written, which keeps plain files fast. To keep a literal `{{`
in a rendered file (a Prometheus alert template, say), wrap it in
`{% raw %}...{% endraw %}`.

Rendering uses `jinja2.sandbox.SandboxedEnvironment` with `StrictUndefined`, so a name
that is not a parameter is an error, never an empty string. Newlines are kept as written
(no block trimming and the final newline is kept), so a template whose `{% if %}` and
`{% for %}` tags sit on lines of their own keeps the line count of its unrendered parts.

Filters added for manifests, besides Jinja2's built-in ones:

- `tojson`: the value as compact JSON, which is also valid YAML (`{{ ports | tojson }}`).
- `toyaml`: the value as block YAML (indent it with `indent`).
- `quote`: the value as a double-quoted YAML string (`{{ replicas | quote }}` gives `"3"`).
- `b64encode` / `b64decode`: base64 of the UTF-8 text, for Secret `data` values.
"""

from __future__ import annotations

import base64
import json
import re
import types
from collections.abc import Mapping
from typing import Any

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


def render(text: str, *, file: str, parameters: Mapping[str, Any]) -> str:
    """Render `text` as a Jinja2 template over `parameters`.

    Raises RenderError naming the file, the template line when known, and the undefined
    name or syntax problem.
    """
    try:
        code = _ENVIRONMENT.compile(text, name=file, filename=file)
        template = _ENVIRONMENT.template_class.from_code(
            _ENVIRONMENT, code, _ENVIRONMENT.make_globals(None)
        )
        return template.render(dict(parameters))
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(
            f"invalid Jinja2 template: {exc.message}; to keep literal braces, wrap them in "
            "{% raw %}...{% endraw %}",
            file=file,
            line=exc.lineno,
        ) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(
            _undefined_message(str(exc.message)), file=file, line=_template_line(exc, file)
        ) from None
    except jinja2.TemplateError as exc:
        raise RenderError(
            f"template rendering failed: {exc.message}", file=file, line=_template_line(exc, file)
        ) from None
    except Exception as exc:  # the template is user code and can raise anything
        raise RenderError(
            _failure_message(exc), file=file, line=_template_line(exc, file)
        ) from None


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, TypeError) and "no loader" in str(exc):
        return (
            "{% include %}, {% import %} and {% extends %} are not supported; "
            "put the shared text in a parameter or in each file"
        )
    return f"template rendering failed: {type(exc).__name__}: {exc}"


def _undefined_message(message: str) -> str:
    match = _UNDEFINED_NAME.search(message)
    if match is None:
        return f"undefined value in template: {message}"
    name = match.group(1)
    return (
        f'undefined parameter "{name}"; pass it as a parameter or give a default in the '
        f"template: {{{{ {name} | default(...) }}}}"
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
