"""The plan: ordered waves of manifests. Plain data; executors carry it out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from deployer.model.objects import Manifest


@dataclass(frozen=True)
class Wave:
    """Objects applied together; the next wave starts only when all of these are ready."""

    index: int
    manifests: tuple[Manifest, ...]


@dataclass(frozen=True)
class Plan:
    """Ordered waves; wave 0 first."""

    waves: tuple[Wave, ...]

    def manifests(self) -> Iterator[Manifest]:
        for wave in self.waves:
            yield from wave.manifests

    def __len__(self) -> int:
        return sum(len(w.manifests) for w in self.waves)
