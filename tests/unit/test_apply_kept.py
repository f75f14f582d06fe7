"""Which objects a prune or destroy keeps, judged over plain inventory entries."""

from __future__ import annotations

from deployer.cluster.inventory import Entry, Stored
from deployer.engine.prune import kept_for_others, kept_in_use, risky_prune_problems
from deployer.plan import build_plan
from deployer.sources.loader import load_text

GROUP = "pets.example.com"
NAMESPACE = Entry(0, "v1", "Namespace", None, "shop")
CRD = Entry(0, "apiextensions.k8s.io/v1", "CustomResourceDefinition", None, f"pets.{GROUP}")
PET = Entry(1, f"{GROUP}/v1", "Pet", "shop", "rex")
SETTINGS = Entry(1, "v1", "ConfigMap", "shop", "settings")
ROLE = Entry(0, "rbac.authorization.k8s.io/v1", "ClusterRole", None, "reader")


def crd_of(entry: Entry) -> str | None:
    return f"pets.{GROUP}" if entry.kind == "Pet" else None


def test_namespace_with_current_objects_is_kept() -> None:
    kept = kept_in_use(
        [NAMESPACE], [SETTINGS], crd_of=crd_of, inventory="app", inventory_namespace="default"
    )
    assert [item.entry for item in kept] == [NAMESPACE]
    assert kept[0].stays_listed
    assert kept[0].reason.startswith("1 object(s) of this apply are in it; to delete it")


def test_namespace_holding_inventory_is_kept() -> None:
    kept = kept_in_use([NAMESPACE], [], crd_of=crd_of, inventory="app", inventory_namespace="shop")
    assert [item.entry for item in kept] == [NAMESPACE]
    assert "it contains inventory app" in kept[0].reason
    assert "--inventory-namespace" in kept[0].reason


def test_crd_with_current_custom_resources_is_kept() -> None:
    kept = kept_in_use(
        [CRD, SETTINGS], [PET], crd_of=crd_of, inventory="app", inventory_namespace="default"
    )
    assert [item.entry for item in kept] == [CRD]
    assert kept[0].reason.startswith("1 custom resource(s) of this apply are of its kinds")


def test_unused_namespace_and_crd_are_not_kept() -> None:
    kept = kept_in_use(
        [NAMESPACE, CRD],
        [Entry(0, "v1", "ConfigMap", "other", "x")],
        crd_of=crd_of,
        inventory="app",
        inventory_namespace="default",
    )
    assert kept == []


def test_object_listed_by_other_inventory_is_kept() -> None:
    other = Stored("two", "default", (CRD, PET))
    kept = kept_for_others([CRD, SETTINGS], [other], crd_of=crd_of, complete=True)
    assert [item.entry for item in kept] == [CRD]
    assert kept[0].reason == "also in inventory default/two"
    assert not kept[0].stays_listed
    assert kept[0].describe() == (
        f"kept CustomResourceDefinition pets.{GROUP}: also in inventory default/two"
    )


def test_namespace_and_crd_needed_by_other_inventory_are_kept() -> None:
    other = Stored("two", "default", (PET,))
    kept = kept_for_others([NAMESPACE, CRD], [other], crd_of=crd_of, complete=True)
    assert [item.entry for item in kept] == [NAMESPACE, CRD]
    assert kept[0].reason == "other inventories list objects in it: 1 in inventory default/two"
    assert kept[1].reason == (
        "other inventories list custom resources of its kinds: 1 in inventory default/two"
    )


def test_incomplete_listing_keeps_cluster_scoped_objects() -> None:
    kept = kept_for_others([ROLE, SETTINGS], [], crd_of=crd_of, complete=False)
    assert [item.entry for item in kept] == [ROLE]
    assert kept[0].reason.startswith("listing the inventories of all namespaces is forbidden")


def test_complete_listing_keeps_nothing_unshared() -> None:
    assert kept_for_others([ROLE, SETTINGS], [], crd_of=crd_of, complete=True) == []


def test_kept_namespace_does_not_stop_prune() -> None:
    plan = build_plan(
        load_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\n",
            file="a.yaml",
        ),
        default_namespace="default",
    )
    previous = [NAMESPACE, SETTINGS]
    assert risky_prune_problems("app", plan, previous) != []
    assert risky_prune_problems("app", plan, previous, kept={NAMESPACE.key}) == []
