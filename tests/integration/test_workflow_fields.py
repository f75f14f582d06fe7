"""The container fields that workflow templates accept match the server's Container schema."""

from __future__ import annotations

import json

import pytest

from deployer.engine.workflow.parse_template import CONTAINER_KEYS
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


def test_container_keys_match_the_server_schema(kubeconfig: str) -> None:
    document = json.loads(kubectl(kubeconfig, "get", "--raw", "/openapi/v3/api/v1").stdout)
    schema = document["components"]["schemas"]["io.k8s.api.core.v1.Container"]
    assert set(schema["properties"]) == CONTAINER_KEYS
