"""What a stage is: a config dataclass, a column contract, and one batch function.

A map stage looks at one Arrow record batch and returns new columns plus, per
row, either ``None`` (keep) or a drop reason such as ``"quality.short_text"``.
The base class does everything else: adding the columns, filtering the dropped
rows, counting drops by reason, and timing. Adding a rule means writing one
``annotate`` method, as with datatrove's ``BaseFilter.filter``.

A global stage needs every shard (exact or near-duplicate removal). It adds its
key columns in the map phase like a map stage, and the runner then calls its
partition and resolve functions over all units.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import pyarrow as pa

Reason = str | None


@dataclass
class StageStats:
    """Counts and timings of one stage; merged across units for the manifest."""

    name: str
    docs_in: int = 0
    docs_out: int = 0
    drops: Counter = field(default_factory=Counter)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def merge(self, other: "StageStats") -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.drops.update(other.drops)
        self.wall_seconds += other.wall_seconds
        self.cpu_seconds += other.cpu_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "drops": dict(sorted(self.drops.items())),
            "wall_seconds": round(self.wall_seconds, 4),
            "cpu_seconds": round(self.cpu_seconds, 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StageStats":
        return cls(
            name=data["name"],
            docs_in=data["docs_in"],
            docs_out=data["docs_out"],
            drops=Counter(data["drops"]),
            wall_seconds=data["wall_seconds"],
            cpu_seconds=data["cpu_seconds"],
        )


class Timer:
    """Adds wall and CPU seconds of a ``with`` block to a StageStats."""

    def __init__(self, stats: StageStats) -> None:
        self.stats = stats

    def __enter__(self) -> "Timer":
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stats.wall_seconds += time.perf_counter() - self._wall
        self.stats.cpu_seconds += time.process_time() - self._cpu


class Stage(ABC):
    """Base of all stages. Subclasses set the class attributes below."""

    name: ClassVar[str]
    """The key of this stage in a pipeline config (``stages: [{langid: {...}}]``)."""
    config_class: ClassVar[type]
    reads: ClassVar[tuple[str, ...]] = ()
    """Columns this stage needs; the config check makes sure an earlier step writes them."""
    writes: ClassVar[tuple[pa.Field, ...]] = ()
    """Columns this stage adds."""
    is_global: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        self.config = config

    @abstractmethod
    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Sequence[Any]], list[Reason]]:
        """New columns for ``batch`` and a keep (None) or drop reason per row."""

    def apply(self, batch: pa.RecordBatch, stats: StageStats) -> pa.RecordBatch:
        """Run ``annotate`` on a batch, add its columns, drop rejected rows, count and time it."""
        with Timer(stats):
            columns, reasons = self.annotate(batch)
            for column_field in self.writes:
                values = columns[column_field.name]
                array = values if isinstance(values, pa.Array) else pa.array(values, type=column_field.type)
                index = batch.schema.get_field_index(column_field.name)
                if index >= 0:
                    batch = batch.set_column(index, column_field, array)
                else:
                    batch = batch.append_column(column_field, array)
            stats.docs_in += batch.num_rows
            dropped = Counter(r for r in reasons if r is not None)
            if dropped:
                stats.drops.update(dropped)
                batch = batch.filter(pa.array([r is None for r in reasons], type=pa.bool_()))
            stats.docs_out += batch.num_rows
        return batch
