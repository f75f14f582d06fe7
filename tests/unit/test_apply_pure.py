"""Pure parts of the apply engine: durations, diffs, masking, inventory, progress lines."""

from __future__ import annotations

from io import StringIO

import pytest
from rich.console import Console

from deployer.cli.apply_cmds import mask_secrets
from deployer.cli.progress import LiveView, event_json, event_line
from deployer.cluster.client import wants_recreate
from deployer.cluster.inventory import Entry, config_map_name, decode, default_name, encode
from deployer.engine.diff import object_diff
from deployer.engine.interrupted import interrupted_message
from deployer.engine.prepare import (
    PlannedNames,
    joined_conflicts,
    problem_from_error,
    with_namespace,
)
from deployer.engine.timeouts import parse_duration
from deployer.errors import (
    ApiError,
    ConflictError,
    ImmutableFieldError,
    InputError,
    Problem,
    ValidationError,
)
from deployer.model.events import ObjectEvent
from deployer.model.objects import Manifest, ObjectRef
from deployer.model.plan import Plan, Wave
from deployer.model.status import State
from deployer.plan import static_problems
from deployer.sources.loader import load_text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25)],
)
def test_duration_parses_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "5d", "1h-3m"])
def test_duration_rejects_bad_text(text: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_duration(text, what="--timeout")
    assert "--timeout" in str(raised.value)


def test_diff_ignores_server_fields() -> None:
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "resourceVersion": "7", "uid": "u", "managedFields": [{}]},
        "data": {"a": "1"},
        "status": {"x": 1},
    }
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "resourceVersion": "8"},
        "data": {"a": "1"},
    }
    assert object_diff("ConfigMap ns/c", live, desired) == ""


def test_diff_of_new_object_shows_every_line_added() -> None:
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    text = object_diff("ConfigMap ns/c", None, desired)
    assert "+kind: ConfigMap" in text
    assert "-kind" not in text


def test_diff_masks_secret_values_and_marks_changes() -> None:
    live = {
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "pw=old"},
        },
        "data": {"pw": "b2xk", "same": "eA=="},
    }
    desired = {
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"pw": "bmV3", "same": "eA=="},
    }
    text = object_diff("Secret ns/s", live, desired)
    assert "b2xk" not in text
    assert "bmV3" not in text
    assert "eA==" not in text
    assert "pw=old" not in text
    assert "+  pw: '*** (changed)'" in text
    assert "same: '***'" in text


def test_template_masking_covers_data_and_string_data() -> None:
    body = {"kind": "Secret", "data": {"a": "eA=="}, "stringData": {"b": "plain"}}
    masked = mask_secrets(body)
    assert masked["data"] == {"a": "***"}
    assert masked["stringData"] == {"b": "***"}
    assert body["stringData"] == {"b": "plain"}


def test_inventory_round_trips_and_dedupes() -> None:
    entries = [
        Entry(1, "apps/v1", "Deployment", "shop", "carts"),
        Entry(0, "v1", "Namespace", None, "shop"),
        Entry(1, "apps/v1", "Deployment", "shop", "carts"),
    ]
    decoded = decode(encode(entries))
    assert decoded == [entries[1], entries[0]]
    assert decoded[0].key == ("", "Namespace", None, "shop")


@pytest.mark.parametrize("name", ["Shop", "a_b", "-x", ""])
def test_inventory_name_must_be_dns_name(name: str) -> None:
    with pytest.raises(InputError):
        config_map_name(name)


def test_default_inventory_name_ignores_order_and_spelling() -> None:
    name = default_name(["k8s/app/", "db.yaml"])
    assert name == default_name(["db.yaml", "./k8s/app"])
    assert name.startswith("db-yaml-")
    assert config_map_name(name).startswith("deployer-inventory-db-yaml-")


def test_default_inventory_name_differs_per_path_set() -> None:
    assert default_name(["app"]) != default_name(["app", "db.yaml"])
    assert default_name(["a/b"]) != default_name(["a-b"])


def test_default_inventory_name_of_dots_is_a_digest() -> None:
    name = default_name([".."])
    assert len(name) == 10
    config_map_name(name)


def _annotated(value: str) -> dict[str, object]:
    return {"metadata": {"annotations": {"deployer.dev/recreate": value}}}


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("True", True), ("false", False)])
def test_recreate_annotation_is_parsed_once(value: str, expected: bool) -> None:
    assert wants_recreate(_annotated(value)) is expected


def test_recreate_annotation_absent_is_false() -> None:
    assert wants_recreate({"metadata": {"name": "x"}}) is False


@pytest.mark.parametrize("value", ["yes", "1", "on", ""])
def test_recreate_annotation_rejects_other_values(value: str) -> None:
    with pytest.raises(InputError) as raised:
        wants_recreate(_annotated(value))
    assert 'deployer.dev/recreate must be "true" or "false"' in str(raised.value)


def _conflict(name: str, path: str) -> ConflictError:
    return ConflictError(
        f"ConfigMap shop/{name}: server-side apply conflicts with another field manager:\n"
        f"  {path} is owned by kubectl-create\n"
        "Rerun with --force-conflicts to take these fields over, or remove them from the manifest.",
        status=409,
        reason="Conflict",
    )


def test_joined_conflicts_list_every_object_and_advise_once() -> None:
    immutable = ImmutableFieldError(
        "Job shop/once: cannot change immutable field spec.template\n"
        "Delete and recreate the object, or set the annotation deployer.dev/recreate.",
        status=422,
        reason="Invalid",
    )
    joined = joined_conflicts([_conflict("a", ".data.A"), immutable, _conflict("b", ".data.B")])
    text = str(joined)
    assert isinstance(joined, ConflictError)
    assert text.startswith("3 object(s) cannot be applied as written:")
    assert "ConfigMap shop/a: server-side apply conflicts" in text
    assert "  .data.A is owned by kubectl-create" in text
    assert "ConfigMap shop/b: server-side apply conflicts" in text
    assert "  .data.B is owned by kubectl-create" in text
    assert "Job shop/once: cannot change immutable field spec.template" in text
    assert text.count("Rerun with --force-conflicts") == 1
    assert text.count("Delete and recreate the object") == 1


def test_joined_immutable_errors_stay_immutable() -> None:
    errors = [
        ImmutableFieldError(f"Job shop/{name}: cannot change immutable field spec\nAdvice.")
        for name in ("a", "b")
    ]
    joined = joined_conflicts(errors)
    assert type(joined) is ImmutableFieldError
    assert "Job shop/a" in str(joined)
    assert "Job shop/b" in str(joined)


def test_planned_names_find_namespaces_and_crd_kinds() -> None:
    manifests = [
        Manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        Manifest(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget"}},
            }
        ),
    ]
    planned = PlannedNames.of(manifests)
    assert planned.namespaces == frozenset({"shop"})
    assert planned.custom_kinds == {("example.com", "Widget"): False}
    assert planned.crds == {("example.com", "Widget"): manifests[1]}


def test_with_namespace_copies_and_keeps_source() -> None:
    original = Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    moved = with_namespace(original, "shop")
    assert moved.namespace == "shop"
    assert original.namespace is None
    assert with_namespace(moved, None).namespace is None


def test_with_namespace_keeps_written_values_for_messages() -> None:
    text = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: c}\ndata: {A: on}\n"
    (loaded,) = load_text(text, file="c.yaml")
    moved = with_namespace(loaded, "shop")
    assert type(moved) is type(loaded)
    (problem,) = static_problems([moved])
    assert problem.message == 'must be a string, got boolean true; quote it: "on"'


def test_event_line_names_object_state_and_reason() -> None:
    event = ObjectEvent(
        ref=ObjectRef("apps", "Deployment", "shop", "carts"),
        state=State.FAILED,
        reason="CrashLoopBackOff",
        message="pod carts-1 container carts: back-off",
    )
    line = event_line(event)
    assert line.startswith("Deployment shop/carts  Failed  CrashLoopBackOff")
    assert line.endswith(": pod carts-1 container carts: back-off")
    assert event_json(event)["state"] == "Failed"


def test_validation_error_counts_problems() -> None:
    problems = [
        Problem("Widget ns/w (a.yaml:1)", "", "unknown kind Widget"),
        Problem("ConfigMap ns/c (a.yaml:5)", "data.X", "must be a string"),
    ]
    message = str(ValidationError(problems))
    assert message.startswith("2 problem(s); nothing was applied:\n")
    assert "field" not in message.splitlines()[0]
    assert "  ConfigMap ns/c (a.yaml:5): data.X: must be a string" in message


def test_missing_namespace_problem_suggests_manifest() -> None:
    manifest = Manifest(
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "gone"},
        }
    )
    error = ApiError('ConfigMap gone/c: namespaces "gone" not found', status=404, reason="NotFound")
    problem = problem_from_error(manifest, error)
    assert problem.message == (
        "namespace gone not found; add a Namespace manifest for it or create it first"
    )


def test_progress_numbers_waves_like_plan() -> None:
    event = ObjectEvent(
        ref=ObjectRef("", "ConfigMap", "ns", "c"), state=State.APPLIED, reason="Created", wave=0
    )
    assert event_json(event)["wave"] == 1
    assert event_json(ObjectEvent(ref=event.ref, state=State.READY))["wave"] is None
    stream = StringIO()
    view = LiveView(Console(file=stream, width=100))
    view(event)
    view.console.print(view._table())
    assert stream.getvalue().split()[5:7] == ["1", "ConfigMap"]


def test_interrupt_message_counts_waves() -> None:
    first = Manifest(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    second = Manifest(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}})
    plan = Plan(waves=(Wave(0, (first,)), Wave(1, (first,)), Wave(2, (second, first))))
    message = interrupted_message(plan, [], 2)
    assert message.startswith("apply interrupted in wave 3 of 3; waves 1 to 2 are applied")
    assert "0 of 2 object(s) of this wave were applied" in message
    assert "still not ready" not in message
    assert interrupted_message(plan, [], 3).startswith("apply interrupted while pruning")
