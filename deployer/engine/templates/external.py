"""Objects that attach an external endpoint to a stack (the fixture's `external`).

```yaml
external:
  service:
    name: orders-db-external
    namespace: sock-shop        # default: the step's namespace
    port: 27017                 # or ports: [{name: mongo, port: 27017, protocol: TCP}]
    addresses: [192.0.2.10]     # Service without selector + EndpointSlice
    # externalName: db.example.internal   -> Service of type ExternalName instead
```

`external` may also be a list of such mappings. Addresses of one Service must all be
IPv4 or all IPv6, because an EndpointSlice has one address type.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from deployer.engine.templates.common import Spec
from deployer.errors import WorkflowError
from deployer.model.objects import Manifest

SERVICE_FIELDS = ("name", "namespace", "port", "ports", "addresses", "externalName")
PORT_FIELDS = ("name", "port", "protocol")
MANAGED_BY = "deployer.dev"  # value of endpointslice.kubernetes.io/managed-by


def external_objects(value: Any, *, default_namespace: str) -> list[Manifest]:
    """Build the Service (and EndpointSlice) manifests for `external`, in apply order."""
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    objects: list[Manifest] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or set(entry) != {"service"}:
            raise WorkflowError(
                f"fixture.external must be {{service: {{...}}}} or a list of them; got {entry!r}"
            )
        objects.extend(_service_objects(entry["service"], default_namespace))
    return objects


def _service_objects(value: Any, default_namespace: str) -> list[Manifest]:
    if not isinstance(value, Mapping):
        raise WorkflowError(f"fixture.external.service must be a mapping, got {value!r}")
    reader = Spec("fixture.external.service", value, SERVICE_FIELDS)
    name = reader.required("name")
    namespace = reader.string("namespace") or default_namespace
    external_name = reader.string("externalName")
    addresses = reader.strings("addresses")
    if bool(external_name) == bool(addresses):
        raise WorkflowError(
            f"fixture.external.service {name}: give either addresses (a list of IPs) "
            "or externalName (a DNS name), not both and not neither"
        )
    ports = _ports(reader, name, required=not external_name)
    metadata = {"name": name, "namespace": namespace}
    spec: dict[str, Any] = {"ports": ports} if ports else {}
    if external_name:
        spec.update({"type": "ExternalName", "externalName": external_name})
        return [_manifest("v1", "Service", metadata, spec=spec)]

    service = _manifest("v1", "Service", metadata, spec=spec)
    endpoint_slice = _manifest(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        {
            "name": f"{name}-external",
            "namespace": namespace,
            "labels": {
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
            },
        },
        addressType=_address_type(addresses, name),
        endpoints=[
            {"addresses": [address], "conditions": {"ready": True}} for address in addresses
        ],
        ports=[_slice_port(port) for port in ports],
    )
    return [service, endpoint_slice]


def _ports(reader: Spec, name: str, *, required: bool) -> list[dict[str, Any]]:
    single = reader.body.get("port")
    many = reader.body.get("ports")
    if single is not None and many is not None:
        raise WorkflowError(f"fixture.external.service {name}: give port or ports, not both")
    if single is not None:
        entries: list[Any] = [{"port": single}]
    elif many is not None:
        if not isinstance(many, list):
            raise WorkflowError(f"fixture.external.service {name}: ports must be a list")
        entries = list(many)
    else:
        entries = []
    if required and not entries:
        raise WorkflowError(f"fixture.external.service {name}: port (or ports) is missing")
    return [_port(entry, name, index, len(entries)) for index, entry in enumerate(entries)]


def _port(entry: Any, service: str, index: int, count: int) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise WorkflowError(f"fixture.external.service {service}: ports[{index}] must be a mapping")
    reader = Spec(f"fixture.external.service {service} ports[{index}]", entry, PORT_FIELDS)
    try:
        number = int(str(entry.get("port")))
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise WorkflowError(
            f"fixture.external.service {service}: ports[{index}].port must be a number "
            f"from 1 to 65535, got {entry.get('port')!r}"
        )
    port: dict[str, Any] = {"port": number, "protocol": reader.string("protocol") or "TCP"}
    # A Service with several ports must name each; EndpointSlice ports match by name.
    port_name = reader.string("name") or (f"port-{number}" if count > 1 else None)
    if port_name:
        port["name"] = port_name
    return port


def _slice_port(port: Mapping[str, Any]) -> dict[str, Any]:
    result = {"port": port["port"], "protocol": port["protocol"]}
    if "name" in port:
        result["name"] = port["name"]
    return result


def _address_type(addresses: list[str], name: str) -> str:
    versions = set()
    for address in addresses:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise WorkflowError(
                f"fixture.external.service {name}: address {address!r} is not an IP "
                "address; use externalName for a DNS name"
            ) from None
        problem = endpoint_address_problem(parsed)
        if problem:
            raise WorkflowError(
                f"fixture.external.service {name}: address {address} is {problem}, which "
                "the API server rejects in an EndpointSlice; give an address that the "
                "cluster's pods can reach"
            )
        versions.add(parsed.version)
    if len(versions) > 1:
        raise WorkflowError(
            f"fixture.external.service {name}: addresses mix IPv4 and IPv6; "
            "attach them as two services"
        )
    return "IPv6" if versions == {6} else "IPv4"


def endpoint_address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Return why the API server rejects `address` in an EndpointSlice, or "".

    The rules are those of ValidateEndpointIP in Kubernetes 1.37
    (pkg/apis/core/validation), which reads an IPv4-mapped IPv6 address as IPv4.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "in the loopback range (127.0.0.0/8, ::1/128)"
    if address.is_link_local:
        return "in the link-local range (169.254.0.0/16, fe80::/10)"
    link_local_multicast = (
        address in ipaddress.ip_network("224.0.0.0/24")
        if address.version == 4
        else address.is_multicast and address.packed[1] & 0x0F == 0x02
    )
    if link_local_multicast:
        return "in the link-local multicast range (224.0.0.0/24, ff02::/16)"
    return ""


def _manifest(api_version: str, kind: str, metadata: dict[str, Any], **fields: Any) -> Manifest:
    return Manifest(body={"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields})
