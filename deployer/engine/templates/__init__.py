"""Deployer's own template kinds, keyed by the template field that selects them.

The runner looks a template's kind up in `KINDS` and calls its `run` or `destroy`
(see `deployer.engine.kinds` for the contract, docs/templates.md for the fields).

`KINDS` is built on first access, because the kinds import the cluster client and
helm, and workflow validation imports `spec_checks` from this package without them.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deployer.engine.kinds import TemplateKind


@cache
def _kinds() -> dict[str, TemplateKind]:
    from deployer.engine.templates.fixture import FixtureKind
    from deployer.engine.templates.helm import HelmKind
    from deployer.engine.templates.jsonnet import JsonnetKind
    from deployer.engine.templates.manifests import ManifestsKind

    return {
        "manifests": ManifestsKind(),
        "helm": HelmKind(),
        "jsonnet": JsonnetKind(),
        "fixture": FixtureKind(),
    }


def __getattr__(name: str) -> dict[str, TemplateKind]:
    if name == "KINDS":
        return _kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["KINDS"]
