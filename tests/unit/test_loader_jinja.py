"""Jinja2 rendering of manifest files: parameters, errors and filters."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from deployer.errors import InputError, RenderError
from deployer.sources import load_paths, load_text
from deployer.sources.jinja import (
    _ENVIRONMENT,
    _template_line_of_code,
    needs_rendering,
    render,
    render_lines,
)

TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: "{{ namespace }}"
data:
  replicas: {{ replicas | quote }}
"""


def test_parameters_fill_the_template() -> None:
    (manifest,) = load_text(
        TEMPLATE, file="t.yaml", parameters={"namespace": "shop", "replicas": 3}
    )

    assert manifest.namespace == "shop"
    assert manifest.body["data"] == {"replicas": "3"}


def test_load_paths_renders_files_with_parameters(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(TEMPLATE)

    (manifest,) = load_paths([tmp_path], parameters={"namespace": "ns1", "replicas": 1})

    assert manifest.namespace == "ns1"


def test_undefined_name_names_file_line_and_name() -> None:
    with pytest.raises(RenderError) as caught:
        load_text(TEMPLATE, file="t.yaml", parameters={"namespace": "shop"})

    message = str(caught.value)
    assert message.startswith("t.yaml:7: ")
    assert 'undefined parameter "replicas"' in message
    assert caught.value.file == "t.yaml"


def test_syntax_error_names_file_and_line() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }\n"

    with pytest.raises(RenderError) as caught:
        load_text(text, file="t.yaml", parameters={"name": "x"})

    assert str(caught.value).startswith("t.yaml:4: invalid Jinja2 template")


def test_literal_braces_survive_in_raw_blocks() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: rules}\ndata:\n"
        "  alert: '{% raw %}{{ $labels.instance }}{% endraw %}'\n"
    )

    (manifest,) = load_text(text, file="t.yaml")

    assert manifest.body["data"]["alert"] == "{{ $labels.instance }}"


def test_file_without_markers_is_not_rendered() -> None:
    assert not needs_rendering("a: b\n")
    assert needs_rendering("a: {{ b }}\n")
    assert needs_rendering("{% if x %}\n")
    assert needs_rendering("{# comment #}\n")


def test_line_numbers_stay_for_lines_after_block_tags() -> None:
    text = (
        "{% if with_config %}\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
        "{% endif %}\n"
        "---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
    )

    manifests = load_text(text, file="t.yaml", parameters={"with_config": True})

    assert [m.source.line for m in manifests if m.source] == [2, 7]


def test_filters_for_manifests() -> None:
    rendered = render(
        "{{ ports | tojson }}|{{ 'pw' | b64encode }}|{{ 'cHc=' | b64decode }}|{{ 'a: b' | quote }}",
        file="t.yaml",
        parameters={"ports": [80, 443]},
    )

    assert rendered == f'[80, 443]|{base64.b64encode(b"pw").decode()}|pw|"a: b"'


def test_toyaml_filter_gives_block_yaml() -> None:
    rendered = render("{{ v | toyaml }}", file="t.yaml", parameters={"v": {"a": 1, "b": [2]}})

    assert rendered == "a: 1\nb:\n- 2"


def test_sandbox_blocks_unsafe_attribute_access() -> None:
    with pytest.raises(RenderError) as caught:
        render("{{ ''.__class__.__mro__ }}", file="t.yaml", parameters={})

    assert "unsafe" in str(caught.value)


def test_include_without_loader_is_a_render_error() -> None:
    with pytest.raises(RenderError) as caught:
        render("{% include 'other.yaml' %}", file="t.yaml", parameters={})

    assert str(caught.value).startswith("t.yaml:1: {% include %}")


def test_error_in_template_expression_names_file_and_line() -> None:
    with pytest.raises(RenderError) as caught:
        render("a: 1\nb: {{ 1 // zero }}\n", file="t.yaml", parameters={"zero": 0})

    assert str(caught.value).startswith("t.yaml:2: template rendering failed: ZeroDivisionError")


LOOP_TEMPLATE = """\
{% for name in names %}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name }}
{% endfor %}
---
apiVersion: v1
kind: Secret
metadata: {name: last}
"""


def test_lines_after_a_loop_are_template_lines() -> None:
    manifests = load_text(LOOP_TEMPLATE, file="t.yaml", parameters={"names": ["a", "b", "c"]})

    assert [m.name for m in manifests] == ["a", "b", "c", "last"]
    assert [m.source.line for m in manifests if m.source] == [3, 3, 3, 9]


def test_yaml_error_after_loop_uses_template_line() -> None:
    broken = LOOP_TEMPLATE.replace("metadata: {name: last}", "metadata: {name: last")

    with pytest.raises(InputError) as caught:
        load_text(broken, file="t.yaml", parameters={"names": ["a", "b", "c"]})

    assert caught.value.line == 11


def test_duplicate_key_after_a_loop_names_template_lines() -> None:
    text = LOOP_TEMPLATE.replace("kind: Secret\n", "kind: Secret\nkind: Secret\n")

    with pytest.raises(InputError) as caught:
        load_text(text, file="t.yaml", parameters={"names": ["a", "b"]})

    assert str(caught.value).startswith('t.yaml:11: duplicate key "kind" (first at line 10)')


def test_render_lines_maps_each_output_line() -> None:
    rendered = render_lines(
        "a: 1\n{% for i in items %}\n- {{ i }}\n{% endfor %}\nb: 2\n",
        file="t.yaml",
        parameters={"items": [1, 2]},
    )

    assert rendered.text == "a: 1\n\n- 1\n\n- 2\n\nb: 2\n"
    assert rendered.lines == [1, 2, 3, 2, 3, 4, 5]


def test_code_line_lookup_matches_jinja() -> None:
    text = "a: {{ x }}\n{% for i in items %}\n- {{ i }}\n{% endfor %}\nb: {{ y }}\n"
    template = _ENVIRONMENT.from_string(text)
    code_lines = range(1, max(code for _, code in template.debug_info) + 5)

    for code_line in code_lines:
        expected = template.get_corresponding_lineno(code_line)
        assert _template_line_of_code(template.debug_info, code_line) == expected, code_line


def _render_error(text: str, **parameters: object) -> str:
    with pytest.raises(RenderError) as caught:
        load_text(text, file="t.yaml", parameters=parameters)
    return str(caught.value)


def test_unknown_filter_error_has_no_brace_hint() -> None:
    message = _render_error("a: '{{ x | nofilter }}'\n", x=1)
    assert message == "t.yaml:1: invalid Jinja2 template: No filter named 'nofilter'"


def test_unknown_test_error_has_no_brace_hint() -> None:
    message = _render_error("a: '{{ x is nosuchtest }}'\n", x=1)
    assert message == "t.yaml:1: invalid Jinja2 template: No test named 'nosuchtest'"


def test_brace_syntax_error_suggests_raw_block() -> None:
    message = _render_error("a: '{{ $labels.instance }}'\n")
    assert message == (
        "t.yaml:1: invalid Jinja2 template: unexpected char '$' at 7. If the braces are "
        "literal text, wrap them in {% raw %}...{% endraw %}"
    )


def test_undefined_name_suggests_raw_block() -> None:
    message = _render_error("a: '{{ value }}'\n")
    assert message.endswith(
        "{{ value | default(...) }}. If the braces are literal text, wrap them in "
        "{% raw %}...{% endraw %}"
    )
    assert ".;" not in message


def test_missing_attribute_has_no_brace_hint() -> None:
    message = _render_error("a: '{{ x.y }}'\n", x="text")
    assert message == "t.yaml:1: undefined value in template: 'str object' has no attribute 'y'"
