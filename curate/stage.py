"""What a stage is: a config dataclass, a column contract, and one batch function.

A map stage looks at one Arrow record batch and returns new columns plus, per
row, either ``None`` (keep) or a drop reason such as ``"quality.short_text"``.
The base class does everything else: adding the columns, filtering the dropped
rows, counting drops by reason, and timing. Adding a rule means writing one
``annotate`` method, as with datatrove's ``BaseFilter.filter``.

A global stage needs every unit's documents (exact or near-duplicate removal,
screens over a population): ``curate.global_stage.GlobalStage`` says how it emits
keys in the map phase, resolves them into decisions, and how those are applied.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pyarrow as pa

from curate.decoded_columns import column_values, filter_batch, remember


@dataclass(frozen=True)
class Drop:
    """A drop reason with the measured value that crossed the threshold."""

    reason: str
    value: float


Reason = str | Drop | None


@dataclass
class StageStats:
    """Counts and timings of one stage; merged across units for the manifest."""

    name: str
    docs_in: int = 0
    docs_out: int = 0
    drops: Counter = field(default_factory=Counter)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    drop_values: dict[str, list[float]] = field(default_factory=dict)
    """Per reason, the [min, max] of the measured values of the dropped documents."""
    flags: Counter = field(default_factory=Counter)
    """Documents kept but flagged, by rule (screens whose action is ``flag``)."""
    hits: Counter = field(default_factory=Counter)
    """Documents matched, by a category the stage names (screen_blocklist: by list category,
    whether dropped or flagged): which lists do the work."""
    observed: int | None = None
    """Global flag screens: the documents they counted, at their observation point, including
    those a later stage dropped (None for other stages)."""
    drop_tokens: dict[str, Counter] = field(default_factory=dict)
    """Per tokenizer, the tokens of the dropped documents by reason, counted on their text as it
    was when they were dropped (``run.tokenizers``)."""

    def count_drop_tokens(
        self,
        tokenizers: Sequence[Any],
        texts: list[str | None],
        reasons: list[str],
        counted: dict[str, list[int]] | None = None,
    ) -> None:
        """Add the tokens of dropped documents (``texts``, each with its reason); ``counted``: their
        counts per tokenizer, when already known."""
        for tokenizer in tokenizers:
            counts = self.drop_tokens.setdefault(tokenizer.name, Counter())
            known = counted.get(tokenizer.name) if counted else None
            for reason, tokens in zip(reasons, known if known is not None else tokenizer.count(texts).tolist()):
                counts[reason] += tokens

    def record_value(self, reason: str, value: float) -> None:
        span = self.drop_values.get(reason)
        if span is None:
            self.drop_values[reason] = [value, value]
        else:
            span[0], span[1] = min(span[0], value), max(span[1], value)

    def merge(self, other: StageStats) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.drops.update(other.drops)
        for reason, (low, high) in other.drop_values.items():
            self.record_value(reason, low)
            self.record_value(reason, high)
        self.wall_seconds += other.wall_seconds
        self.cpu_seconds += other.cpu_seconds
        self.flags.update(other.flags)
        self.hits.update(other.hits)
        for name, counts in other.drop_tokens.items():
            self.drop_tokens.setdefault(name, Counter()).update(counts)
        if other.observed is not None:
            self.observed = (self.observed or 0) + other.observed

    def to_dict(self) -> dict[str, Any]:
        flags = {"flags": dict(sorted(self.flags.items()))} if self.flags else {}
        observed = {"observed": self.observed} if self.observed is not None else {}
        hits = {"hits": dict(sorted(self.hits.items()))} if self.hits else {}
        tokens = (
            {"drop_tokens": {name: dict(sorted(c.items())) for name, c in sorted(self.drop_tokens.items())}}
            if self.drop_tokens
            else {}
        )
        return (
            flags
            | hits
            | tokens
            | observed
            | {
                "name": self.name,
                "docs_in": self.docs_in,
                "docs_out": self.docs_out,
                "drops": dict(sorted(self.drops.items())),
                "drop_values": {r: [round(v, 6) for v in span] for r, span in sorted(self.drop_values.items())},
                "wall_seconds": round(self.wall_seconds, 4),
                "cpu_seconds": round(self.cpu_seconds, 4),
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageStats:
        return cls(
            name=data["name"],
            docs_in=data["docs_in"],
            docs_out=data["docs_out"],
            drops=Counter(data["drops"]),
            drop_values={r: list(span) for r, span in data.get("drop_values", {}).items()},
            wall_seconds=data["wall_seconds"],
            cpu_seconds=data["cpu_seconds"],
            flags=Counter(data.get("flags", {})),
            hits=Counter(data.get("hits", {})),
            observed=data.get("observed"),
            drop_tokens={name: Counter(c) for name, c in data.get("drop_tokens", {}).items()},
        )


class Timer:
    """Adds wall and CPU seconds of a ``with`` block to a StageStats."""

    def __init__(self, stats: StageStats) -> None:
        self.stats = stats

    def __enter__(self) -> Timer:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stats.wall_seconds += time.perf_counter() - self._wall
        self.stats.cpu_seconds += time.process_time() - self._cpu


class DeclarationError(TypeError):
    """A stage's names disagree: a threshold on a signal its ``writes`` lacks or a limit its config
    lacks (raised when the class is created), a column or signal key it returns but does not
    declare (raised on its first batch)."""


class Stage(ABC):
    """Base of all stages. Subclasses set the class attributes below.

    A stage that keeps its measurements in one struct column names it in ``signal_column`` and may
    declare ``thresholds`` on them (``SignalFilter``); both are checked against ``writes`` and
    ``config_class`` when the class is created, so a misspelled name fails at import."""

    name: ClassVar[str]
    """The stage's name: a built-in stage's key in a pipeline config (``stages: [{langid: {...}}]``),
    and what the manifest files its counts, drop reasons and samples under."""
    config_class: ClassVar[type]
    reads: ClassVar[tuple[str, ...]] = ()
    """Columns this stage needs; the config check makes sure an earlier step writes them."""
    writes: ClassVar[tuple[pa.Field, ...]] = ()
    """Columns this stage adds."""
    is_global: ClassVar[bool] = False
    needs_html: ClassVar[bool] = False
    """Works on the page's HTML, so it cannot run on text inputs (jsonl, parquet, wudao, mnbvc, wet)."""
    quarantines: ClassVar[bool] = False
    """Whether dropped documents are kept aside (with a ``reason`` column) in ``quarantined``
    for the unit to write to OUT/quarantine/, instead of only being counted."""
    tokenizers: Sequence[Any] = ()
    """The run's tokenizers (``curate.tokens``), set by the task that runs the stage: the tokens
    of the documents it drops are counted with each."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "signal_column"):
            check_signal_declarations(cls)

    def __init__(self, config: Any) -> None:
        self.config = config
        self.quarantined: list[pa.Table] = []
        self.sampler: Any = None
        """A ``curate.samples.Sampler`` that dropped documents are offered to, when the unit sets one."""
        self._rows_checked = False

    @classmethod
    def model_files(cls, config: Any) -> list[str]:
        """The model files this stage loads with ``config``: the driver hashes them once per run
        into the manifest's ``models``, so a run records which model made its decisions."""
        return []

    @classmethod
    def list_records(cls, config: Any) -> list[dict[str, Any]]:
        """The block lists this stage applies with ``config`` (name, path, format, sha256, entries):
        the driver writes them into the manifest's ``blocklists``."""
        return []

    @abstractmethod
    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Sequence[Any]], list[Reason]]:
        """New columns for ``batch`` and, per row, None (keep), a reason, or a Drop with its value."""

    def failures(self, batch: pa.RecordBatch) -> tuple[dict[str, Sequence[Any]], list[list[Reason]]]:
        """New columns for ``batch`` and, per row, every rule it fails, not only the first that
        ``annotate`` drops on: what calibration and ``benchmarks/quality_eval.py`` measure. Stages
        with several rules override it; by default it is ``annotate``'s one reason."""
        columns, reasons = self.annotate(batch)
        return columns, [[] if reason is None else [reason] for reason in reasons]

    def evaluate(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, list[list[Reason]]]:
        """``batch`` with this stage's columns and every row kept, and each row's failed rules."""
        columns, failed = self.failures(batch)
        return self.with_columns(batch, columns), failed

    def with_columns(self, batch: pa.RecordBatch, columns: dict[str, Sequence[Any]]) -> pa.RecordBatch:
        """``batch`` with the columns this stage writes (``writes``) added or replaced."""
        self._check_columns(columns)
        if not self._rows_checked and batch.num_rows:
            # pyarrow drops a struct key the type lacks and fills a missing one with nulls: check
            # the first rows a stage instance produces, every row of its first batch.
            self._check_struct_rows(columns)
            self._rows_checked = True
        for column_field in self.writes:
            values = columns[column_field.name]
            array = values if isinstance(values, pa.Array) else pa.array(values, type=column_field.type)
            if isinstance(values, list):
                remember(array, values)
            index = batch.schema.get_field_index(column_field.name)
            if index >= 0:
                batch = batch.set_column(index, column_field, array)
            else:
                batch = batch.append_column(column_field, array)
        return batch

    def _check_columns(self, columns: dict[str, Sequence[Any]]) -> None:
        """The columns ``annotate`` returned are the ones ``writes`` declares (pyarrow would not
        notice an extra one: it would never reach the output)."""
        declared = [column_field.name for column_field in self.writes]
        if columns.keys() == set(declared):
            return
        undeclared = sorted(columns.keys() - set(declared))
        if undeclared:
            raise DeclarationError(
                f"stage {self.name!r}: annotate returned column(s) {', '.join(undeclared)} that writes does not "
                f"declare (writes: {', '.join(declared) or 'nothing'})"
            )
        missing = ", ".join(name for name in declared if name not in columns)
        raise DeclarationError(f"stage {self.name!r}: annotate returned no column {missing}, which writes declares")

    def _check_struct_rows(self, columns: dict[str, Sequence[Any]]) -> None:
        """Every struct column given as Python dicts has exactly the fields ``writes`` declares."""
        for column_field in self.writes:
            values = columns[column_field.name]
            if pa.types.is_struct(column_field.type) and isinstance(values, list):
                self._check_keys(column_field, values)

    def _check_keys(self, column_field: pa.Field, rows: Iterable[Any]) -> None:
        """Raise DeclarationError naming the unknown and missing keys of ``rows`` (dicts) against the
        fields of struct column ``column_field``."""
        fields = {f.name for f in column_field.type}
        unknown: set[str] = set()
        missing: set[str] = set()
        for row in rows:
            if isinstance(row, dict) and row.keys() != fields:
                unknown |= row.keys() - fields
                missing |= fields - row.keys()
        if not (unknown or missing):
            return
        source = "signals()" if column_field.name == getattr(self, "signal_column", None) else "annotate"
        kinds = (("unknown", unknown), ("missing", missing))
        found = " and ".join(f"{kind} key(s) {', '.join(sorted(keys))}" for kind, keys in kinds if keys)
        declared = ", ".join(f.name for f in column_field.type)
        raise DeclarationError(
            f"stage {self.name!r}: {source} returned {found} for the struct column {column_field.name!r} "
            f"(its fields in writes: {declared})"
        )

    def apply(self, batch: pa.RecordBatch, stats: StageStats) -> pa.RecordBatch:
        """Run ``annotate`` on a batch, add its columns, drop rejected rows, count and time it."""
        with Timer(stats):
            columns, reasons = self.annotate(batch)
            batch = self.with_columns(batch, columns)
            stats.docs_in += batch.num_rows
            keep = []
            for reason in reasons:
                keep.append(reason is None)
                if isinstance(reason, Drop):
                    stats.drops[reason.reason] += 1
                    stats.record_value(reason.reason, float(reason.value))
                elif reason is not None:
                    stats.drops[reason] += 1
            if not all(keep):
                if self.tokenizers and "text" in batch.schema.names:
                    texts = column_values(batch, "text")
                    dropped_rows = [i for i, k in enumerate(keep) if not k]
                    stats.count_drop_tokens(
                        self.tokenizers,
                        [texts[i] for i in dropped_rows],
                        [reason_name(reasons[i]) for i in dropped_rows],
                    )
                if self.sampler is not None:
                    self._offer_dropped(batch, keep, reasons)
                if self.quarantines:
                    dropped = pa.array([not k for k in keep])
                    reasons_out = [r.reason if isinstance(r, Drop) else r for r in reasons if r is not None]
                    aside = pa.Table.from_batches([batch.filter(dropped)])
                    self.quarantined.append(aside.append_column("reason", pa.array(reasons_out, pa.string())))
                batch = filter_batch(batch, keep)
            stats.docs_out += batch.num_rows
        return batch

    def _offer_dropped(self, batch: pa.RecordBatch, keep: list[bool], reasons: list[Reason]) -> None:
        from curate.samples import signals_of

        dropped = pa.Table.from_batches([batch.filter(pa.array([not k for k in keep]))])
        names = dropped.schema.names
        wanted = [c for c in ("id", "url", "domain", "source", "text", "screen_evidence") if c in names]
        rows = dropped.select(wanted).to_pylist()
        for row, signals in zip(rows, signals_of(dropped)):
            row["signals"] = signals
        by_reason: dict[str, list[dict]] = {}
        for row, reason in zip(rows, (r for r in reasons if r is not None)):
            name = reason.reason if isinstance(reason, Drop) else reason
            row["value"] = float(reason.value) if isinstance(reason, Drop) else None
            # A screen's evidence for this reason: the span or statistic that tripped it.
            row["evidence"] = next(
                (e["evidence"] for e in row.pop("screen_evidence", None) or [] if e["rule"] == name), None
            )
            by_reason.setdefault(name, []).append(row)
        for name, found in by_reason.items():
            self.sampler.offer(self.name, name, found)


Check = tuple[str, float | None, bool]
"""(reason, measured value or None for a rule without one, failed?) for one rule."""


def reason_name(reason: Reason) -> str:
    """A reason's name, whether it carries a measured value (Drop) or not."""
    return reason.reason if isinstance(reason, Drop) else reason


def as_reason(reason: str, value: float | None) -> Reason:
    return reason if value is None else Drop(reason, value)


def first_failure(checks: Iterable[Check]) -> Reason:
    """The first failed rule (a Drop with its value, when it has one), or None when all pass."""
    for reason, value, failed in checks:
        if failed:
            return as_reason(reason, value)
    return None


@dataclass(frozen=True)
class Threshold:
    """One threshold rule of a SignalFilter, declared once: the document fails with ``reason``
    when its ``signal`` is below (``bound="min"``) or above (``"max"``) the config value named
    ``limit`` (a field, or ``(field, index)`` for an item of a list field). ``languages``: the
    rule applies only to documents in these languages. Calibration
    (``benchmarks/calibrate_quality.py``) reads these declarations to derive every limit."""

    reason: str
    signal: str
    limit: str | tuple[str, int]
    bound: Literal["min", "max"]
    languages: tuple[str, ...] | None = None
    published: float | None = None
    """The published value this rule comes from (Gopher, C4, FineWeb-2's cmn_Hani), when the
    signal is measured as published: calibration may relax it for a genre that needs it, but
    never makes it stricter (it was validated on far more text than ours). None for our own
    rules and for rules re-defined for Chinese."""

    @property
    def key(self) -> str:
        """The config key of the limit: ``min_chars``, ``top_ngrams[0]``."""
        return self.limit if isinstance(self.limit, str) else f"{self.limit[0]}[{self.limit[1]}]"

    def value_in(self, config: Any) -> float:
        if isinstance(self.limit, str):
            return getattr(config, self.limit)
        name, index = self.limit
        return getattr(config, name)[index]

    def fails(self, value: float, limit: float) -> bool:
        return value < limit if self.bound == "min" else value > limit


def check_signal_declarations(stage_class: type) -> None:
    """Raise DeclarationError unless ``stage_class.signal_column`` is a struct column in ``writes``
    and each of its ``thresholds`` measures a field of that struct, takes its limit from a field of
    ``config_class`` and has a reason starting with the family's ``reason_prefix``."""
    title = stage_class.__name__
    column = stage_class.signal_column
    struct = next((f.type for f in stage_class.writes if f.name == column), None)
    if struct is None or not pa.types.is_struct(struct):
        written = ", ".join(f.name for f in stage_class.writes) or "nothing"
        raise DeclarationError(f"{title}: signal_column {column!r} is not a struct column in writes ({written})")
    thresholds = getattr(stage_class, "thresholds", ())
    if not thresholds:
        return
    prefix = getattr(stage_class, "reason_prefix", None)
    if not isinstance(prefix, str) or not prefix:
        raise DeclarationError(f"{title}: set reason_prefix, what its thresholds' reasons start with ('quality.x_')")
    config_class = getattr(stage_class, "config_class", None)
    if not dataclasses.is_dataclass(config_class):
        raise DeclarationError(f"{title}: config_class must be a dataclass holding the thresholds' limits")
    signals = [f.name for f in struct]
    options = {f.name for f in dataclasses.fields(config_class)}
    for i, rule in enumerate(thresholds):
        where = f"{title}.thresholds[{i}] ({rule.reason})"
        if rule.signal not in signals:
            fields = ", ".join(signals)
            raise DeclarationError(f"{where}: signal {rule.signal!r} is not a field of {column} in writes ({fields})")
        option = rule.limit if isinstance(rule.limit, str) else rule.limit[0]
        if option not in options:
            raise DeclarationError(f"{where}: limit {rule.key!r}: {config_class.__name__} has no field {option!r}")
        if rule.bound not in ("min", "max"):
            raise DeclarationError(f"{where}: bound must be 'min' or 'max', got {rule.bound!r}")
        if not rule.reason.startswith(prefix):
            raise DeclarationError(f"{where}: the reason does not start with {title}.reason_prefix {prefix!r}")


class SignalFilter(Stage):
    """A rule family: measures named signals per document, keeps them in one
    struct column, and drops on the first rule whose threshold the document fails.
    Its rules are declared in ``thresholds``, in the order they are applied.

    The struct in ``writes`` is the one list of the signals: ``signals()`` must return exactly its
    fields (checked on an instance's first batch), and each threshold names one of them, a field of
    ``config_class`` and a reason starting with ``reason_prefix`` (checked when the class is created)."""

    reads = ("text", "lang")
    signal_column: ClassVar[str]
    thresholds: ClassVar[tuple[Threshold, ...]] = ()
    reason_prefix: ClassVar[str]
    """What the reasons of the family start with (``quality.gopher_``, ``policy.``)."""

    @abstractmethod
    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        """The measured values of one document."""

    def checks(self, signals: dict[str, float], lang: str | None) -> Iterable[Check]:
        """The rules, in order, applied to one document's signals."""
        try:
            return [
                (
                    rule.reason,
                    signals[rule.signal],
                    (rule.languages is None or lang in rule.languages)
                    and rule.fails(signals[rule.signal], rule.value_in(self.config)),
                )
                for rule in self.thresholds
            ]
        except KeyError:
            # A threshold's signal is missing before the columns are checked: say what signals() got wrong.
            self._check_keys(next(f for f in self.writes if f.name == self.signal_column), [signals])
            raise

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Sequence[Any]], list[Reason]]:
        texts = column_values(batch, "text")
        langs = column_values(batch, "lang")
        signals = [self.signals(text, lang) for text, lang in zip(texts, langs)]
        reasons = [first_failure(self.checks(s, lang)) for s, lang in zip(signals, langs)]
        return {self.signal_column: signals}, reasons

    def failures(self, batch: pa.RecordBatch) -> tuple[dict[str, Sequence[Any]], list[list[Reason]]]:
        columns, _ = self.annotate(batch)
        langs = column_values(batch, "lang")
        failed = [
            [as_reason(r, v) for r, v, f in self.checks(s, lang) if f]
            for s, lang in zip(columns[self.signal_column], langs)
        ]
        return columns, failed
