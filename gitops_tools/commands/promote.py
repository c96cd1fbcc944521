"""``promote SOURCE TARGET``: make TARGET run what SOURCE runs, as one commit (or a merge request).

Each attempt reads SOURCE's and TARGET's kustomizations once (and, where a policy needs them, the environment
before TARGET and SOURCE's history), plans with :mod:`gitops_tools.core.promotion`, and edits TARGET through the
same planner as ``image set``. The plan of the first attempt is what later attempts (after a rejected push)
compare TARGET against: a TARGET that changed meanwhile is a conflict, and nothing is pushed.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitops_tools.commands.imageset import ImageSetPlan, plan_images, read_target
from gitops_tools.commands.reading import env_images, history
from gitops_tools.commands.workspace import Workspace
from gitops_tools.commands.writer import Applied, Landed, Runtime, WriteOptions, land
from gitops_tools.core import admission
from gitops_tools.core.envstate import EnvImages, images_of
from gitops_tools.core.promotion import PlanItem, check_unchanged, plan_promotion

if TYPE_CHECKING:
    from gitops_tools.commands.notifying import Notification


class PromotionPlan(NamedTuple):
    items: tuple[PlanItem, ...]
    target: ImageSetPlan

    @property
    def applied(self) -> Applied:
        return self.target.applied


class PromoteResult(NamedTuple):
    source: str
    target: str
    plan: tuple[PlanItem, ...]
    landed: Landed[PromotionPlan]
    dry_run: bool

    @property
    def notifications(self) -> tuple[Notification, ...]:
        """What became of each notification target (none unless the change was pushed)."""
        return self.landed.notifications

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "plan": [p.as_dict() for p in self.plan],
                "dry_run": self.dry_run,
                "files": [e.display for e in self.landed.applied.edits], **self.landed.as_dict()}


def promote(cwd: Path, repo_dir: Path | None, source: str, target: str, images: Sequence[str], force: bool,
            min_age: str | None, opts: WriteOptions, now: datetime.datetime | None = None,
            env: Mapping[str, str] | None = None) -> PromoteResult:
    def attempt(ws: Workspace, previous: PromotionPlan | None) -> PromotionPlan:
        files = read_target(ws, ws.config.environment(target).name)
        dst = images_of(target, files.kustomization)
        if previous is None:
            items = _plan(ws, source, dst, images, force, min_age, now)
        else:
            items = previous.items
            check_unchanged(items, dst)
        planned = plan_images(ws, files, [i.spec for i in items], {}, force, "promote", add=True)
        return PromotionPlan(items, planned)

    landed = land(cwd, repo_dir, None, attempt, opts, Runtime(os.environ if env is None else env))
    return PromoteResult(source, target, landed.plan.items, landed, opts.dry_run)


def _plan(ws: Workspace, source: str, dst: EnvImages, images: Sequence[str], force: bool,
          min_age: str | None, now: datetime.datetime | None) -> tuple[PlanItem, ...]:
    config = ws.config
    src = env_images(ws, source)
    before = config.previous_environment(dst.env)
    previous = env_images(ws, before.name) if before is not None and before.name != src.env else None
    items = plan_promotion(config, src, dst, images, force, previous)
    # --min-age, else the configured minimum for this target (policies.min_age); "--min-age 0s" waives it
    age = min_age if min_age is not None else config.policies.min_age_for(dst.env)
    minimum = admission.parse_age(age) if age else datetime.timedelta(0)
    if minimum and items:
        waive = ("promote without --min-age" if min_age is not None else
                 f"pass --min-age 0s to waive policies.min_age.{dst.env} of gitops-tools.yaml")
        path = config.environment(src.env).path
        admission.check_age(history(ws, [path]), src.env, path, [(i.image, i.source.value) for i in items],
                            minimum, now or datetime.datetime.now(datetime.timezone.utc), waive)
    return items
