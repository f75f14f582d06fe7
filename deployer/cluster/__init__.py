"""The only layer that talks to the API server (and the only one importing `kubernetes`)."""

from deployer.cluster.client import Cluster
from deployer.cluster.discovery import ResourceInfo

__all__ = ["Cluster", "ResourceInfo"]
