"""Default inventory names per instance, and the guard against surprising prunes."""

from __future__ import annotations

from deployer.cli.apply_cmds import inventory_name
from deployer.cluster.inventory import Entry, config_map_name, default_name
from deployer.engine.prune import prune_candidates, risky_prune_problems
from deployer.model.plan import Plan
from deployer.plan import build_plan
from deployer.sources.loader import load_text


def test_default_name_differs_per_parameter_value() -> None:
    first = default_name(["app/"], parameters={"ns": "t1"})
    second = default_name(["app/"], parameters={"ns": "t2"})
    assert first != second
    assert first.startswith("app-")
    config_map_name(first)


def test_default_name_differs_per_parameter_name() -> None:
    assert default_name(["app"], parameters={"a": "1"}) != default_name(
        ["app"], parameters={"b": "1"}
    )


def test_default_name_ignores_parameter_order() -> None:
    assert default_name(["app"], parameters={"a": "1", "b": "2"}) == default_name(
        ["app"], parameters={"b": "2", "a": "1"}
    )


def test_default_name_differs_per_namespace() -> None:
    assert default_name(["app"], namespace="t1") != default_name(["app"], namespace="t2")
    assert default_name(["app"], namespace="t1") != default_name(["app"])


def test_default_name_without_instance_is_the_paths_name() -> None:
    # The example in docs/manifests.md, which applies without -n and -p keep using.
    assert default_name(["k8s/app/"]) == "k8s-app-3f714be6f8"
    assert default_name(["k8s/app/"], namespace=None, parameters={}) == "k8s-app-3f714be6f8"


def test_parameter_cannot_pose_as_a_path() -> None:
    assert default_name(["app", "b=1"]) != default_name(["app"], parameters={"b": "1"})


def test_cli_name_leaves_out_secret_values() -> None:
    one = inventory_name(None, ["app"], None, {"db_password": "hunter2", "ns": "t1"})
    two = inventory_name(None, ["app"], None, {"db_password": "other", "ns": "t1"})
    assert one == two
    assert one != inventory_name(None, ["app"], None, {"ns": "t1"})
    assert one != inventory_name(None, ["app"], None, {"db_password": "x", "ns": "t2"})


def test_cli_name_prefers_given_inventory() -> None:
    assert inventory_name("shop", ["app"], "t1", {"ns": "t1"}) == "shop"


def _plan(text: str) -> Plan:
    return build_plan(load_text(text, file="a.yaml"), default_namespace="default")


def _config_map(name: str, namespace: str = "default") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {namespace}}}\n"


def _entry(kind: str, name: str, namespace: str | None = "default") -> Entry:
    return Entry(0, "v1", kind, namespace, name)


def test_prune_of_namespace_is_stopped() -> None:
    previous = [
        _entry("Namespace", "t1", None),
        _entry("ConfigMap", "a", "t1"),
        _entry("ConfigMap", "keep"),
        _entry("ConfigMap", "keep2"),
        _entry("ConfigMap", "keep3"),
    ]
    plan = _plan("---\n".join(_config_map(name) for name in ("keep", "keep2", "keep3")))
    problems = risky_prune_problems("app", plan, previous)
    assert len(problems) == 1
    assert problems[0].object == "inventory app"
    assert "would delete Namespace t1 and everything in it" in problems[0].message
    assert "no longer in the manifests: ConfigMap t1/a, Namespace t1." in problems[0].message
    assert "Pass --prune to delete them, or --no-prune to keep them" in problems[0].message


def test_prune_of_most_objects_is_stopped() -> None:
    previous = [_entry("ConfigMap", name) for name in ("a", "b", "c")]
    problems = risky_prune_problems("app", _plan(_config_map("a")), previous)
    assert len(problems) == 1
    assert "would delete 2 of its 3 objects" in problems[0].message


def test_prune_of_half_the_objects_goes_through() -> None:
    previous = [_entry("ConfigMap", name) for name in ("a", "b", "c", "d")]
    plan = _plan(_config_map("a") + "---\n" + _config_map("b"))
    assert risky_prune_problems("app", plan, previous) == []


def test_prune_replacing_the_only_object_goes_through() -> None:
    previous = [_entry("ConfigMap", "old")]
    assert risky_prune_problems("app", _plan(_config_map("new")), previous) == []


def test_generate_name_replacements_are_not_candidates() -> None:
    previous = [_entry("Pod", "job-x1"), _entry("Pod", "job-x2"), _entry("ConfigMap", "gone")]
    plan = _plan(
        "apiVersion: v1\nkind: Pod\nmetadata: {generateName: job-x, namespace: default}\n"
        "spec: {containers: [{name: c, image: busybox}]}\n"
    )
    assert prune_candidates(plan, previous) == [_entry("ConfigMap", "gone")]
    assert risky_prune_problems("app", plan, previous) == []
