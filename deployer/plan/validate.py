"""Static checks that find classic manifest mistakes offline, with the field path and fix.

The API server rejects all of these too, but a dry run often reports them in Go's terms
(`cannot unmarshal bool into Go struct field ...`). These checks name the field and the
value to write instead. They are not a schema: an object that passes may still be
rejected by the server-side dry run that the apply engine runs afterwards.

Values of Secrets never appear in a message.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deployer.errors import Problem
from deployer.model.objects import Manifest
from deployer.plan.graph import manifest_label
from deployer.plan.names import label_key_problems, name_problems

# Keys of ConfigMap and Secret data: letters, digits, '-', '_' and '.'.
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

# A resource quantity: a decimal number, then a binary suffix (Ki ... Ei), a decimal
# suffix (n, u, m, k, M, G, T, P, E) or an exponent. `1GB` and `512mb` are invalid.
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")

# Kinds whose `spec.template` is a pod template, and where their pod spec is.
POD_TEMPLATE_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("", "ReplicationController"),
        ("batch", "Job"),
    }
)
SELECTOR_KINDS = frozenset(k for k in POD_TEMPLATE_KINDS if k[0] == "apps")
POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    **{kind: ("spec", "template", "spec") for kind in POD_TEMPLATE_KINDS},
    ("", "Pod"): ("spec",),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
POD_METADATA_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    **{kind: ("spec", "template", "metadata") for kind in POD_TEMPLATE_KINDS},
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "metadata"),
}


@dataclass(frozen=True)
class Written:
    """The text in the file of the non-string keys and values of a manifest's string maps.

    Both are keyed by the field path built from the loaded body, such as `data.True`
    for the key `on` in `data`. `keys` gives the written key and its line.
    """

    values: Mapping[str, str] = dataclasses.field(default_factory=dict)
    keys: Mapping[str, tuple[str, int]] = dataclasses.field(default_factory=dict)


def static_problems(manifests: Sequence[Manifest]) -> list[Problem]:
    """Return every problem found in `manifests` without a cluster, in input order."""
    problems: list[Problem] = []
    for manifest in manifests:
        label = manifest_label(manifest)
        problems.extend(Problem(label, path, message) for path, message in _check(manifest))
    return problems


def _check(manifest: Manifest) -> Iterator[tuple[str, str]]:
    kind = (manifest.group, manifest.kind)
    text = _written(manifest)
    yield from name_problems(manifest)
    for field in ("labels", "annotations"):
        path = ("metadata", field)
        yield from _string_map(manifest.body, path, text, secret=False)
    if kind in (("", "ConfigMap"), ("", "Secret")):
        yield from _data_problems(manifest, text)
    if kind == ("", "Service"):
        yield from _string_map(manifest.body, ("spec", "selector"), text, secret=False)
        yield from _service_ports(manifest.body)
    metadata_path = POD_METADATA_PATHS.get(kind)
    if metadata_path is not None:
        for field in ("labels", "annotations"):
            yield from _string_map(manifest.body, (*metadata_path, field), text, secret=False)
        labels_path = (*metadata_path, "labels")
        yield from label_key_problems(_get(manifest.body, labels_path), ".".join(labels_path))
    if kind in SELECTOR_KINDS:
        yield from _selector_problems(manifest.body, text)
    spec_path = POD_SPEC_PATHS.get(kind)
    if spec_path is not None:
        yield from _pod_spec_problems(manifest.body, spec_path, text)


def _written(manifest: Manifest) -> Written:
    # The YAML loader (deployer.sources.loader.LoadedManifest) keeps the text of non-string
    # keys and values in string-map fields; other manifests have none.
    values = getattr(manifest, "scalar_text", None)
    keys = getattr(manifest, "key_text", None)
    return Written(
        values if isinstance(values, Mapping) else {}, keys if isinstance(keys, Mapping) else {}
    )


def _get(body: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(body, Mapping):
            return None
        body = body.get(key)
    return body


def _string_map(
    body: Mapping[str, Any], path: Sequence[str], text: Written, *, secret: bool
) -> Iterator[tuple[str, str]]:
    """Check that the field at `path`, if set, maps string keys to strings."""
    values = _get(body, path)
    dotted = ".".join(path)
    if values is None:
        return
    if not isinstance(values, Mapping):
        yield dotted, f"must be a mapping of strings, got {_describe(values, secret=secret)}"
        return
    for key, value in values.items():
        loaded = f"{dotted}.{key}"
        display_path = loaded
        if not isinstance(key, str):
            written = text.keys.get(loaded)
            if written:
                display_path = f"{dotted}.{written[0]} (line {written[1]})"
            if _key_changes(key, written):
                yield display_path, _not_a_string_key(key, written)
        if not isinstance(value, str):
            yield display_path, _not_a_string(value, text.values.get(loaded), secret=secret)


def _key_changes(key: Any, written: tuple[str, int] | None) -> bool:
    """Tell whether a key that YAML read as a boolean, number or null reaches the server
    spelled otherwise than in the file.

    The body is sent as JSON, which writes such keys as text: True as `true`, 420 (from
    `0644`) as `420`. A key such as `80` arrives as written. Without the written text,
    only boolean and null keys count as changed.
    """
    if written is None:
        return key is None or isinstance(key, bool)
    sent = next(iter(json.loads(json.dumps({key: 0}))))
    return bool(sent != written[0])


def _not_a_string_key(key: Any, written: tuple[str, int] | None) -> str:
    """Return the message for a key that YAML read as a boolean, number or null.

    Keys are never secret, so the message shows the key as written.
    """
    read_as = "null" if key is None else f"the {_describe(key, secret=False)}"
    if written is None:
        return f"the key is read as {read_as}; quote it, spelled as in the file"
    return f'the key {written[0]} is read as {read_as}; quote it: "{written[0]}"'


def _not_a_string(value: Any, written: str | None, *, secret: bool) -> str:
    message = f"must be a string, got {_describe(value, secret=secret)}"
    if value is None:
        return f'{message}; write an empty string ("") or remove the key'
    if secret or isinstance(value, Mapping | list):
        return f"{message}; put the value in quotes"
    if written is None and isinstance(value, bool):
        # YAML reads on, yes, true and more as true; the spelling in the file is not known.
        return f"{message}; put the value in quotes, spelled as in the file"
    suggested = written if written is not None else _plain(value)
    return f'{message}; quote it: "{suggested}"'


def _describe(value: Any, *, secret: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean" if secret else f"boolean {_plain(value)}"
    if isinstance(value, int | float):
        return "a number" if secret else f"number {_plain(value)}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _data_problems(manifest: Manifest, text: Written) -> Iterator[tuple[str, str]]:
    secret = manifest.kind == "Secret"
    for field in ("data", "stringData", "binaryData"):
        if field == "stringData" and not secret:
            continue
        yield from _string_map(manifest.body, (field,), text, secret=secret)
        values = manifest.body.get(field)
        if not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            path = f"{field}.{key}"
            if not DATA_KEY.match(str(key)):
                yield path, "invalid key; use only letters, digits, '-', '_' and '.'"
            base64_field = field == "binaryData" or (secret and field == "data")
            if base64_field and isinstance(value, str) and not _is_base64(value):
                hint = "put plain text under stringData, or " if secret else ""
                yield path, f"is not valid base64; {hint}encode it (Jinja2 filter b64encode)"


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _service_ports(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    ports = _get(body, ("spec", "ports"))
    if not isinstance(ports, list):
        return
    for index, port in enumerate(ports):
        if not isinstance(port, Mapping):
            continue
        path = f"spec.ports[{index}]"
        yield from _number_field(port, "port", path)
        yield from _port_name_field(port, "targetPort", path)


def _port_name_field(mapping: Mapping[str, Any], key: str, path: str) -> Iterator[tuple[str, str]]:
    """Flag a digits-only string in an int-or-string port field, which names a port."""
    value = mapping.get(key)
    if isinstance(value, str) and value.isdigit():
        yield (
            f"{path}.{key}",
            f'"{value}" is a digits-only string, which Kubernetes takes as a port NAME; '
            f"write it as a number ({value}) or use a named container port",
        )


def _number_field(mapping: Mapping[str, Any], key: str, path: str) -> Iterator[tuple[str, str]]:
    value = mapping.get(key)
    if isinstance(value, str):
        yield f"{path}.{key}", f'must be a number, got string "{value}"; remove the quotes'


def _selector_problems(body: Mapping[str, Any], text: Written) -> Iterator[tuple[str, str]]:
    path = ("spec", "selector", "matchLabels")
    yield from _string_map(body, path, text, secret=False)
    selector = _get(body, path)
    labels = _get(body, ("spec", "template", "metadata", "labels"))
    if not isinstance(selector, Mapping) or not isinstance(labels, Mapping | None):
        return
    labels = labels or {}
    for key, value in selector.items():
        if labels.get(key) != value:
            yield (
                ".".join(path),
                f"{key}={value} is not among spec.template.metadata.labels; the pod template "
                "must carry every selector label, or the workload never owns its pods",
            )


def _pod_spec_problems(
    body: Mapping[str, Any], spec_path: Sequence[str], text: Written
) -> Iterator[tuple[str, str]]:
    spec = _get(body, spec_path)
    if not isinstance(spec, Mapping):
        return
    prefix = ".".join(spec_path)
    yield from _string_map(body, (*spec_path, "nodeSelector"), text, secret=False)
    for group in ("initContainers", "containers"):
        containers = spec.get(group)
        if not isinstance(containers, list):
            continue
        for index, container in enumerate(containers):
            if isinstance(container, Mapping):
                yield from _container_problems(container, f"{prefix}.{group}[{index}]")


def _container_problems(container: Mapping[str, Any], path: str) -> Iterator[tuple[str, str]]:
    ports = container.get("ports")
    for index, port in enumerate(ports if isinstance(ports, list) else []):
        if isinstance(port, Mapping):
            yield from _number_field(port, "containerPort", f"{path}.ports[{index}]")
    env = container.get("env")
    for index, variable in enumerate(env if isinstance(env, list) else []):
        if not isinstance(variable, Mapping) or "value" not in variable:
            continue
        value = variable["value"]
        if not isinstance(value, str) and value is not None:
            yield f"{path}.env[{index}].value", _not_a_string(value, None, secret=False)
    yield from _resource_problems(container.get("resources"), f"{path}.resources")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        for handler in ("httpGet", "tcpSocket"):
            action = _get(container, (probe, handler))
            if isinstance(action, Mapping):
                yield from _port_name_field(action, "port", f"{path}.{probe}.{handler}")


def _resource_problems(resources: Any, path: str) -> Iterator[tuple[str, str]]:
    if not isinstance(resources, Mapping):
        return
    for group in ("requests", "limits"):
        amounts = resources.get(group)
        if not isinstance(amounts, Mapping):
            continue
        for name, amount in amounts.items():
            valid = isinstance(amount, int | float) and not isinstance(amount, bool)
            if isinstance(amount, str):
                valid = QUANTITY.match(amount) is not None
            if not valid:
                yield (
                    f"{path}.{group}.{name}",
                    f"{amount!r} is not a valid quantity; write a number with an optional "
                    "suffix, such as 500m or 0.5 for CPU and 512Mi or 1Gi for memory",
                )
