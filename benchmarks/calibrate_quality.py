"""Derive every quality threshold of a config from labelled data, against a false-positive budget.

Reads the per-document results that ``benchmarks/quality_eval.py`` wrote for the
same config (run it first: the signals must be measured with the current rule
definitions). For every threshold rule the config's stages declare
(``curate.stage.Threshold``; the ``policy.*`` rules are choices, not
calibrated), per budget genre of known-good documents (those that pass the
policy rules; items listed in ``dev_data.ERRATA`` left out), the limit is put
where at most ``--margin`` x ``--budget`` of that genre's documents fail it (at
most floor(share x n) documents: at the default 0.5 %, a genre of fewer than
200 documents may lose none), and the rule takes the most lenient genre's
limit. Half the budget, not all of it: a limit placed exactly at 1 % of our
documents drops 2-7 % of unseen documents of the same genres (split-half
validation, below), one placed at 0.5 % stays near 1 %. A rule measured as
Gopher, C4 or FineWeb-2 publish it (``Threshold.published``) is never made
stricter than the published value; our own and re-defined rules take the
calibrated limit. Limits are rounded in the lenient direction to three
significant figures.

Then the whole suite: if some genre loses more than ``--suite-budget`` of its
documents to the calibrated rules together (with every other rule that drops
in the config: spam, screens), the per-rule budget is lowered step by step
until no genre does.

Split-half validation: the same calibration on half of each genre's documents,
measured on the other half, shows what unseen text of the same genres costs.

Writes ``--result`` (JSON: per rule the config's value before, the new limit,
the binding genre, the false-positive share per genre and the recall on spam
and portal pages at the new limit), prints them, and with ``--write-config``
puts the limits into ``configs/zh_web.yaml`` with the genre that set each;
``tests/test_quality_eval.py`` checks that the config and the stages' defaults
hold these values.

    python benchmarks/quality_eval.py && python benchmarks/calibrate_quality.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev_data import GOOD, PORTAL, SPAM  # noqa: E402  (sibling modules: benchmarks run as scripts)
from quality_eval import BUDGET_GROUPS, CACHE, GATE_STAGES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUDGET_STEPS = (1.0, 0.75, 0.5, 0.25, 0.0)
"""Fractions of ``--budget`` tried in turn until the suite fits ``--suite-budget``."""


def round_lenient(value: float, bound: str, integer: bool) -> float:
    """``value`` rounded so that no document passing at ``value`` fails at the rounded limit."""
    if integer:
        return math.floor(value) if bound == "min" else math.ceil(value)
    if value == 0:
        return 0.0
    exponent = math.floor(math.log10(abs(value))) - 2
    steps = (math.floor if bound == "min" else math.ceil)(round(value / 10**exponent, 9))
    return round(steps * 10**exponent, max(0, -exponent))


def limit_for(values: list[float], bound: str, budget: float) -> float:
    """The strictest limit at which at most floor(budget x n) of ``values`` fail."""
    allowed = math.floor(budget * len(values) + 1e-9)
    ordered = sorted(values, reverse=bound == "max")
    return ordered[min(allowed, len(ordered) - 1)]


def load_documents(path: str) -> list[dict]:
    documents = pq.read_table(path).to_pylist()
    for document in documents:
        document["signals"] = json.loads(document["signals"])
        document["verdicts"] = json.loads(document["verdicts"])
    return documents


def rules_of(config) -> list[tuple[Any, Any]]:
    """(stage spec, Threshold) of every calibrated rule, in pipeline order."""
    found = []
    for spec in config.stages:
        for rule in getattr(spec.stage_class, "thresholds", ()):
            if not rule.reason.startswith("policy."):
                found.append((spec, rule))
    return found


def calibrate(config, documents: list[dict], budget: float, suite_budget: float) -> dict:
    rules = rules_of(config)
    calibrated = {rule.reason for _, rule in rules}
    reached = [d for d in documents if d["lost_at"] is None and not d["errata"]]

    def policy_dropped(document: dict) -> bool:
        return any(v["drops"] and v["rule"].startswith("policy.") for v in document["verdicts"])

    population = [d for d in reached if d["label"] == GOOD and d["group"] in BUDGET_GROUPS and not policy_dropped(d)]
    by_group: dict[str, list[dict]] = defaultdict(list)
    for document in population:
        by_group[document["group"]].append(document)

    def value(document: dict, spec, rule) -> float:
        return document["signals"][spec.stage_class.signal_column][rule.signal]

    def other_drops(document: dict) -> bool:
        """Dropped by a rule this script does not calibrate (spam, screens, lorem ipsum ...)."""
        return any(
            v["drops"]
            and v["stage"] not in GATE_STAGES
            and v["rule"] not in calibrated
            and not v["rule"].startswith("policy.")
            for v in document["verdicts"]
        )

    for step in BUDGET_STEPS:
        rule_budget = budget * step
        limits = []
        for spec, rule in rules:
            per_group = {}
            for group, members in by_group.items():
                per_group[group] = limit_for([value(d, spec, rule) for d in members], rule.bound, rule_budget)
            lenient = min if rule.bound == "min" else max
            chosen = lenient(per_group.values())
            binding = next(g for g, v in per_group.items() if v == chosen)
            if rule.published is not None and lenient(chosen, rule.published) == rule.published:
                # Never stricter than the published value: it was validated on far more text.
                chosen, binding = rule.published, "published"
            integer = isinstance(rule.value_in(spec.config), int) and not isinstance(rule.value_in(spec.config), bool)
            limits.append((spec, rule, round_lenient(chosen, rule.bound, integer), binding, per_group))

        def fails(document: dict, limits: list = limits) -> set[str]:
            return {
                rule.reason for spec, rule, limit, _, _ in limits if rule.fails(value(document, spec, rule), limit)
            }

        suite = {}
        for group, members in by_group.items():
            suite[group] = sum(bool(fails(d)) or other_drops(d) for d in members) / len(members)
        if max(suite.values()) <= suite_budget:
            break
    bad = {label: [d for d in reached if d["label"] == label] for label in (SPAM, PORTAL)}
    out_rules = []
    for spec, rule, limit, binding, per_group in limits:
        fp = {
            g: round(sum(rule.fails(value(d, spec, rule), limit) for d in members) / len(members), 4)
            for g, members in by_group.items()
        }
        recall = {
            label: round(sum(rule.fails(value(d, spec, rule), limit) for d in members) / len(members), 4)
            if members
            else None
            for label, members in bad.items()
        }
        out_rules.append(
            {
                "stage": spec.name,
                "reason": rule.reason,
                "key": rule.key,
                "bound": rule.bound,
                "config_before": rule.value_in(spec.config),
                "new": limit,
                "binding_genre": binding,
                "limit_per_genre": {g: round(v, 6) for g, v in per_group.items()},
                "false_positive_per_genre": fp,
                "recall": recall,
            }
        )
    return {
        "budget_per_rule": budget * step,
        "budget_requested": budget,
        "suite_budget": suite_budget,
        "suite_share_per_genre": {g: round(v, 4) for g, v in suite.items()},
        "documents_per_genre": {g: len(m) for g, m in by_group.items()},
        "rules": out_rules,
    }


def half_of(document_id: str) -> int:
    return int(hashlib.sha1(document_id.encode("utf-8")).hexdigest(), 16) % 2


def validate(config, documents: list[dict], budget: float, suite_budget: float) -> dict:
    """How the method generalises: calibrate on half of each genre's known-good documents (by a
    hash of their id) and measure, on the other half, each rule's false-positive share and the
    suite's, per genre. The gap between the halves is what unseen text of the same genres costs."""
    known_good = [d for d in documents if d["label"] == GOOD]
    first = [d for d in documents if d["label"] != GOOD or half_of(d["id"]) == 0]
    second = [d for d in known_good if half_of(d["id"]) == 1]
    limits = {(r["reason"], r["key"]): r["new"] for r in calibrate(config, first, budget, suite_budget)["rules"]}
    rules = rules_of(config)
    groups: dict[str, list[dict]] = defaultdict(list)
    for d in second:
        if (
            d["lost_at"] is None
            and not d["errata"]
            and d["group"] in BUDGET_GROUPS
            and not any(v["drops"] and v["rule"].startswith("policy.") for v in d["verdicts"])
        ):
            groups[d["group"]].append(d)
    calibrated = {rule.reason for _, rule in rules}

    def failed(document: dict) -> set[str]:
        found = {
            rule.reason
            for spec, rule in rules
            if rule.fails(
                document["signals"][spec.stage_class.signal_column][rule.signal], limits[(rule.reason, rule.key)]
            )
        }
        others = {
            v["rule"]
            for v in document["verdicts"]
            if v["drops"]
            and v["stage"] not in GATE_STAGES
            and v["rule"] not in calibrated
            and not v["rule"].startswith("policy.")
        }
        return found | others

    per_rule: dict[str, dict[str, float]] = defaultdict(dict)
    suite = {}
    for group, members in groups.items():
        fails = [failed(d) for d in members]
        suite[group] = round(sum(bool(f) for f in fails) / len(members), 4)
        for reason in sorted({r for f in fails for r in f}):
            per_rule[reason][group] = round(sum(reason in f for f in fails) / len(members), 4)
    worst = {reason: max(shares.values()) for reason, shares in per_rule.items()}
    return {
        "documents_per_genre": {g: len(m) for g, m in groups.items()},
        "suite_share_per_genre": suite,
        "worst_rule_share": dict(sorted(worst.items(), key=lambda item: -item[1])),
    }


def provenance(rule: dict, budget: float) -> str:
    if rule["binding_genre"] == "published":
        return "published value; no genre needs more (calibrate_quality.py)"
    return f"calibrated at {budget:.1%} of known-good, set by {rule['binding_genre']}"


def config_entries(result: dict) -> dict[str, dict[str, tuple[str, str]]]:
    """Per stage, per config key, the YAML value and its comment (list keys gathered)."""
    entries: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    lists: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for rule in result["rules"]:
        if "[" in rule["key"]:
            lists[(rule["stage"], rule["key"].split("[")[0])].append(rule)
        else:
            entries[rule["stage"]][rule["key"]] = (f"{rule['new']:g}", provenance(rule, result["budget_per_rule"]))
    for (stage, key), rules in lists.items():
        binding = sorted({r["binding_genre"] for r in rules})
        entries[stage][key] = (
            "[" + ", ".join(f"{r['new']:g}" for r in rules) + "]",
            f"calibrated at {result['budget_per_rule']:.1%} of known-good, set by {'/'.join(binding)}",
        )
    return entries


def write_config(path: str, result: dict) -> None:
    """Put the calibrated values, with their provenance, into the stages' blocks of ``path``."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    for stage, keys in config_entries(result).items():
        start = next(i for i, line in enumerate(lines) if line.strip() == f"- {stage}:")
        end = next(
            (i for i in range(start + 1, len(lines)) if not lines[i].startswith("      ") or not lines[i].strip()),
            len(lines),
        )
        for key, (value, comment) in keys.items():
            line = f"      {key}: {value}  # {comment}"
            found = next((i for i in range(start + 1, end) if lines[i].strip().startswith(f"{key}:")), None)
            if found is None:
                lines.insert(end, line)
                end += 1
            else:
                lines[found] = line
    Path(path).write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "zh_web.yaml"))
    parser.add_argument(
        "--documents", default=str(CACHE / "quality_eval_documents.parquet"), help="what quality_eval.py wrote"
    )
    parser.add_argument(
        "--budget", type=float, default=0.01, help="largest share of a genre's known-good documents one rule may drop"
    )
    parser.add_argument(
        "--margin", type=float, default=0.5, help="limits are derived at margin x budget, leaving room for unseen text"
    )
    parser.add_argument(
        "--suite-budget",
        type=float,
        default=0.08,
        help="largest share of a genre's policy-passing documents all rules together may drop",
    )
    parser.add_argument("--result", default=str(REPO / "benchmarks" / "results" / "calibration.json"))
    parser.add_argument(
        "--write-config", action="store_true", help="put the values into --config (comments say where each comes from)"
    )
    args = parser.parse_args()

    from curate.config import load_config

    if not os.path.isfile(args.documents):
        raise SystemExit(f"no per-document results at {args.documents}: run benchmarks/quality_eval.py first")
    config = load_config(args.config)
    documents = load_documents(args.documents)
    result = calibrate(config, documents, args.budget * args.margin, args.suite_budget)
    result["config"] = os.path.relpath(args.config, REPO)
    result["false_positive_budget"] = args.budget
    result["margin"] = args.margin
    result["split_half_validation"] = {
        f"derived at {budget:.2%}": validate(config, documents, budget, args.suite_budget)
        for budget in (args.budget, args.budget * args.margin)
    }
    with open(args.result, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    if args.write_config:
        write_config(args.config, result)
    print(f"per-rule budget {result['budget_per_rule']:.4f}; suite share per genre: {result['suite_share_per_genre']}")
    for name, validation in result["split_half_validation"].items():
        print(f"split-half validation, {name}: suite share per genre {validation['suite_share_per_genre']}")
        print(f"  worst genre share per rule (top 6): {dict(list(validation['worst_rule_share'].items())[:6])}")
    for rule in result["rules"]:
        print(
            f"{rule['reason']:38s} {rule['key']:24s} {rule['config_before']!s:>10} -> {rule['new']:<10g} "
            f"binding {rule['binding_genre']:13s} recall spam {rule['recall'][SPAM]} portal {rule['recall'][PORTAL]}"
        )


if __name__ == "__main__":
    main()
