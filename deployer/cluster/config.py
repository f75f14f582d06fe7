"""Build an API client from a kubeconfig the way kubectl finds it.

Order: the `kubeconfig` argument (kubectl's `--kubeconfig`), else the `KUBECONFIG`
environment variable (a colon-separated list, merged), else `~/.kube/config`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from deployer.cluster import kube
from deployer.errors import ApiError

POOL_SIZE = 32  # connections shared by every thread; matches the apply parallelism
USER_AGENT = "deployer/0.1"


@dataclass(frozen=True)
class Connection:
    """An API client plus the context's name, server URL and default namespace."""

    api_client: Any  # kubernetes.client.ApiClient
    context: str
    server: str
    default_namespace: str


def kubeconfig_files(kubeconfig: str | None) -> str:
    """Return the kubeconfig path (or colon-separated list) that kubectl would read."""
    if kubeconfig:
        return os.path.expanduser(kubeconfig)
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _where_to_fix(kubeconfig: str | None) -> str:
    if kubeconfig:
        return "check the --kubeconfig path"
    if os.environ.get("KUBECONFIG"):
        return "check the KUBECONFIG variable"
    return "pass --kubeconfig or set KUBECONFIG"


def _reason(failure: Exception) -> str:
    """Return the client library's message without its trailing period."""
    return str(failure).strip().rstrip(".")


def connect(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """Load the kubeconfig and return a client with one shared connection pool."""
    files = kubeconfig_files(kubeconfig)
    paths = [path for path in files.split(os.pathsep) if path]
    if not any(os.path.exists(path) for path in paths):
        # Like kubectl, a KUBECONFIG list is usable when at least one of its files exists.
        raise ApiError(f"kubeconfig {files} not found; {_where_to_fix(kubeconfig)}")
    configuration = kube.Configuration()
    try:
        contexts, active = kube.list_kube_config_contexts(config_file=files)
    except (kube.ConfigException, OSError, yaml.YAMLError) as failure:
        raise ApiError(f"invalid kubeconfig {files}: {_reason(failure)}") from None
    names = [str(entry.get("name") or "") for entry in contexts]
    if context and context not in names:
        known = ", ".join(names) or "none"
        raise ApiError(
            f'context "{context}" not found in kubeconfig {files}; contexts: {known}. '
            "Pass one of them with --context, or omit --context for the current one."
        )
    try:
        kube.load_kube_config(
            config_file=files,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (kube.ConfigException, OSError, yaml.YAMLError) as failure:
        raise ApiError(f"invalid kubeconfig {files}: {_reason(failure)}") from None

    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    namespace = str(((chosen or {}).get("context") or {}).get("namespace") or "default")
    configuration.connection_pool_maxsize = POOL_SIZE
    # Retries are deployer's own (logged, with backoff), so urllib3 must not retry silently.
    configuration.retries = False
    api_client = kube.ApiClient(configuration)
    api_client.user_agent = USER_AGENT
    return Connection(
        api_client=api_client,
        context=str((chosen or {}).get("name") or ""),
        server=str(configuration.host),
        default_namespace=namespace,
    )
