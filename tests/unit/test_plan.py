"""Planning: kind ranks, inferred and explicit dependencies, wave numbers, cycles."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.errors import InputError, PlanError
from deployer.model.objects import Manifest, ObjectRef, Source
from deployer.model.plan import Plan
from deployer.plan import build_plan
from deployer.plan.graph import object_label
from deployer.plan.ranks import delete_position
from deployer.sources import load_text

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets"},
    },
}


def obj(
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    api_version: str = "v1",
    annotations: dict[str, str] | None = None,
    file: str = "a.yaml",
    line: int = 1,
) -> Manifest:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = annotations
    body = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    return Manifest(body=body, source=Source(file, line))


def waves_of(plan: Plan) -> list[list[str]]:
    return [[object_label(m.ref) for m in wave.manifests] for wave in plan.waves]


def wave_index(plan: Plan, label: str) -> int:
    for wave in plan.waves:
        if any(object_label(m.ref) == label for m in wave.manifests):
            return wave.index
    raise AssertionError(f"{label} is in no wave")


def test_namespace_in_later_file_goes_in_earlier_wave() -> None:
    pod = obj("Pod", "web", "test", file="a.yaml")
    namespace = obj("Namespace", "test", file="z.yaml")

    plan = build_plan([pod, namespace])

    assert waves_of(plan) == [["Namespace test"], ["Pod test/web"]]
    assert pod.depends_on == (ObjectRef("", "Namespace", None, "test"),)


def test_crd_comes_before_its_resource_in_one_file() -> None:
    text = (
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}\n---\n"
        + "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        + "metadata: {name: widgets.example.com}\n"
        + "spec: {group: example.com, scope: Namespaced, names: {kind: Widget, plural: widgets}}\n"
    )
    widget, crd = load_text(text, file="one.yaml")

    plan = build_plan([widget, crd])

    assert wave_index(plan, "CustomResourceDefinition widgets.example.com") == 0
    assert wave_index(plan, "Widget.example.com ns/w") == 1
    assert widget.depends_on == (crd.ref,)


def test_kind_rank_orders_configuration_services_workloads_jobs() -> None:
    manifests = [
        obj("Job", "migrate", "ns", api_version="batch/v1"),
        obj("Deployment", "web", "ns", api_version="apps/v1"),
        obj("Service", "web", "ns"),
        obj("ConfigMap", "settings", "ns"),
        obj("Secret", "password", "ns"),
        obj("ServiceAccount", "runner", "ns"),
        obj("Widget", "w", "ns", api_version="example.com/v1"),
    ]

    plan = build_plan(manifests)

    assert waves_of(plan) == [
        ["ConfigMap ns/settings", "Secret ns/password", "ServiceAccount ns/runner"],
        ["Service ns/web"],
        ["Deployment ns/web"],
        ["Job ns/migrate"],
        ["Widget.example.com ns/w"],
    ]


def test_order_ignores_file_names() -> None:
    deployment = obj("Deployment", "web", "ns", api_version="apps/v1", file="a.yaml")
    config = obj("ConfigMap", "settings", "ns", file="z.yaml")

    plan = build_plan([deployment, config])

    assert waves_of(plan) == [["ConfigMap ns/settings"], ["Deployment ns/web"]]


def test_depends_on_moves_object_after_its_dependency() -> None:
    deployment = obj(
        "Deployment",
        "api",
        "ns",
        api_version="apps/v1",
        annotations={"deployer.dev/depends-on": "Deployment.apps/db, StatefulSet/ns/cache"},
    )
    db = obj("Deployment", "db", "ns", api_version="apps/v1")
    cache = obj("StatefulSet", "cache", "ns", api_version="apps/v1")

    plan = build_plan([deployment, db, cache])

    assert waves_of(plan) == [
        ["Deployment ns/db", "StatefulSet ns/cache"],
        ["Deployment ns/api"],
    ]
    assert set(deployment.depends_on) == {db.ref, cache.ref}


def test_depends_on_reaches_cluster_scoped_objects() -> None:
    role = obj("ClusterRole", "reader")
    binding = obj(
        "RoleBinding",
        "read",
        "ns",
        api_version="rbac.authorization.k8s.io/v1",
        annotations={"deployer.dev/depends-on": "ClusterRole/reader"},
    )
    role.body["apiVersion"] = "rbac.authorization.k8s.io/v1"

    build_plan([role, binding])

    assert binding.depends_on == (role.ref,)


def test_unknown_reference_names_object_source_and_reference() -> None:
    deployment = obj(
        "Deployment",
        "api",
        "ns",
        api_version="apps/v1",
        annotations={"deployer.dev/depends-on": "ConfigMap/missing"},
        file="api.yaml",
        line=12,
    )

    with pytest.raises(PlanError) as caught:
        build_plan([deployment])

    message = str(caught.value)
    assert message.startswith("Deployment ns/api (api.yaml:12): ")
    assert "'ConfigMap/missing'" in message
    assert "not among the objects being applied" in message


def test_malformed_reference_is_a_plan_error() -> None:
    config = obj("ConfigMap", "a", "ns", annotations={"deployer.dev/depends-on": "a/b/c/d"})

    with pytest.raises(PlanError) as caught:
        build_plan([config])

    assert "invalid reference 'a/b/c/d'" in str(caught.value)


def test_ambiguous_kind_asks_for_the_group() -> None:
    first = obj("Widget", "w", "ns", api_version="a.example.com/v1")
    second = obj("Widget", "w", "ns", api_version="b.example.com/v1")
    user = obj("ConfigMap", "c", "ns", annotations={"deployer.dev/depends-on": "Widget/w"})

    with pytest.raises(PlanError) as caught:
        build_plan([first, second, user])

    assert "Kind.group/name" in str(caught.value)


def test_cycle_is_printed() -> None:
    a = obj(
        "Deployment",
        "a",
        "ns",
        api_version="apps/v1",
        annotations={"deployer.dev/depends-on": "ConfigMap/b"},
    )
    b = obj("ConfigMap", "b", "ns", annotations={"deployer.dev/depends-on": "Deployment/a"})

    with pytest.raises(PlanError) as caught:
        build_plan([a, b])

    first_line = str(caught.value).splitlines()[0]
    assert first_line == "dependency cycle: Deployment ns/a -> ConfigMap ns/b -> Deployment ns/a"


def test_self_reference_is_a_plan_error() -> None:
    config = obj("ConfigMap", "a", "ns", annotations={"deployer.dev/depends-on": "ConfigMap/a"})

    with pytest.raises(PlanError) as caught:
        build_plan([config])

    assert "names the object itself" in str(caught.value)


def test_wave_annotation_is_honoured() -> None:
    late_config = obj("ConfigMap", "late", "ns", annotations={"deployer.dev/wave": "1"})
    deployment = obj("Deployment", "web", "ns", api_version="apps/v1")
    early_job = obj(
        "Job", "setup", "ns", api_version="batch/v1", annotations={"deployer.dev/wave": "-1"}
    )

    plan = build_plan([late_config, deployment, early_job])

    assert waves_of(plan) == [["Job ns/setup"], ["Deployment ns/web"], ["ConfigMap ns/late"]]


def test_same_wave_number_orders_by_rank() -> None:
    wave = {"deployer.dev/wave": "2"}
    deployment = obj("Deployment", "web", "ns", api_version="apps/v1", annotations=wave)
    config = obj("ConfigMap", "settings", "ns", annotations=wave)

    plan = build_plan([deployment, config])

    assert waves_of(plan) == [["ConfigMap ns/settings"], ["Deployment ns/web"]]


def test_unannotated_namespace_moves_before_early_wave() -> None:
    job = obj("Job", "setup", "ns", api_version="batch/v1", annotations={"deployer.dev/wave": "-3"})
    namespace = obj("Namespace", "ns")

    plan = build_plan([job, namespace])

    assert waves_of(plan) == [["Namespace ns"], ["Job ns/setup"]]


def test_unannotated_dependent_moves_after_late_wave() -> None:
    config = obj("ConfigMap", "late", "ns", annotations={"deployer.dev/wave": "5"})
    deployment = obj(
        "Deployment",
        "web",
        "ns",
        api_version="apps/v1",
        annotations={"deployer.dev/depends-on": "ConfigMap/late"},
    )
    other = obj("Deployment", "other", "ns", api_version="apps/v1")

    plan = build_plan([config, deployment, other])

    assert waves_of(plan) == [["Deployment ns/other"], ["ConfigMap ns/late"], ["Deployment ns/web"]]


def test_contradicting_wave_numbers_are_rejected() -> None:
    early = obj(
        "Deployment",
        "web",
        "ns",
        api_version="apps/v1",
        annotations={"deployer.dev/wave": "0", "deployer.dev/depends-on": "ConfigMap/late"},
    )
    late = obj("ConfigMap", "late", "ns", annotations={"deployer.dev/wave": "2"})

    with pytest.raises(PlanError) as caught:
        build_plan([early, late])

    message = str(caught.value)
    assert "Deployment ns/web (a.yaml:1) is in wave 0 but depends on ConfigMap ns/late" in message
    assert "in wave 2" in message


def test_contradiction_through_an_unannotated_object_is_found() -> None:
    early = obj(
        "Job",
        "a",
        "ns",
        api_version="batch/v1",
        annotations={"deployer.dev/wave": "-1", "deployer.dev/depends-on": "ConfigMap/middle"},
    )
    middle = obj(
        "ConfigMap", "middle", "ns", annotations={"deployer.dev/depends-on": "Secret/late"}
    )
    late = obj("Secret", "late", "ns", annotations={"deployer.dev/wave": "4"})

    with pytest.raises(PlanError) as caught:
        build_plan([early, middle, late])

    assert "must come after Secret ns/late (a.yaml:1) in wave 4" in str(caught.value)


def test_invalid_wave_number_names_the_object() -> None:
    config = obj("ConfigMap", "a", "ns", annotations={"deployer.dev/wave": "soon"}, line=3)

    with pytest.raises(InputError) as caught:
        build_plan([config])

    assert str(caught.value).startswith("a.yaml:3: ConfigMap ns/a: deployer.dev/wave must be")


def test_duplicate_object_names_both_sources() -> None:
    first = obj("ConfigMap", "a", "ns", file="one.yaml", line=4)
    second = obj("ConfigMap", "a", "ns", file="two.yaml", line=9)

    with pytest.raises(InputError) as caught:
        build_plan([first, second])

    assert str(caught.value) == (
        "two.yaml:9: ConfigMap ns/a is defined twice (first at one.yaml:4); remove one of the two"
    )


def test_same_name_other_namespace_allowed() -> None:
    plan = build_plan([obj("ConfigMap", "a", "one"), obj("ConfigMap", "a", "two")])

    assert len(plan) == 2


def test_default_namespace_links_objects_without_namespace() -> None:
    config = obj("ConfigMap", "a")
    namespace = obj("Namespace", "apps")

    build_plan([config, namespace], default_namespace="apps")

    assert config.depends_on == (namespace.ref,)


def test_cluster_scoped_kinds_never_depend_on_a_namespace() -> None:
    role = obj("ClusterRole", "reader", api_version="rbac.authorization.k8s.io/v1")
    namespace = obj("Namespace", "apps")

    build_plan([role, namespace], default_namespace="apps")

    assert role.depends_on == ()


def test_generate_name_objects_are_never_duplicates() -> None:
    first = obj("Job", "", "ns", api_version="batch/v1")
    second = obj("Job", "", "ns", api_version="batch/v1")
    for job in (first, second):
        job.body["metadata"] = {"generateName": "run-", "namespace": "ns"}

    assert len(build_plan([first, second])) == 2


def delete_groups(plan: Plan) -> list[list[str]]:
    """Group a plan's objects the way deletion does, first deleted first."""
    groups: dict[tuple[int, int], list[str]] = {}
    for wave in plan.waves:
        for m in wave.manifests:
            position = delete_position(m.group, m.kind, wave.index)
            groups.setdefault(position, []).append(object_label(m.ref))
    return [sorted(groups[position]) for position in sorted(groups)]


def test_deletion_reverses_waves_with_crds_and_namespaces_last() -> None:
    manifests = [
        obj("Namespace", "ns"),
        Manifest(body=dict(CRD), source=Source("crd.yaml", 1)),
        obj("Widget", "w", "ns", api_version="example.com/v1"),
        obj("ConfigMap", "settings", "ns"),
        obj("Deployment", "web", "ns", api_version="apps/v1"),
    ]

    plan = build_plan(manifests)

    assert delete_groups(plan) == [
        ["Widget.example.com ns/w"],
        ["Deployment ns/web"],
        ["ConfigMap ns/settings"],
        ["CustomResourceDefinition widgets.example.com"],
        ["Namespace ns"],
    ]


def test_deletion_deletes_dependents_first() -> None:
    api = obj(
        "Deployment",
        "api",
        "ns",
        api_version="apps/v1",
        annotations={"deployer.dev/depends-on": "Job/seed"},
    )
    seed = obj("Job", "seed", "ns", api_version="batch/v1")

    plan = build_plan([api, seed])

    assert delete_groups(plan) == [["Deployment ns/api"], ["Job ns/seed"]]


def test_deletion_holds_crds_back_from_any_wave() -> None:
    crd = Manifest(body=dict(CRD), source=Source("crd.yaml", 1))
    crd.body["metadata"] = {
        "name": "widgets.example.com",
        "annotations": {"deployer.dev/wave": "3"},
    }
    role = obj("ClusterRole", "reader", api_version="rbac.authorization.k8s.io/v1")
    manifests = [obj("Namespace", "ns"), crd, role]

    plan = build_plan(manifests)

    assert delete_groups(plan) == [
        ["ClusterRole reader"],
        ["CustomResourceDefinition widgets.example.com"],
        ["Namespace ns"],
    ]


def test_empty_set_gives_empty_plan() -> None:
    assert build_plan([]).waves == ()


def test_five_thousand_objects_plan_quickly() -> None:
    manifests = [obj("Namespace", "bench")]
    for i in range(5000):
        kind = ("ConfigMap", "Service", "Secret")[i % 3]
        manifests.append(obj(kind, f"o{i}", "bench"))

    plan = build_plan(manifests)

    assert len(plan) == 5001
    assert len(plan.waves) == 3


def test_kind_without_group_prefers_built_in_kind() -> None:
    core = obj("Service", "web", "ns")
    knative = obj("Service", "web", "ns", api_version="serving.knative.dev/v1")
    user = obj("ConfigMap", "c", "ns", annotations={"deployer.dev/depends-on": "service/web"})

    build_plan([core, knative, user])

    assert user.depends_on == (core.ref,)
