"""The parts of the `kubernetes` client package that deployer uses, loaded without the rest.

`kubernetes/client/__init__.py`, `kubernetes/client/api/__init__.py` and
`kubernetes/client/models/__init__.py` import every generated API class and model, and
`kubernetes/__init__.py` imports `kubernetes.client`. That costs about 31 MB: with
Python 3.11 and kubernetes 36.0.3, `python -c "import kubernetes"` peaks at 68 MB of
RSS, and `python -c "import deployer.cluster.kube"` at 37 MB. deployer sends raw
requests through `ApiClient.call_api` and decodes the JSON itself, so it needs only the
API client, its configuration, the exceptions and the kubeconfig loader.

So before `kubernetes` is first imported, the three packages enter `sys.modules` as
empty packages that find their submodules as usual. The names of `kubernetes.client`
that come from its light modules (`ApiClient`, `Configuration` and the exceptions) are
read from those modules. Any other name that such a package lacks runs its real
`__init__.py` in place on first use, so other code that imports `kubernetes` still gets
the whole package. If `kubernetes` was imported already, or its layout differs from what
this module expects, it is imported as it is.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import logging
import sys
import threading
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

# Packages whose `__init__.py` imports the generated code, parents first.
DEFERRED_PACKAGES = ("kubernetes.client", "kubernetes.client.api", "kubernetes.client.models")

# Names that `kubernetes/client/__init__.py` imports from modules without generated code.
CLIENT_NAMES = {
    "ApiClient": "kubernetes.client.api_client",
    "Configuration": "kubernetes.client.configuration",
    "OpenApiException": "kubernetes.client.exceptions",
    "ApiTypeError": "kubernetes.client.exceptions",
    "ApiValueError": "kubernetes.client.exceptions",
    "ApiKeyError": "kubernetes.client.exceptions",
    "ApiAttributeError": "kubernetes.client.exceptions",
    "ApiException": "kubernetes.client.exceptions",
}

_full_load_lock = threading.RLock()


class _DeferredInit:
    """The `__getattr__` of a deferred package: runs its real `__init__.py` on first use."""

    def __init__(self, module: ModuleType, light_names: dict[str, str]) -> None:
        self.module = module
        self.light_names = light_names
        self.running = False

    def __call__(self, name: str) -> Any:
        if name in self.light_names:
            return getattr(importlib.import_module(self.light_names[name]), name)
        submodule = f"{self.module.__name__}.{name}"
        if not name.startswith("__") and importlib.util.find_spec(submodule) is not None:
            # `from package import submodule` reads the attribute before importing it.
            return importlib.import_module(submodule)
        with _full_load_lock:
            if self.running:
                # `from package import name` in the `__init__.py` itself: AttributeError
                # makes the import system load the submodule `package.name` instead.
                raise AttributeError(f"module {self.module.__name__!r} has no attribute {name!r}")
            if self.module.__dict__.get("__getattr__") is self:
                self._run_init(name)
        return getattr(self.module, name)

    def _run_init(self, name: str) -> None:
        spec = self.module.__spec__
        assert spec is not None and spec.loader is not None
        log.debug("importing all of %s for attribute %s", self.module.__name__, name)
        self.running = True
        try:
            spec.loader.exec_module(self.module)
        finally:
            self.running = False
            del self.module.__dict__["__getattr__"]


def _defer_packages() -> None:
    """Put an empty package for each of DEFERRED_PACKAGES into `sys.modules`.

    The specs are found without importing the parent packages, so that the real
    `kubernetes/__init__.py`, which runs next, finds the empty `kubernetes.client`.
    """
    top = importlib.util.find_spec("kubernetes")
    if top is None or top.submodule_search_locations is None:
        raise ImportError("kubernetes is not an installed package")
    search_paths = {"kubernetes": list(top.submodule_search_locations)}
    for name in DEFERRED_PACKAGES:
        parent, _, child = name.rpartition(".")
        spec = importlib.machinery.PathFinder.find_spec(name, search_paths[parent])
        if spec is None or spec.submodule_search_locations is None or spec.loader is None:
            raise ImportError(f"{name} is not a package")
        search_paths[name] = list(spec.submodule_search_locations)
        module = importlib.util.module_from_spec(spec)
        light_names = CLIENT_NAMES if name == "kubernetes.client" else {}
        module.__dict__["__getattr__"] = _DeferredInit(module, light_names)
        sys.modules[name] = module
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)


def _import_parts() -> tuple[ModuleType, ...]:
    # The top package first, as a plain `import kubernetes.client.api_client` would.
    importlib.import_module("kubernetes")
    return tuple(
        importlib.import_module(name)
        for name in (
            "kubernetes.client.api_client",
            "kubernetes.client.configuration",
            "kubernetes.client.exceptions",
            "kubernetes.config.kube_config",
            "kubernetes.config.config_exception",
        )
    )


def _load() -> tuple[ModuleType, ...]:
    if "kubernetes" in sys.modules:
        return _import_parts()
    try:
        _defer_packages()
        return _import_parts()
    except (ImportError, AttributeError) as failure:
        log.debug("importing all of kubernetes: %s", failure)
        for name in [name for name in sys.modules if name.partition(".")[0] == "kubernetes"]:
            del sys.modules[name]
        importlib.import_module("kubernetes")
        return _import_parts()


_api_client, _configuration, _exceptions, _kube_config, _config_exception = _load()

ApiClient: Any = _api_client.ApiClient
Configuration: Any = _configuration.Configuration
ApiException: Any = _exceptions.ApiException
ConfigException: Any = _config_exception.ConfigException
list_kube_config_contexts: Any = _kube_config.list_kube_config_contexts
load_kube_config: Any = _kube_config.load_kube_config
