"""Check a custom resource against the schema of a CustomResourceDefinition in the same set.

Until its CRD is applied, the server does not serve a custom resource's kind, so a dry
run cannot judge it. These checks validate it offline instead, against the version's
`openAPIV3Schema` from the CRD manifest, with the jsonschema library's Draft 4 validator,
whose keywords match OpenAPI 3.0's (a boolean `exclusiveMinimum`, for example). Two
Kubernetes rules are translated first:
`nullable: true` also allows null, and a property with a `default` is not required,
because the server fills in defaults before it validates.

NOTE: these rules are checked only by the server, at the write: `x-kubernetes-validations`
(CEL), `format`, `x-kubernetes-list-type` uniqueness, and fields the schema does not declare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError

from deployer.errors import Problem
from deployer.model.objects import Manifest
from deployer.plan.graph import manifest_label, object_label
from deployer.plan.ranks import EXTENSIONS

# Keywords whose value is one schema, a list of schemas, or a map of names to schemas.
ONE_SCHEMA = ("items", "not", "additionalProperties", "additionalItems")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
SCHEMA_MAPS = ("properties", "patternProperties", "definitions")


def defines_kind(crd: Manifest, group: str, kind: str) -> bool:
    """Tell whether `crd` is a CustomResourceDefinition for `kind` in API group `group`."""
    if crd.kind != "CustomResourceDefinition" or crd.group != EXTENSIONS:
        return False
    spec = crd.body.get("spec") or {}
    names = spec.get("names") or {}
    return spec.get("group") == group and names.get("kind") == kind


def custom_resource_problems(resource: Manifest, crd: Manifest) -> list[Problem] | None:
    """Validate `resource` against the schema that `crd` gives its version.

    Returns the problems found (empty when valid), or None when the version has no
    schema that can be checked.
    """
    label = manifest_label(resource)
    versions = (crd.body.get("spec") or {}).get("versions") or []
    served = [v for v in versions if isinstance(v, Mapping) and v.get("served", True)]
    version = next((v for v in served if v.get("name") == resource.version), None)
    if version is None:
        names = ", ".join(str(v.get("name")) for v in served) or "none"
        message = (
            f"version {resource.version} is not served by {object_label(crd.ref)}; "
            f"served versions: {names}"
        )
        return [Problem(label, "apiVersion", message)]
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    if not isinstance(schema, Mapping):
        return None
    translated = json_schema(schema)
    try:
        Draft4Validator.check_schema(translated)
    except SchemaError:
        return None  # the CRD's own dry run reports its broken schema
    validator = Draft4Validator(translated)
    errors = sorted(validator.iter_errors(resource.body), key=lambda e: list(map(str, e.path)))
    return [Problem(label, field_path(error.absolute_path), error.message) for error in errors]


def json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Translate one OpenAPI 3.0 schema node of a CRD to Draft 4 JSON Schema."""
    translated: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "format"):
            continue
        if key in ONE_SCHEMA and isinstance(value, Mapping):
            translated[key] = json_schema(value)
        elif key in SCHEMA_LISTS and isinstance(value, list):
            translated[key] = [json_schema(item) for item in value if isinstance(item, Mapping)]
        elif key in SCHEMA_MAPS and isinstance(value, Mapping):
            translated[key] = {
                name: json_schema(item) for name, item in value.items() if isinstance(item, Mapping)
            }
        else:
            translated[key] = value
    if schema.get("nullable") is True:
        if isinstance(translated.get("type"), str):
            translated["type"] = [translated["type"], "null"]
        if isinstance(translated.get("enum"), list):
            translated["enum"] = [*translated["enum"], None]
    properties = schema.get("properties") or {}
    required = translated.get("required")
    if isinstance(required, list):
        still_required = [
            name
            for name in required
            if not (isinstance(properties.get(name), Mapping) and "default" in properties[name])
        ]
        if still_required:
            translated["required"] = still_required
        else:
            del translated["required"]
    return translated


def field_path(parts: Sequence[str | int]) -> str:
    """Join a jsonschema error path as problem paths are written: `spec.ports[0].port`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
