"""How a pipeline splits into passes over the data.

A pass runs map stages over every unit, then resolves the global stages that close
it. A global stage that map stages follow ends its pass: the next pass reads each
unit's survivors, with that stage's decisions applied, and runs the map stages after
it. Global stages in a row resolve together at the end of one pass, in config order;
a pipeline without global stages, or ending with map stages, has a last pass that
closes with none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Pass:
    index: int
    stages: tuple[int, ...]
    """Positions in the config's stage list run on this pass's batches: its map stages, then
    the map side of the global stages that close it."""
    closing: tuple[int, ...]
    """Positions of the global stages resolved after this pass."""

    @property
    def first(self) -> bool:
        return self.index == 0


def plan_passes(is_global: Sequence[bool]) -> list[Pass]:
    """The passes of a stage list, given which of its stages are global."""
    passes: list[Pass] = []
    stages: list[int] = []
    closing: list[int] = []
    for position, global_stage in enumerate(is_global):
        if not global_stage and closing:
            passes.append(Pass(len(passes), tuple(stages), tuple(closing)))
            stages, closing = [], []
        stages.append(position)
        if global_stage:
            closing.append(position)
    passes.append(Pass(len(passes), tuple(stages), tuple(closing)))
    return passes
