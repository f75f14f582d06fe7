"""Where the local control plane keeps its builds and its clusters, outside the checkout."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.toml")


def home() -> Path:
    """Root folder for builds and clusters: $DEPLOYER_HOME, else ~/.cache/deployer."""
    given = os.environ.get("DEPLOYER_HOME")
    if given:
        return Path(given).expanduser()
    cache_root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_root) / "deployer"


def bin_dir(component: str, version: str) -> Path:
    """Folder holding one component's binaries, keyed by version."""
    return home() / "bin" / f"{component}-{version}"


def clusters_dir() -> Path:
    return home() / "clusters"


def cluster_dir(name: str) -> Path:
    return clusters_dir() / name


@cache
def versions() -> dict[str, str]:
    """The pinned versions from versions.toml."""
    with VERSIONS_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    return {key: str(value) for key, value in data.items()}
