"""The flagship config on the sample crawl the repo ships: out of the box, every stage at work."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner
from conftest import REPO, SAMPLE_WARC

from curate.cli import cli


def test_sample_warc_regenerates_byte_for_byte(tmp_path: Path) -> None:
    target = tmp_path / SAMPLE_WARC.name
    subprocess.run(
        [sys.executable, str(REPO / "samples" / "build_sample_warc.py"), "--output", str(target)],
        check=True,
        capture_output=True,
    )
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(SAMPLE_WARC.read_bytes()).hexdigest()


def test_flagship_run_on_the_sample(ray_session, tmp_path: Path) -> None:
    out = tmp_path / "zh_web"
    result = CliRunner().invoke(cli, ["run", str(REPO / "configs" / "zh_web.yaml"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    stages = {s["name"]: s for s in manifest["stages"]}
    assert stages["read"]["docs_out"] >= 150
    for name in (
        "read",
        "extract",
        "langid",
        "spam_lexicon",
        "spam_model",
        "policy",
        "zh_quality",
        "gopher_repetition",
        "exact_dedup",
    ):
        assert stages[name]["drops"], f"{name} dropped nothing on the sample"
    assert stages["read"]["drops"]["read.not_html"] == 3
    quality_reasons = {r for s in manifest["stages"] for r in s["drops"] if r.startswith("quality.")}
    assert len(quality_reasons) >= 5, quality_reasons
    for stage in manifest["stages"]:
        for reason in stage["drops"]:
            if reason.startswith("quality.") and reason not in ("quality.c4_lorem_ipsum", "quality.c4_curly_bracket"):
                assert reason in stage["drop_values"], reason  # every measured drop carries its value range

    # The planted attacks in the sample land in quarantine, each with its evidence.
    quarantine = pq.read_table(out / "quarantine").to_pylist()
    assert len(quarantine) == manifest["quarantine"]["rows"] >= 5
    screen_reasons = {r for s in manifest["stages"] for r in s["drops"] if r.startswith("screen.")}
    assert len(screen_reasons) >= 5 and {row["reason"] for row in quarantine} == screen_reasons
    assert all(row["screen_evidence"] and row["reason"] in row["screen_flags"] for row in quarantine)
    assert stages["screen_pii"]["flags"]
    assert stages["minhash_dedup"]["drops"]["dedup.minhash"] == manifest["minhash_dedup"]["documents_removed"] > 0

    rows = [row for shard in manifest["outputs"]["shards"] for row in pq.read_table(out / shard["path"]).to_pylist()]
    assert len(rows) == manifest["outputs"]["rows"]
    assert any("<email>" in row["text"] for row in rows)  # the PII page is kept, redacted
    assert {r["lang"] for r in rows} == {"zh"}
    scripts = {r["script"] for r in rows}
    assert scripts == {"Hans", "Hant"}
    charsets = {r["charset"] for r in rows}
    assert {"utf-8", "gb18030", "cp950"} <= charsets
    for row in rows:
        assert "\ufffd" not in row["text"], row["url"]
        if row["charset"] == "cp950":
            assert row["script"] == "Hant", row["url"]
    for row in rows:
        assert row["quality_policy"]["chars"] >= 50
    domains = {r["domain"] for r in rows}
    assert not any(d.endswith((".jp", ".kr")) for d in domains)  # Japanese (incl. kanji-heavy) and Korean dropped
