"""The YAML/JSON loader: documents, lines, duplicate keys, Lists and path expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.errors import InputError
from deployer.model.objects import Source
from deployer.sources import load_paths, load_text
from deployer.sources.documents import parse_documents
from deployer.sources.loader import LoadedManifest

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  key: value
"""


def test_comment_and_bare_separators_give_one_object() -> None:
    text = "# only a comment\n---\n" + CONFIGMAP.format(name="a") + "---\n---\n"

    manifests = load_text(text, file="a.yaml")

    assert [m.name for m in manifests] == ["a"]


def test_empty_text_gives_no_objects() -> None:
    assert load_text("", file="a.yaml") == []
    assert load_text("# nothing here\n", file="a.yaml") == []


def test_source_records_file_line_and_document_index() -> None:
    text = CONFIGMAP.format(name="a") + "---\n# note\n" + CONFIGMAP.format(name="b")

    first, second = load_text(text, file="dir/a.yaml")

    assert first.source == Source("dir/a.yaml", 1, 0)
    assert second.source == Source("dir/a.yaml", 9, 1)


def test_list_with_configmap_and_secret_gives_two_objects() -> None:
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
  - apiVersion: v1
    kind: Secret
    metadata: {name: password}
"""
    manifests = load_text(text, file="list.yaml")

    assert [m.kind for m in manifests] == ["ConfigMap", "Secret"]
    assert [m.source.line for m in manifests if m.source] == [4, 7]


def test_typed_list_is_flattened() -> None:
    text = "apiVersion: v1\nkind: ConfigMapList\nitems:\n- " + CONFIGMAP.format(name="x").replace(
        "\n", "\n  "
    )

    manifests = load_text(text, file="list.yaml")

    assert [(m.kind, m.name) for m in manifests] == [("ConfigMap", "x")]


def test_list_with_null_items_gives_no_objects() -> None:
    assert load_text("apiVersion: v1\nkind: List\nitems: null\n", file="a.yaml") == []


def test_list_items_as_mapping_names_yaml_type() -> None:
    text = "apiVersion: v1\nkind: List\nitems: {name: a}\n"

    with pytest.raises(InputError) as caught:
        load_text(text, file="a.yaml")

    assert "is a mapping, not a list" in str(caught.value)
    assert "dict" not in str(caught.value)


def test_custom_list_kind_without_items_is_kept() -> None:
    text = "apiVersion: example.com/v1\nkind: FooList\nmetadata: {name: f}\nspec: {}\n"

    manifests = load_text(text, file="a.yaml")

    assert [(m.kind, m.name) for m in manifests] == [("FooList", "f")]


def test_list_item_without_kind_names_item_and_line() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  metadata: {name: a}\n"

    with pytest.raises(InputError) as caught:
        load_text(text, file="l.yaml")

    assert str(caught.value).startswith("l.yaml:4: item 0 of the List")
    assert '"kind"' in str(caught.value)


def test_missing_api_version_names_file_and_document_index() -> None:
    text = CONFIGMAP.format(name="a") + "---\nkind: ConfigMap\nmetadata: {name: b}\n"

    with pytest.raises(InputError) as caught:
        load_text(text, file="a.yaml")

    message = str(caught.value)
    assert message.startswith('a.yaml:8: document index 1 has no "apiVersion"')
    assert caught.value.file == "a.yaml"
    assert caught.value.line == 8


def test_non_mapping_document_is_rejected() -> None:
    with pytest.raises(InputError) as caught:
        load_text("- a\n- b\n", file="a.yaml")

    assert "document index 0 is a list, not a mapping" in str(caught.value)


def test_duplicate_key_names_both_lines() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: nginx
      ports: []
      image: redis
"""
    with pytest.raises(InputError) as caught:
        load_text(text, file="a.yaml")

    assert str(caught.value).startswith('a.yaml:9: duplicate key "image" (first at line 7)')


def test_merge_key_override_is_not_a_duplicate() -> None:
    text = "base: &base {a: 1, b: 2}\nmerged:\n  <<: *base\n  a: 3\n"

    (document,) = parse_documents(text, file="a.yaml")

    assert document.data["merged"] == {"a": 3, "b": 2}


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(InputError) as caught:
        load_text("apiVersion: v1\nkind: [ConfigMap\nmetadata: {}\n", file="bad.yaml")

    assert str(caught.value).startswith("bad.yaml:")
    assert caught.value.line is not None
    assert "invalid YAML" in str(caught.value)


def test_json_syntax_error_says_json() -> None:
    with pytest.raises(InputError) as caught:
        load_text('{"apiVersion": "v1",\n "kind": "ConfigMap"\n', file="bad.json")

    assert str(caught.value).startswith("bad.json:")
    assert "invalid JSON: " in str(caught.value)
    assert "YAML" not in str(caught.value)


ARGO_DAG = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: dag-}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: b
            arguments:
              parameters: [{name: x, value: "{{tasks.a.outputs.result}}"}]
"""


def test_argo_workflow_file_suggests_submit() -> None:
    with pytest.raises(InputError) as caught:
        load_text(ARGO_DAG, file="dag.yaml")

    message = str(caught.value)
    assert message.startswith("dag.yaml: this file is an Argo Workflow")
    assert "deployer submit dag.yaml" in message
    assert "undefined" not in message


def test_jinja_error_outside_workflow_unchanged() -> None:
    text = ARGO_DAG.replace("argoproj.io/v1alpha1", "v1").replace("Workflow", "ConfigMap")
    with pytest.raises(InputError) as caught:
        load_text(text, file="cm.yaml")

    assert "undefined" in str(caught.value)
    assert "Argo" not in str(caught.value)


def test_timestamps_stay_strings() -> None:
    text = CONFIGMAP.format(name="a").replace("value", "2024-01-01")

    (manifest,) = load_text(text, file="a.yaml")

    assert manifest.body["data"]["key"] == "2024-01-01"


def test_unquoted_on_keeps_written_text() -> None:
    text = CONFIGMAP.format(name="a").replace("key: value", "FEATURE: on\n  MODE: 0644")

    (manifest,) = load_text(text, file="a.yaml")

    assert manifest.body["data"] == {"FEATURE": True, "MODE": 420}
    assert isinstance(manifest, LoadedManifest)
    assert manifest.scalar_text == {"data.FEATURE": "on", "data.MODE": "0644"}


def test_json_uses_json_numbers_and_allows_tabs() -> None:
    text = '{\n\t"apiVersion": "v1",\n\t"kind": "ConfigMap",\n\t"metadata": {"name": "j"},\n'
    text += '\t"data": {"a": "on"},\n\t"spec": {"n": 1e5, "f": 1.5, "t": true}\n}\n'

    (manifest,) = load_text(text, file="a.json")

    assert manifest.body["data"] == {"a": "on"}
    assert manifest.body["spec"] == {"n": 1e5, "f": 1.5, "t": True}


def test_json_duplicate_key_names_both_lines() -> None:
    text = '{"apiVersion": "v1",\n "kind": "ConfigMap",\n "kind": "Secret"}\n'

    with pytest.raises(InputError) as caught:
        load_text(text, file="a.json")

    assert str(caught.value).startswith('a.json:3: duplicate key "kind" (first at line 2)')


def write(folder: Path, relative: str, text: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_folder_loads_recursively_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", CONFIGMAP.format(name="b"))
    write(tmp_path, "a/z.yml", CONFIGMAP.format(name="az"))
    write(
        tmp_path, "c.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}'
    )
    write(tmp_path, "notes.txt", "not a manifest")
    write(tmp_path, ".hidden/x.yaml", CONFIGMAP.format(name="hidden"))

    manifests = load_paths([tmp_path])

    assert [m.name for m in manifests] == ["az", "b", "c"]


def test_glob_and_base_dir_resolve_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, "x/one.yaml", CONFIGMAP.format(name="one"))
    write(tmp_path, "x/two.yaml", CONFIGMAP.format(name="two"))
    write(tmp_path, "x/skip.yml", CONFIGMAP.format(name="skip"))

    manifests = load_paths(["x/*.yaml"], base_dir=tmp_path)

    assert [m.name for m in manifests] == ["one", "two"]
    assert manifests[0].source is not None
    assert manifests[0].source.file == str(tmp_path / "x" / "one.yaml")


def test_file_named_twice_loads_once(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", CONFIGMAP.format(name="a"))

    assert len(load_paths([path, tmp_path])) == 1


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_paths([tmp_path / "nope.yaml"])

    assert "file or folder not found" in str(caught.value)


def test_glob_without_matches_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_paths([str(tmp_path / "*.yaml")])

    assert "no files match" in str(caught.value)


def test_invalid_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"apiVersion: v1\nkind: \xff\n")

    with pytest.raises(InputError) as caught:
        load_paths([path])

    assert str(caught.value).startswith(f"{path}: not UTF-8 text")


def test_five_thousand_objects_all_load() -> None:
    document = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: bench
  labels: {{app: app-{i}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      containers:
        - name: main
          image: nginx:1.27
          ports: [{{containerPort: 80}}]
"""
    text = "---\n".join(document.format(i=i) for i in range(5000))
    manifests = load_text(text, file="many.yaml")

    # Speed is measured by bench/, not here; this checks that every object arrives intact.
    assert len(manifests) == 5000
    assert manifests[4999].name == "app-4999"
    assert manifests[4999].source is not None
