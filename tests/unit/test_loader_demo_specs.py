"""The demo manifests under kubernetes-spec/ load, plan and pass the static checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.plan import build_plan, static_problems
from deployer.sources import load_paths

SPEC = Path(__file__).resolve().parents[2] / "kubernetes-spec"
PARAMETERS = {
    "namespace": "sock-shop",
    "storage_class": "standard",
    "zipkin_namespace": "zipkin",
    "grafana_admin_password": "not-a-real-password",
}
FOLDERS = (
    sorted(p.name for p in SPEC.iterdir() if p.is_dir() and any(p.glob("*.yaml")))
    if SPEC.is_dir()
    else []
)


@pytest.mark.parametrize("folder", FOLDERS)
def test_demo_folder_loads_plans_and_passes_checks(folder: str) -> None:
    manifests = load_paths([SPEC / folder], parameters=PARAMETERS)

    plan = build_plan(manifests)

    assert len(plan) == len(manifests) > 0
    assert static_problems(manifests) == []


def test_demo_namespace_precedes_everything_in_it() -> None:
    manifests = load_paths([SPEC / "sock-shop-usvc"], parameters=PARAMETERS)

    plan = build_plan(manifests)

    assert [m.kind for m in plan.waves[0].manifests] == ["Namespace"]
