"""deployer: bring whole application stacks up on Kubernetes and know they are really up."""

__version__ = "0.1.0"
