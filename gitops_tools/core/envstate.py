"""What runs where: the images of every environment, the version matrix, differences and promotion plans.

Pure: kustomization texts (and the configuration) in, immutable values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from gitops_tools.config import Config
from gitops_tools.core.kustomize import KustImage, Kustomization, read_kustomization


class EnvImages(NamedTuple):
    env: str
    file: str
    images: Mapping[str, KustImage]


def read_env_images(env: str, text: str, file: str) -> EnvImages:
    return images_of(env, read_kustomization(text, file))


def images_of(env: str, kust: Kustomization) -> EnvImages:
    """The images of an environment from its parsed kustomization."""
    return EnvImages(env, kust.file, {e.name: e for e, _ in kust.entries})


class Cell(NamedTuple):
    value: str | None  # None: the image is not set in this environment
    pending: bool  # differs from the previous environment in the chain: a promotion is waiting


class Row(NamedTuple):
    image: str
    cells: tuple[Cell, ...]


class Matrix(NamedTuple):
    envs: tuple[str, ...]
    rows: tuple[Row, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "environments": list(self.envs),
            "images": [
                {"image": r.image,
                 "environments": {e: {"value": c.value, "pending": c.pending} for e, c in zip(self.envs, r.cells)}}
                for r in self.rows
            ],
        }


def matrix(states: Sequence[EnvImages], images: Sequence[str] = ()) -> Matrix:
    """Image × environment, in promotion order; ``pending`` where the previous environment runs something else."""
    names = sorted(set(images) or {n for s in states for n in s.images})
    rows = []
    for name in names:
        cells = []
        prev: str | None = None
        for i, state in enumerate(states):
            entry = state.images.get(name)
            value = entry.value if entry else None
            pending = i > 0 and prev is not None and prev != value
            cells.append(Cell(value, pending))
            prev = value
        rows.append(Row(name, tuple(cells)))
    return Matrix(tuple(s.env for s in states), tuple(rows))


class Difference(NamedTuple):
    image: str
    a: KustImage | None
    b: KustImage | None

    def as_dict(self) -> dict[str, str | None]:
        return {"image": self.image, "a": self.a.value if self.a else None, "b": self.b.value if self.b else None}


def differences(a: EnvImages, b: EnvImages, images: Sequence[str] = ()) -> tuple[Difference, ...]:
    names = sorted(set(images) or set(a.images) | set(b.images))
    out = []
    for name in names:
        ea, eb = a.images.get(name), b.images.get(name)
        if _fields(ea) != _fields(eb):
            out.append(Difference(name, ea, eb))
    return tuple(out)


def _fields(e: KustImage | None) -> tuple[str | None, ...] | None:
    return None if e is None else (e.new_name, e.new_tag, e.digest)


def environment_order(config: Config) -> tuple[str, ...]:
    return tuple(e.name for e in config.environments)
