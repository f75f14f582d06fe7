"""The fields of each deployer template kind and their value types.

The kinds read their specs against these tables at run time, and workflow validation
checks every template against them before the first step runs (see `spec_checks`).
This module imports nothing heavy, so validation does not load the cluster client.
"""

from __future__ import annotations

from enum import Enum


class FieldType(Enum):
    """How a field's value is read, after `{{...}}` substitution."""

    STRING = "a string"  # numbers are taken as their text
    STRINGS = "a string or a list of strings"
    MAPPING = "a mapping"
    FLAG = "true or false"  # a boolean, or the text true or false
    DURATION = "a duration such as 90s, 5m or 1h30m"
    ANY = "any value"  # checked by the kind's own rules


_COMMON = {
    "timeout": FieldType.DURATION,
}
_APPLYING = {
    "namespace": FieldType.STRING,
    "inventory": FieldType.STRING,
    # Server-side apply with force: take over fields that another field manager owns.
    "forceConflicts": FieldType.FLAG,
}

MANIFESTS = {
    "paths": FieldType.STRINGS,
    "parameters": FieldType.MAPPING,
    **_APPLYING,
    **_COMMON,
}
HELM = {
    "chart": FieldType.STRING,
    "repo": FieldType.STRING,
    "version": FieldType.STRING,
    "release": FieldType.STRING,
    "namespace": FieldType.STRING,
    "values": FieldType.MAPPING,
    "valuesFiles": FieldType.STRINGS,
    "stackValues": FieldType.ANY,
    "createNamespace": FieldType.FLAG,
    "skipCrds": FieldType.FLAG,
    "forceConflicts": FieldType.FLAG,
    **_COMMON,
}
JSONNET = {
    "main": FieldType.STRING,
    "libPaths": FieldType.STRINGS,
    "extVars": FieldType.MAPPING,
    "extCode": FieldType.MAPPING,
    "tlas": FieldType.MAPPING,
    "tlaCode": FieldType.MAPPING,
    **_APPLYING,
    **_COMMON,
}
FIXTURE = {
    "resources": FieldType.ANY,
    "external": FieldType.ANY,
    **_COMMON,
}
FIXTURE_RESOURCE = {
    "apiVersion": FieldType.STRING,
    "kind": FieldType.STRING,
    "name": FieldType.STRING,
    "namespace": FieldType.STRING,
}

# Each kind's fields, and the fields a spec must set.
KIND_FIELDS: dict[str, dict[str, FieldType]] = {
    "manifests": MANIFESTS,
    "helm": HELM,
    "jsonnet": JSONNET,
    "fixture": FIXTURE,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "manifests": ("paths",),
    "helm": ("chart",),
    "jsonnet": ("main",),
    "fixture": (),
}
FIXTURE_RESOURCE_REQUIRED = ("apiVersion", "kind", "name")
