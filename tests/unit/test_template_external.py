"""Objects built for a fixture's attached external endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.engine.templates.external import external_objects
from deployer.errors import WorkflowError


def _service(**fields: Any) -> dict[str, Any]:
    return {"service": {"name": "orders-db", **fields}}


def test_addresses_give_service_and_endpoint_slice() -> None:
    objects = external_objects(
        _service(port=27017, addresses=["192.0.2.10"]), default_namespace="shop"
    )
    kinds = [(m.kind, m.name, m.namespace) for m in objects]
    assert kinds == [
        ("Service", "orders-db", "shop"),
        ("EndpointSlice", "orders-db-external", "shop"),
    ]
    service, endpoint_slice = (m.body for m in objects)
    assert "selector" not in service["spec"]
    assert service["spec"]["ports"] == [{"port": 27017, "protocol": "TCP"}]
    assert endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"] == "orders-db"
    assert endpoint_slice["addressType"] == "IPv4"
    assert endpoint_slice["endpoints"] == [
        {"addresses": ["192.0.2.10"], "conditions": {"ready": True}}
    ]


def test_ipv6_addresses_set_address_type() -> None:
    objects = external_objects(
        _service(port=5432, addresses=["2001:db8::1"]), default_namespace="shop"
    )
    assert objects[1].body["addressType"] == "IPv6"


def test_external_name_gives_one_service() -> None:
    objects = external_objects(
        _service(externalName="db.example.internal", namespace="data"), default_namespace="shop"
    )
    assert len(objects) == 1
    spec = objects[0].body["spec"]
    assert spec["type"] == "ExternalName"
    assert spec["externalName"] == "db.example.internal"
    assert objects[0].namespace == "data"


def test_several_ports_are_named() -> None:
    objects = external_objects(
        _service(ports=[{"port": 80}, {"name": "tls", "port": 443}], addresses=["192.0.2.1"]),
        default_namespace="shop",
    )
    names = [port["name"] for port in objects[0].body["spec"]["ports"]]
    assert names == ["port-80", "tls"]
    assert [p["name"] for p in objects[1].body["ports"]] == names


def test_list_of_external_services() -> None:
    value = [_service(externalName="a.example"), {"service": {"name": "b", "externalName": "b.x"}}]
    assert [m.name for m in external_objects(value, default_namespace="shop")] == ["orders-db", "b"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (_service(port=1), "either addresses"),
        (_service(port=1, addresses=["192.0.2.1"], externalName="x.example"), "not both"),
        (_service(addresses=["192.0.2.1"]), "port (or ports) is missing"),
        (_service(port=70000, addresses=["192.0.2.1"]), "from 1 to 65535"),
        (_service(port="http", addresses=["192.0.2.1"]), "from 1 to 65535"),
        (_service(port=80, addresses=["db.internal"]), "is not an IP address"),
        (_service(port=80, addresses=["192.0.2.1", "2001:db8::1"]), "mix IPv4 and IPv6"),
        (_service(port=80, ports=[{"port": 81}], addresses=["192.0.2.1"]), "not both"),
        (_service(port=80, addresses=["192.0.2.1"], selector={"app": "x"}), "not supported"),
        ({"endpoint": {}}, "must be {service: {...}}"),
    ],
)
def test_invalid_external_is_rejected(value: Any, message: str) -> None:
    with pytest.raises(WorkflowError) as raised:
        external_objects(value, default_namespace="shop")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "in the loopback range"),
        ("::1", "in the loopback range"),
        ("::ffff:127.0.0.1", "in the loopback range"),
        ("0.0.0.0", "unspecified"),
        ("169.254.10.1", "in the link-local range"),
        ("fe80::1", "in the link-local range"),
        ("224.0.0.5", "in the link-local multicast range"),
        ("ff02::1", "in the link-local multicast range"),
    ],
)
def test_address_rejected_by_api_server_is_named(address: str, reason: str) -> None:
    value = {"service": {"name": "db", "port": 5432, "addresses": [address]}}
    with pytest.raises(WorkflowError) as raised:
        external_objects(value, default_namespace="shop")
    message = str(raised.value)
    assert f"fixture.external.service db: address {address} is {reason}" in message
    assert "the API server rejects in an EndpointSlice" in message


@pytest.mark.parametrize("address", ["192.0.2.10", "10.0.0.1", "2001:db8::1", "224.0.1.1"])
def test_routable_address_is_accepted(address: str) -> None:
    value = {"service": {"name": "db", "port": 5432, "addresses": [address]}}
    objects = external_objects(value, default_namespace="shop")
    assert objects[1].body["endpoints"] == [{"addresses": [address], "conditions": {"ready": True}}]
