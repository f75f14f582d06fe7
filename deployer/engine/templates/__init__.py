"""Deployer's own template kinds, keyed by the template field that selects them.

The runner looks a template's kind up in `KINDS` and calls its `run` or `destroy`
(see `deployer.engine.kinds` for the contract, docs/templates.md for the fields).
"""

from __future__ import annotations

from deployer.engine.kinds import TemplateKind
from deployer.engine.templates.fixture import FixtureKind
from deployer.engine.templates.helm import HelmKind
from deployer.engine.templates.jsonnet import JsonnetKind
from deployer.engine.templates.manifests import ManifestsKind

KINDS: dict[str, TemplateKind] = {
    "manifests": ManifestsKind(),
    "helm": HelmKind(),
    "jsonnet": JsonnetKind(),
    "fixture": FixtureKind(),
}

__all__ = ["KINDS"]
