"""Jsonnet evaluation: import resolution, variables, errors and object extraction."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.errors import RenderError
from deployer.sources.jsonnet import evaluate_jsonnet, load_jsonnet, objects_from_value

JSONNET_DIR = Path(__file__).resolve().parent.parent / "jsonnet"


@pytest.fixture
def restore_cwd() -> Iterator[None]:
    before = os.getcwd()
    yield
    os.chdir(before)


def _evaluate_app(**overrides: Any) -> Any:
    options: dict[str, Any] = {
        "base_dir": JSONNET_DIR,
        "lib_paths": ["lib"],
        "ext_vars": {"namespace": "monitoring"},
        "tlas": {"title": "Sock Shop"},
    }
    options.update(overrides)
    return evaluate_jsonnet("app/main.jsonnet", **options)


def test_same_result_from_two_working_directories(restore_cwd: None, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    from_tmp = _evaluate_app()
    os.chdir(JSONNET_DIR / "lib")
    from_lib = _evaluate_app()
    assert from_tmp == from_lib
    assert from_tmp["dashboards"]["main"]["metadata"]["name"] == "dashboards-app"


def test_import_resolves_next_to_importing_file_first() -> None:
    output = _evaluate_app()
    main = output["dashboards"]["main"]
    # The suffix comes from app/util.libsonnet and the labels from lib/util.libsonnet.
    assert main["metadata"]["name"] == "dashboards-app"
    assert main["metadata"]["labels"] == {"origin": "lib"}


def test_importstr_reads_relative_file() -> None:
    output = _evaluate_app()
    assert output["extra"][0]["data"]["panels"] == "cpu,memory\n"


def test_external_variable_and_tla_reach_output() -> None:
    output = _evaluate_app()
    main = output["dashboards"]["main"]
    assert main["metadata"]["namespace"] == "monitoring"
    assert main["data"]["title"] == "Sock Shop"


def test_non_string_tla_is_passed_as_code() -> None:
    output = _evaluate_app(tlas={"title": 42})
    assert output["dashboards"]["main"]["data"]["title"] == 42


def test_unset_external_variable_names_file_and_variable() -> None:
    with pytest.raises(RenderError) as raised:
        _evaluate_app(ext_vars={})
    message = str(raised.value)
    assert '"namespace"' in message
    assert raised.value.file is not None
    assert raised.value.file.endswith("main.jsonnet")
    assert raised.value.line == 5


def test_missing_import_names_importer_and_searched_paths() -> None:
    with pytest.raises(RenderError) as raised:
        evaluate_jsonnet("app/missing_import.jsonnet", base_dir=JSONNET_DIR, lib_paths=["lib"])
    message = str(raised.value)
    assert raised.value.file is not None
    assert raised.value.file.endswith("missing_import.jsonnet")
    assert raised.value.line == 1
    assert '"nowhere.libsonnet"' in message
    assert str(JSONNET_DIR / "app" / "nowhere.libsonnet") in message
    assert str(JSONNET_DIR / "lib" / "nowhere.libsonnet") in message


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(RenderError) as raised:
        evaluate_jsonnet("app/syntax_error.jsonnet", base_dir=JSONNET_DIR)
    assert raised.value.file is not None
    assert raised.value.file.endswith("syntax_error.jsonnet")
    assert raised.value.line == 4


def test_runtime_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "fails.jsonnet").write_text("{\n  a: error 'replicas must be set',\n}\n")
    with pytest.raises(RenderError) as raised:
        evaluate_jsonnet("fails.jsonnet", base_dir=tmp_path)
    assert "replicas must be set" in str(raised.value)
    assert raised.value.line == 2


def test_missing_main_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"absent\.jsonnet"):
        evaluate_jsonnet("absent.jsonnet", base_dir=tmp_path)


def test_load_extracts_nested_objects_in_order() -> None:
    manifests = load_jsonnet(
        "app/main.jsonnet",
        base_dir=JSONNET_DIR,
        lib_paths=["lib"],
        ext_vars={"namespace": "monitoring"},
    )
    names = [m.name for m in manifests]
    assert names == ["dashboards-app", "extra-app"]
    assert manifests[0].source is not None
    assert manifests[0].source.file == str(JSONNET_DIR / "app" / "main.jsonnet")


def test_kind_list_is_flattened() -> None:
    manifests = load_jsonnet("app/list.jsonnet", base_dir=JSONNET_DIR)
    assert [m.name for m in manifests] == ["one", "two"]


def test_non_object_leaf_is_rejected_with_path() -> None:
    with pytest.raises(RenderError, match=r"\$\.objects\.port is a number"):
        load_jsonnet("app/bad_output.jsonnet", base_dir=JSONNET_DIR)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"apiVersion": "v1", "kind": "ConfigMap"}, 1),
        ([{"apiVersion": "v1", "kind": "ConfigMap"}, [{"apiVersion": "v1", "kind": "Secret"}]], 2),
        ({"a": {"b": {"apiVersion": "v1", "kind": "ConfigMap"}}, "c": None}, 1),
        ({"apiVersion": "v1", "kind": "ConfigMapList", "items": []}, 0),
        (None, 0),
    ],
)
def test_objects_from_value_shapes(value: Any, expected: int) -> None:
    assert len(objects_from_value(value, "x.jsonnet")) == expected


def test_custom_list_kind_without_items_is_an_object() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "ShoppingList", "spec": {}}
    assert objects_from_value(obj, "x.jsonnet") == [obj]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"web": {"apiVersion": "apps/v1", "metadata": {"name": "web"}, "spec": {}}},
            "output at $.web (metadata.name web) has apiVersion apps/v1 but no kind; "
            "every Kubernetes object needs apiVersion and kind",
        ),
        (
            [{"kind": "ConfigMap", "data": {}}],
            "output at $[0] has kind ConfigMap but no apiVersion",
        ),
    ],
)
def test_object_without_kind_is_named(value: Any, message: str) -> None:
    with pytest.raises(RenderError) as raised:
        objects_from_value(value, "x.jsonnet")
    assert message in str(raised.value)
    assert str(raised.value).startswith("x.jsonnet: ")
