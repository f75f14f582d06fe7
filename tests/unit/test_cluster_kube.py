"""Loading only the parts of the kubernetes package that deployer uses.

Each test runs in a fresh interpreter, because what matters is which modules the first
import of `deployer.cluster` loads.
"""

from __future__ import annotations

import json
import subprocess
import sys


def _run(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter and return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_import_skips_generated_apis_and_models() -> None:
    result = _run(
        "import json, sys\n"
        "import deployer.cluster\n"
        "names = [n for n in sys.modules if n.startswith('kubernetes')]\n"
        "print(json.dumps({'modules': names}))\n"
    )
    modules = result["modules"]
    assert isinstance(modules, list)
    assert "kubernetes.client.api_client" in modules
    assert "kubernetes.config.kube_config" in modules
    assert "kubernetes.client.models.v1_pod" not in modules
    assert "kubernetes.client.api.core_v1_api" not in modules
    assert len([name for name in modules if name.startswith("kubernetes.client.models.")]) == 0


def test_whole_package_loads_on_first_use() -> None:
    result = _run(
        "import json\n"
        "from deployer.cluster import kube\n"
        "import kubernetes\n"
        "from kubernetes.client import V1ObjectMeta, CoreV1Api\n"
        "import kubernetes.dynamic\n"
        "print(json.dumps({\n"
        "    'pod': kubernetes.client.models.V1Pod.__name__,\n"
        "    'meta': V1ObjectMeta.__name__,\n"
        "    'api': CoreV1Api.__name__,\n"
        "    'dynamic': kubernetes.dynamic.DynamicClient.__name__,\n"
        "    'same_client': kubernetes.client.ApiClient is kube.ApiClient,\n"
        "    'same_exception': kubernetes.client.rest.ApiException is kube.ApiException,\n"
        "    'version': kubernetes.client.__version__ == kubernetes.__version__,\n"
        "}))\n"
    )
    assert result["pod"] == "V1Pod"
    assert result["meta"] == "V1ObjectMeta"
    assert result["api"] == "CoreV1Api"
    assert result["dynamic"] == "DynamicClient"
    assert result["same_client"] is True
    assert result["same_exception"] is True
    assert result["version"] is True


def test_already_imported_package_is_used() -> None:
    result = _run(
        "import json\n"
        "import kubernetes.client\n"
        "from deployer.cluster import kube\n"
        "print(json.dumps({\n"
        "    'same_client': kubernetes.client.ApiClient is kube.ApiClient,\n"
        "    'same_exception': kubernetes.client.ApiException is kube.ApiException,\n"
        "}))\n"
    )
    assert result["same_client"] is True
    assert result["same_exception"] is True
