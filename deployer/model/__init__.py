"""Plain data shared by every layer: object references, manifests, plans, runs. No I/O."""
