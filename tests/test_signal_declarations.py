"""A rule's names agree: thresholds against ``writes`` and ``config_class`` when the class is created,
``signals()`` and ``annotate`` against ``writes`` on a stage's first batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pytest
from conftest import REPO

from curate.config_schema import bounds
from curate.stage import DeclarationError, SignalFilter, Stage, StageStats, Threshold
from stages import STAGE_CLASSES
from stages.readers import InputConfig, ReadResult, reader_for

WUDAO_SAMPLE = str(REPO / "samples" / "wudao_sample.json")


@dataclass
class LengthConfig:
    min_chars: int = field(default=50, metadata=bounds(0))
    max_digit_share: float = field(default=0.5, metadata=bounds(0, 1))


SIGNALS = pa.field("quality_length", pa.struct([pa.field("chars", pa.int32()), pa.field("digit_share", pa.float32())]))
RULES = (
    Threshold("length.too_short", "chars", "min_chars", "min"),
    Threshold("length.digits", "digit_share", "max_digit_share", "max"),
)


def sample_batch() -> pa.RecordBatch:
    """The WuDao sample as read, with the ``lang`` a language stage would add."""
    (batch,) = reader_for(InputConfig(format="wudao", paths=[WUDAO_SAMPLE])).read(WUDAO_SAMPLE, ReadResult())
    return batch.append_column("lang", pa.array(["zh"] * batch.num_rows))


def declare(**attributes: object) -> type[SignalFilter]:
    """A length filter declared with ``attributes`` replacing its correct declarations."""

    def signals(self: SignalFilter, text: str, lang: str | None) -> dict[str, float]:
        return {"chars": len(text), "digit_share": sum(c.isdigit() for c in text) / max(len(text), 1)}

    body = {
        "name": "length_test",
        "config_class": LengthConfig,
        "signal_column": "quality_length",
        "writes": (SIGNALS,),
        "thresholds": RULES,
        "reason_prefix": "length.",
        "signals": signals,
        **attributes,
    }
    return type("LengthTest", (SignalFilter,), body)


def test_a_consistent_filter_runs_on_real_documents() -> None:
    stats = StageStats("length_test")
    out = declare()(LengthConfig()).apply(sample_batch(), stats)
    assert (stats.docs_in, stats.docs_out, dict(stats.drops)) == (57, 56, {"length.too_short": 1})
    assert out.schema.field("quality_length").type == SIGNALS.type


def test_every_built_in_family_declares_a_reason_prefix() -> None:
    families = [c for c in STAGE_CLASSES if getattr(c, "thresholds", ())]
    assert {c.name: c.reason_prefix for c in families} == {
        "c4_lines": "quality.c4_",
        "policy": "policy.",
        "zh_quality": "quality.",
        "gopher_quality": "quality.gopher_",
        "gopher_repetition": "quality.gopher_",
        "fineweb_quality": "quality.fineweb_",
    }


MISDECLARED = [
    (
        {"thresholds": (Threshold("length.too_short", "char", "min_chars", "min"),)},
        "LengthTest.thresholds[0] (length.too_short): signal 'char' is not a field of quality_length in writes "
        "(chars, digit_share)",
    ),
    (
        {"thresholds": RULES + (Threshold("length.too_long", "chars", "max_chars", "max"),)},
        "LengthTest.thresholds[2] (length.too_long): limit 'max_chars': LengthConfig has no field 'max_chars'",
    ),
    (
        {"thresholds": (Threshold("length.digits", "digit_share", ("max_digit_shares", 0), "max"),)},
        "LengthTest.thresholds[0] (length.digits): limit 'max_digit_shares[0]': LengthConfig has no field "
        "'max_digit_shares'",
    ),
    (
        {"thresholds": RULES[:1] + (Threshold("quality.digits", "digit_share", "max_digit_share", "max"),)},
        "LengthTest.thresholds[1] (quality.digits): the reason does not start with LengthTest.reason_prefix 'length.'",
    ),
    (
        {"thresholds": (Threshold("length.too_short", "chars", "min_chars", "least"),)},
        "LengthTest.thresholds[0] (length.too_short): bound must be 'min' or 'max', got 'least'",
    ),
    (
        {"signal_column": "quality_lenght"},
        "LengthTest: signal_column 'quality_lenght' is not a struct column in writes (quality_length)",
    ),
    (
        {"writes": (pa.field("quality_length", pa.float32()),)},
        "LengthTest: signal_column 'quality_length' is not a struct column in writes (quality_length)",
    ),
]


@pytest.mark.parametrize("attributes,message", MISDECLARED)
def test_a_misdeclared_filter_fails_when_its_class_is_created(attributes: dict, message: str) -> None:
    with pytest.raises(DeclarationError) as error:
        declare(**attributes)
    assert str(error.value) == message


def test_a_filter_with_thresholds_needs_a_reason_prefix() -> None:
    with pytest.raises(DeclarationError, match="LengthTest: set reason_prefix"):

        class LengthTest(SignalFilter):  # written out: the check runs on a class statement too
            name = "length_test"
            config_class = LengthConfig
            signal_column = "quality_length"
            writes = (SIGNALS,)
            thresholds = RULES

            def signals(self, text: str, lang: str | None) -> dict[str, float]:
                return {}


def test_a_misspelled_signal_key_fails_on_the_first_batch() -> None:
    def signals(self: SignalFilter, text: str, lang: str | None) -> dict[str, float]:
        return {"chars": len(text), "digits_share": 0.0}

    stage = declare(signals=signals)(LengthConfig())
    with pytest.raises(DeclarationError) as error:
        stage.apply(sample_batch(), StageStats("length_test"))
    assert str(error.value) == (
        "stage 'length_test': signals() returned unknown key(s) digits_share and missing key(s) digit_share "
        "for the struct column 'quality_length' (its fields in writes: chars, digit_share)"
    )


def test_a_key_missing_from_one_document_fails_too() -> None:
    def signals(self: SignalFilter, text: str, lang: str | None) -> dict[str, float]:
        # A short text skips a measurement: pyarrow would store a null and the rule would never fire.
        return {"chars": len(text)} if len(text) < 30 else {"chars": len(text), "digit_share": 0.0}

    with pytest.raises(DeclarationError, match="signals\\(\\) returned missing key\\(s\\) digit_share for"):
        declare(signals=signals)(LengthConfig()).evaluate(sample_batch())


class Lengths(Stage):
    name = "lengths"
    config_class = LengthConfig
    writes = (pa.field("length_chars", pa.int32()),)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list]:
        lengths = [len(text) for text in batch.column("text").to_pylist()]
        return {"length_chars": lengths, "length_lines": lengths}, [None] * len(lengths)


def test_a_column_annotate_returns_must_be_declared() -> None:
    with pytest.raises(DeclarationError) as error:
        Lengths(LengthConfig()).apply(sample_batch(), StageStats("lengths"))
    assert str(error.value) == (
        "stage 'lengths': annotate returned column(s) length_lines that writes does not declare (writes: length_chars)"
    )
