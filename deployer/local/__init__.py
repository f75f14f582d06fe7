"""The local control plane: Go builds, processes on loopback, simulated nodes, kubeconfig."""

from deployer.local.build import helm_binary, kubectl_binary

__all__ = ["helm_binary", "kubectl_binary"]
