"""Plan descriptions: the text of `deployer plan` and the data of `-o json`."""

from __future__ import annotations

from deployer.model.objects import Manifest, Source
from deployer.model.plan import Plan
from deployer.plan import build_plan, format_plan, plan_to_data


def obj(
    kind: str, name: str, namespace: str | None, *, api_version: str = "v1", **annotations: str
) -> Manifest:
    metadata: dict[str, object] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = {
            f"deployer.dev/{k.replace('_', '-')}": v for k, v in annotations.items()
        }
    body = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    return Manifest(body=body, source=Source(f"{name}.yaml", 3))


def test_format_lists_waves_objects_and_sources() -> None:
    plan = build_plan([obj("ConfigMap", "settings", "shop"), obj("Namespace", "shop", None)])

    text = format_plan(plan)

    assert text.splitlines() == [
        "wave 1 of 2: namespaces (1 object)",
        "  Namespace shop" + " " * 11 + "shop.yaml:3",
        "wave 2 of 2: configuration (1 object)",
        "  ConfigMap shop/settings  settings.yaml:3",
    ]


def test_format_shows_dependencies_but_not_the_own_namespace() -> None:
    api = obj("Deployment", "api", "shop", api_version="apps/v1", depends_on="Service/db")
    plan = build_plan([api, obj("Service", "db", "shop"), obj("Namespace", "shop", None)])

    lines = format_plan(plan).splitlines()

    assert lines[-2].startswith("  Deployment shop/api")
    assert lines[-1] == "    after Service shop/db"
    assert "after Namespace shop" not in format_plan(plan)


def test_format_without_dependencies_omits_them() -> None:
    api = obj("Deployment", "api", "shop", api_version="apps/v1", depends_on="Service/db")
    plan = build_plan([api, obj("Service", "db", "shop")])

    assert "after" not in format_plan(plan, dependencies=False)


def test_format_of_empty_plan() -> None:
    assert format_plan(Plan(waves=())) == "no objects to apply\n"


def test_plan_data_lists_waves_with_objects() -> None:
    api = obj("Deployment", "api", "shop", api_version="apps/v1", depends_on="Service/db")
    plan = build_plan([api, obj("Service", "db", "shop")])

    data = plan_to_data(plan)

    assert [wave["wave"] for wave in data] == [1, 2]
    assert data[1]["objects"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "api",
            "source": "api.yaml:3",
            "dependsOn": ["Service shop/db"],
        }
    ]
