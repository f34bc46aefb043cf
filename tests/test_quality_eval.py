"""Issue 13's figures on the labelled dev data, measured afresh by the benchmark's own harness.

``benchmarks/quality_eval.py`` runs every map stage of configs/zh_web.yaml over
3,900 labelled pages (about a minute); these tests hold the pipeline to what
the issue asks of it there: every quality rule within its false-positive
budget in every genre, the whole suite within 8 %, spam caught, hidden-text
screens quiet on real site pages, and the limits in the config the ones the
calibration script derives from the same data.
"""

from __future__ import annotations

import sys

import pytest
from conftest import REPO, require_shared

from curate.config import load_config

sys.path.insert(0, str(REPO / "benchmarks"))
import calibrate_quality  # noqa: E402  (the benchmarks run as scripts; their modules are importable)
import dev_data  # noqa: E402
import quality_eval  # noqa: E402

CONFIG = REPO / "configs" / "zh_web.yaml"


@pytest.fixture(scope="module")
def documents() -> list[dict]:
    for relative in (
        ("zh_text", "genres"),
        ("html", "zh_sites"),
        ("html", "zh_gb2312"),
        ("spam", "zh"),
        ("warc", "commoncrawl_excerpt"),
    ):
        require_shared(*relative)
    found, _ = quality_eval.evaluate(str(CONFIG), dev_data.all_items())
    return found


@pytest.fixture(scope="module")
def summary(documents: list[dict]) -> dict:
    return quality_eval.summarise(documents)


def test_every_rule_within_its_budget_and_the_suite_within_eight_percent(summary: dict) -> None:
    assert summary["budget"]["rules_over_budget"] == {}
    assert summary["budget"]["genres_over_suite_budget"] == {}
    for genre in quality_eval.BUDGET_GROUPS:
        # The pipeline as a whole, extraction and policy included, on every budget genre but
        # technical documentation (policy.code leaves out the half of it that is mostly code).
        if genre != "technical":
            assert summary["per_genre"][genre]["pipeline_kept"] >= 0.85, (genre, summary["per_genre"][genre])


def test_spam_is_caught_and_known_good_text_is_not(summary: dict) -> None:
    spam = summary["spam"]
    assert spam["recall_any_rule"] >= 0.9, spam
    assert spam["good_flagged_any_rule"] <= 0.02, spam
    # Real spam and the generated injections, each on its own; and the spam pages the shipped
    # model never trained on (its held-out 30 %), so its recall is not its training accuracy.
    assert spam["per_kind"]["gambling"]["recall"] >= 0.9 and spam["per_kind"]["seo_injection"]["recall"] >= 0.75, spam[
        "per_kind"
    ]
    assert spam["held_out"]["recall_any_rule"] >= 0.9 and spam["held_out"]["good_flagged_any_rule"] <= 0.02, spam[
        "held_out"
    ]


def test_screens_stay_quiet_on_real_site_pages(summary: dict) -> None:
    screens = summary["screens"]
    for rule in (
        "screen.hidden_text",
        "screen.hidden_instructions",
        "screen.hidden_stuffing",
        "screen.hidden_links",
        "screen.prompt_injection",
        "screen.gibberish_span",
    ):
        if rule in screens:
            assert screens[rule]["flagged_share"] <= 0.02 and screens[rule]["portal_pages_flagged"] <= 0.02, (
                rule,
                screens[rule],
            )


def test_the_config_holds_the_limits_the_calibration_derives(documents: list[dict]) -> None:
    config = load_config(str(CONFIG))
    result = calibrate_quality.calibrate(config, documents, 0.01 * 0.5, 0.08)
    specs = {spec.name: spec for spec in config.stages}
    for rule in result["rules"]:
        spec = specs[rule["stage"]]
        threshold = next(t for t in spec.stage_class.thresholds if t.key == rule["key"])
        # The config's value, and the stage's default (what `- stage: {}` gets), are the derived one.
        assert threshold.value_in(spec.config) == pytest.approx(rule["new"]), rule
        assert threshold.value_in(spec.stage_class.config_class()) == pytest.approx(rule["new"]), rule
        assert rule["binding_genre"] != "published" or rule["new"] == threshold.published
    # And every one of them holds its budget in every genre.
    for rule in result["rules"]:
        assert max(rule["false_positive_per_genre"].values()) <= 0.005 + 1e-9, rule


def test_policy_rules_are_reported_apart_from_the_budget(summary: dict) -> None:
    literature = summary["per_genre"]["literature"]
    assert literature["policy_dropped"] > 0.05  # short poems: a policy choice, switched with policy.min_chars
    assert literature["suite_dropped_after_policy"] <= 0.08
    assert not any(rule.startswith("policy.") for rule in summary["budget"]["rules_over_budget"])
