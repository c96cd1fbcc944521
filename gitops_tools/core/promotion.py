"""Planning a promotion: which images TARGET must take from SOURCE, under which policies, and the
compare-and-set that stops it when TARGET changed since the plan.

Pure: the environments' images (and the configuration) in, a plan or a refusal out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gitops_tools.config import Config
from gitops_tools.core import admission, policy
from gitops_tools.core.envstate import EnvImages
from gitops_tools.core.kustomize import ImageSpec, KustImage
from gitops_tools.errors import ConflictError, GitopsError, PolicyError


class PlanItem(NamedTuple):
    image: str
    target_now: KustImage | None
    source: KustImage

    def as_dict(self) -> dict[str, str | None]:
        return {"image": self.image, "target_now": self.target_now.value if self.target_now else None,
                "source": self.source.value}

    @property
    def spec(self) -> ImageSpec:
        """Make the target entry exactly the source entry (every field set or cleared)."""
        e = self.source
        return ImageSpec(e.name, e.new_name, e.new_tag, e.digest, e.value)


def plan_promotion(config: Config, src: EnvImages, dst: EnvImages, images: Sequence[str], force: bool,
                   previous: EnvImages | None = None) -> tuple[PlanItem, ...]:
    """Every image (or ``images``) whose value in ``src`` differs from ``dst``'s; ``previous`` is the
    environment before a protected ``dst`` when it is not ``src`` (``only_from_previous``)."""
    target_env = config.environment(dst.env)
    nxt = config.next_environment(src.env)
    if not force and config.policies.promote_to_next_only and (nxt is None or nxt.name != dst.env):
        order = " -> ".join(e.name for e in config.environments)
        raise PolicyError(
            f"{src.env} promotes to {nxt.name if nxt else 'nothing (it is the last environment)'}, not {dst.env} "
            f"(order: {order})",
            fix="promote one step at a time, or pass --force",
        )
    unknown = [i for i in images if i not in src.images]
    if unknown:
        raise GitopsError(f"{', '.join(unknown)}: not set in {src.env}", file=src.file,
                          fix=f"images in {src.env}: {', '.join(sorted(src.images)) or '(none)'}")
    names = images or sorted(src.images)
    items = tuple(PlanItem(n, dst.images.get(n), src.images[n]) for n in names
                  if admission.fields(dst.images.get(n)) != admission.fields(src.images[n]))
    if previous is not None and target_env.protected and config.policies.only_from_previous:
        admission.check_from_previous(target_env, previous.env, previous.images, [i.source for i in items],
                                      dst.file, fix=f"promote {src.env} to {{previous}} first")
    if target_env.protected:
        for item in items:
            policy.check_mutable(config, target_env, item.image, item.source, dst.file)
            policy.check_digest(config, target_env, item.image, item.source, dst.file)
    return items


def check_unchanged(items: Sequence[PlanItem], dst: EnvImages) -> None:
    """Compare-and-set: TARGET must still hold what the plan saw."""
    for item in items:
        current = dst.images.get(item.image)
        if current != item.target_now:
            raise ConflictError(
                f"{item.image} changed in {dst.env} since the plan: it was "
                f"{item.target_now.value if item.target_now else '(none)'}, now "
                f"{current.value if current else '(none)'}",
                file=dst.file, key=f"images[name={item.image}]",
                fix="look at the new state (gitops-tools status) and run the promotion again",
            )
