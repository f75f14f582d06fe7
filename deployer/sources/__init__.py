"""Turn manifest files into Manifests: YAML/JSON loading with lines, Jinja2 rendering."""

from deployer.sources.loader import load_paths, load_text

__all__ = ["load_paths", "load_text"]
