"""``curate report``: one self-contained HTML page about a run, built from its manifest and samples.

Everything is inline (CSS, SVG charts, a few lines of script to sort tables);
the page fetches nothing. It reads only what the run collected for it: the
manifest, the samples (``OUT/samples/``), the first quarantined documents, and
the kept texts of the sampled near-duplicates (a filtered read by id), so its
cost does not grow with the corpus. Every document text is escaped: pages are
hostile input.
"""

from __future__ import annotations

import difflib
import json
import os
from collections import defaultdict
from html import escape
from typing import Any

import pyarrow.parquet as pq

from curate import storage
from curate.samples import KEPT, draw

HISTOGRAMS = (
    ("text length (characters)", "chars"),
    ("language score", "lang_score"),
    ("quality score", "quality_score"),
    ("spam model score", "spam_score"),
    ("CJK share", "quality_zh.cjk_ratio"),
    ("character entropy", "quality_zh.char_entropy"),
    ("Gopher word share (letters, Han, digits)", "quality_gopher.alnum_words"),
    ("duplicate lines", "quality_repetition.dup_lines"),
    ("characters in sentence lines", "quality_fineweb.sentence_line_chars"),
)
QUARANTINE_SHOWN = 50
EXCERPT_CHARS = 1200

CSS = """
body{font:14px/1.5 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}
th.sortable{cursor:pointer;background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.doc{border:1px solid #ddd;border-radius:4px;margin:.5em 0;padding:.5em}.meta{color:#555;font-size:.9em}
.text{white-space:pre-wrap;font-family:inherit;background:#fafafa;padding:.4em;margin:.3em 0;\
max-height:20em;overflow:auto}
mark{background:#ffe066}ins{background:#c8f7c5;text-decoration:none}del{background:#f7c5c5}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.5em}.charts{display:flex;flex-wrap:wrap;gap:1em}
.legend span{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}
"""

SORT_SCRIPT = """
document.querySelectorAll('th.sortable').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], \
index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var down = th.dataset.down !== 'true'; th.dataset.down = down;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].dataset.value || a.cells[index].textContent, \
y = b.cells[index].dataset.value || b.cells[index].textContent;
      var p = parseFloat(x), q = parseFloat(y), c = (!isNaN(p) && !isNaN(q)) ? p - q : x.localeCompare(y);
      return down ? -c : c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def funnel_section(manifest: dict[str, Any]) -> str:
    stages = manifest["stages"]
    widest = max((s["docs_in"] for s in stages), default=1) or 1
    bars, y = [], 0
    for stage in stages:
        kept = 600 * stage["docs_out"] / widest
        dropped = 600 * (stage["docs_in"] - stage["docs_out"]) / widest
        bars.append(
            f'<text x="0" y="{y + 14}" font-size="12">{escape(stage["name"])}</text>'
            f'<rect x="170" y="{y + 2}" width="{kept:.1f}" height="16" fill="#4c8bf5"/>'
            f'<rect x="{170 + kept:.1f}" y="{y + 2}" width="{dropped:.1f}" height="16" fill="#f08c8c"/>'
            f'<text x="{176 + kept + dropped:.1f}" y="{y + 14}" font-size="12">'
            f"{stage['docs_out']:,} of {stage['docs_in']:,}</text>"
        )
        y += 22
    chart = (
        f'<svg width="900" height="{y}" role="img" aria-label="documents into and out of every stage">'
        f"{''.join(bars)}</svg>"
    )
    first = stages[0]["docs_in"] if stages else 0
    rows = "".join(
        f'<tr data-stage="{escape(s["name"])}"><td>{escape(s["name"])}</td><td class="num in">{s["docs_in"]}</td>'
        f'<td class="num out">{s["docs_out"]}</td><td class="num">{s["docs_in"] - s["docs_out"]}</td>'
        f'<td class="num">{100 * s["docs_out"] / first if first else 0:.1f}%</td>'
        f'<td class="num">{s["wall_seconds"]:.2f}</td></tr>'
        for s in stages
    )
    legend = (
        '<p class="legend"><span style="background:#4c8bf5"></span>kept'
        '<span style="background:#f08c8c"></span>dropped</p>'
    )
    table = (
        '<table id="funnel"><thead><tr><th>stage</th><th>in</th><th>out</th><th>dropped</th>'
        f"<th>kept of input</th><th>wall s</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return f"<h2>Funnel</h2>{legend}{chart}{table}"


def drops_section(manifest: dict[str, Any]) -> str:
    rows = []
    for stage in manifest["stages"]:
        for reason, count in stage["drops"].items():
            span = stage.get("drop_values", {}).get(reason)
            values = (
                ""
                if not span
                else (_number(span[0]) if span[0] == span[1] else f"{_number(span[0])} .. {_number(span[1])}")
            )
            share = 100 * count / stage["docs_in"] if stage["docs_in"] else 0
            rows.append(
                f'<tr><td>{escape(stage["name"])}</td><td><a href="#reason-{escape(reason)}">{escape(reason)}</a></td>'
                f'<td class="num">{count}</td><td class="num" data-value="{share:.6f}">{share:.1f}%</td>'
                f"<td>{escape(values)}</td></tr>"
            )
        for rule, count in stage.get("flags", {}).items():
            rows.append(
                f"<tr><td>{escape(stage['name'])}</td><td>{escape(rule)} (flagged, kept)</td>"
                f'<td class="num">{count}</td><td></td><td></td></tr>'
            )
    header = "".join(
        f'<th class="sortable">{h}</th>' for h in ("stage", "reason", "documents", "of stage input", "measured values")
    )
    return (
        '<h2>Drops by reason</h2><p class="meta">Click a header to sort.</p>'
        f'<table id="drops"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _metric(row: dict[str, Any], key: str) -> float | None:
    if key == "chars":
        return float(len(row["text"] or ""))
    signals = json.loads(row["signals"]) if row["signals"] else {}
    value = signals.get(key)
    return float(value) if value is not None else None


def histogram(title: str, kept: list[float], dropped: list[float], bins: int = 20) -> str:
    values = kept + dropped
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    counts = {name: [0] * bins for name in ("kept", "dropped")}
    for name, series in (("kept", kept), ("dropped", dropped)):
        for value in series:
            counts[name][min(int((value - low) / width), bins - 1)] += 1
    tallest = max(max(c) for c in counts.values()) or 1
    bars = []
    for i in range(bins):
        for offset, (name, colour) in enumerate((("kept", "#4c8bf5"), ("dropped", "#f08c8c"))):
            height = 100 * counts[name][i] / tallest
            bars.append(
                f'<rect x="{i * 16 + offset * 7}" y="{110 - height:.1f}" width="7" height="{height:.1f}"'
                f' fill="{colour}"><title>{name}: {counts[name][i]}</title></rect>'
            )
    axis = (
        f'<text x="0" y="125" font-size="10">{_number(low)}</text>'
        f'<text x="{bins * 16}" y="125" font-size="10" text-anchor="end">{_number(high)}</text>'
    )
    return (
        f"<figure><figcaption>{escape(title)} (kept {len(kept)}, dropped {len(dropped)})</figcaption>"
        f'<svg width="{bins * 16}" height="130">{"".join(bars)}{axis}</svg></figure>'
    )


def histograms_section(samples: list[dict[str, Any]]) -> str:
    charts = []
    for title, key in HISTOGRAMS:
        kept = [v for v in (_metric(r, key) for r in samples if r["reason"] == KEPT) if v is not None]
        dropped = [v for v in (_metric(r, key) for r in samples if r["reason"] != KEPT) if v is not None]
        if kept or dropped:
            charts.append(histogram(title, kept, dropped))
    note = '<p class="meta">Over the sampled documents (kept, and dropped for any reason), not the whole corpus.</p>'
    legend = (
        '<p class="legend"><span style="background:#4c8bf5"></span>kept'
        '<span style="background:#f08c8c"></span>dropped</p>'
    )
    return f'<h2>Signals, kept and dropped</h2>{note}{legend}<div class="charts">{"".join(charts)}</div>'


def highlighted(text: str, evidence: str | None) -> str:
    """``text`` escaped and cut, with the evidence (or its last part) marked where it occurs."""
    text = text[:EXCERPT_CHARS] + (" …" if len(text) > EXCERPT_CHARS else "")
    needles = [e.strip(" …") for e in ((evidence or "").split(": ")[::-1]) if len(e.strip(" …")) >= 2]
    for needle in needles:
        for candidate in (needle, needle[:40]):
            at = text.find(candidate)
            if at >= 0:
                return (
                    escape(text[:at]) + "<mark>" + escape(candidate) + "</mark>" + escape(text[at + len(candidate) :])
                )
    return escape(text)


def document_card(row: dict[str, Any]) -> str:
    value = "" if row["value"] is None else f" · value {_number(row['value'])}"
    evidence = f'<div class="meta">evidence: {escape(row["evidence"])}</div>' if row["evidence"] else ""
    where = escape(row["url"] or row["id"] or "")
    return (
        f'<div class="doc"><div class="meta">{where} · {escape(row["domain"] or "")} · '
        f"{escape(os.path.basename(row['source'] or ''))}{escape(value)}</div>"
        f'{evidence}<div class="text">{highlighted(row["text"] or "", row["evidence"])}</div></div>'
    )


def samples_section(samples: list[dict[str, Any]], per_reason: int, seed: int) -> str:
    by_reason: dict[str, list[dict]] = defaultdict(list)
    for row in samples:
        by_reason[row["reason"]].append(row)
    parts = ["<h2>Samples</h2>"]
    for reason in sorted(r for r in by_reason if r != KEPT) + ([KEPT] if KEPT in by_reason else []):
        chosen = draw(by_reason[reason], per_reason, seed)
        title = "kept documents" if reason == KEPT else reason
        parts.append(
            f'<details id="reason-{escape(reason)}"><summary>{escape(title)} ({len(chosen)} shown)</summary>'
            + "".join(document_card(r) for r in chosen)
            + "</details>"
        )
    return "".join(parts)


def _diff(removed: str, kept: str) -> tuple[str, str]:
    removed, kept = removed[:3000], kept[:3000]
    left, right = [], []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, removed, kept, autojunk=False).get_opcodes():
        if op == "equal":
            left.append(escape(removed[a1:a2]))
            right.append(escape(kept[b1:b2]))
        else:
            if a2 > a1:
                left.append(f"<del>{escape(removed[a1:a2])}</del>")
            if b2 > b1:
                right.append(f"<ins>{escape(kept[b1:b2])}</ins>")
    return "".join(left), "".join(right)


def clusters_section(
    out: str, manifest: dict[str, Any], samples: list[dict[str, Any]], per_reason: int, seed: int
) -> str:
    near = manifest.get("minhash_dedup")
    removed = draw([r for r in samples if r["reason"] == "dedup.minhash" and r["kept_id"]], per_reason, seed)
    if near is None and not removed:
        return ""
    summary = ""
    if near is not None:
        from stages.minhash import describe_bands

        sizes = ", ".join(f"{size}: {count}" for size, count in near["cluster_sizes"].items()) or "none"
        verified = "-" if near["verified_pairs"] is None else near["verified_pairs"]
        summary = (
            f'<p class="meta">{escape(describe_bands(near["parameters"]))}</p>'
            f'<table id="minhash"><tr><th>candidate pairs</th><td class="num">{near["candidate_pairs"]}</td></tr>'
            f'<tr><th>verified pairs</th><td class="num">{verified}</td></tr>'
            f'<tr><th>clusters</th><td class="num">{near["clusters"]}</td></tr>'
            f'<tr><th>documents removed</th><td class="num">{near["documents_removed"]}</td></tr>'
            f"<tr><th>cluster sizes</th><td>{escape(sizes)}</td></tr></table>"
        )
    if not removed:
        return f"<h2>Near-duplicate clusters</h2>{summary}"
    ids = sorted({r["kept_id"] for r in removed})
    kept_texts: dict[str, str] = {}
    for shard in manifest["outputs"]["shards"]:
        table = storage.read_parquet(
            storage.join(out, shard["path"]), columns=["id", "text"], filters=[("id", "in", ids)]
        )
        kept_texts.update(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))
    parts = [
        f'<h2>Near-duplicate clusters</h2>{summary}<p class="meta">Removed document (left) and the one kept instead'
        " (right); deletions and insertions marked.</p>"
    ]
    for row in removed:
        left, right = _diff(row["text"] or "", kept_texts.get(row["kept_id"], "") or "")
        parts.append(
            f'<div class="doc"><div class="meta">removed {escape(row["url"] or row["id"])}'
            f" · kept {escape(row['kept_id'])}</div>"
            f'<div class="pair"><div class="text">{left}</div><div class="text">{right}</div></div></div>'
        )
    return "".join(parts)


def quarantine_section(out: str, manifest: dict[str, Any]) -> str:
    files = manifest.get("quarantine", {}).get("files", [])
    if not files:
        return ""
    rows: list[dict] = []
    for item in files:
        for batch in pq.ParquetFile(storage.open_random_access(storage.join(out, item["path"]))).iter_batches(
            batch_size=QUARANTINE_SHOWN
        ):
            rows.extend(batch.to_pylist())
            break
        if len(rows) >= QUARANTINE_SHOWN:
            break
    cards = []
    for row in rows[:QUARANTINE_SHOWN]:
        evidence = "".join(
            f"<li><b>{escape(e['rule'])}</b>: {escape(e['evidence'])}</li>" for e in row["screen_evidence"] or []
        )
        first = next((e["evidence"] for e in row["screen_evidence"] or [] if e["rule"] == row["reason"]), None)
        cards.append(
            f'<div class="doc"><div class="meta">{escape(row["reason"] or "")}'
            f" · {escape(row['url'] or row['id'] or '')} · flags: {escape(', '.join(row['screen_flags'] or []))}</div>"
            f'<ul>{evidence}</ul><div class="text">{highlighted(row["text"] or "", first)}</div></div>'
        )
    total = manifest["quarantine"]["rows"]
    return (
        f'<h2>Quarantine</h2><p class="meta">{min(total, QUARANTINE_SHOWN)} of {total} quarantined documents.</p>'
        f"{''.join(cards)}"
    )


def domains_section(manifest: dict[str, Any]) -> str:
    top = manifest.get("top_domains")
    if not top:
        return ""
    tables = []
    for key in ("kept", "dropped"):
        rows = "".join(f'<tr><td>{escape(domain)}</td><td class="num">{count}</td></tr>' for domain, count in top[key])
        tables.append(
            f"<div><h3>{key}</h3><table><thead><tr><th>domain</th><th>documents</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    return f'<h2>Top domains</h2><div class="charts">{"".join(tables)}</div>'


def summary_section(manifest: dict[str, Any]) -> str:
    inputs = manifest["inputs"]
    items = [
        ("config", f"{manifest['name']} ({manifest['config_hash'][:12]})"),
        ("curate", f"{manifest['curate_version']}, commit {manifest['git_commit'] or '-'}"),
        (
            "run",
            f"{manifest['run_id']}: {manifest['started_at']} .. {manifest['finished_at']}"
            f" ({manifest['seconds']:.1f} s)",
        ),
        (
            "inputs",
            f"{len(inputs)} files, {sum(i.get('records', 0) for i in inputs):,} records, "
            f"{sum(1 for i in inputs if i['status'] != 'ok')} with errors",
        ),
        ("output", f"{manifest['outputs']['rows']:,} documents in {len(manifest['outputs']['shards'])} shards"),
        ("input format", manifest["config"]["input"]["format"]),
    ]
    items += [("left out", f"{s['stage']}: {s['reason']}") for s in manifest.get("skipped_stages", [])]
    items += [
        ("model", f"{m['stage']}: {m['path']} ({m['bytes']:,} bytes, sha256 {m['sha256'][:16]})")
        for m in manifest.get("models", [])
    ]
    for stage in manifest["stages"]:
        if stage.get("flags"):
            # Global screens count a population larger than the survivors they flag.
            counted = (
                f" (counted over {stage['observed']:,} documents that reached extraction)"
                if "observed" in stage
                else ""
            )
            items.append(
                (
                    "flagged, kept",
                    f"{stage['name']}: "
                    + ", ".join(f"{rule} {count:,}" for rule, count in stage["flags"].items())
                    + counted,
                )
            )
    for item in [i for i in inputs if i["status"] != "ok"][:10]:
        error = item["errors"][0] if item["errors"] else None
        where = (
            "" if error is None else (f" (line {error['line']})" if "line" in error else f" (byte {error['offset']})")
        )
        first = item.get("error") or (f"{error['error']}{where}" if error else "")
        items.append((f"input {item['status']}", f"{item['path']}: {item['error_count']} errors; first: {first}"))
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in items)
    return f'<table id="summary">{rows}</table>'


def build_report(out: str, manifest: dict[str, Any], per_reason: int = 20, seed: int | None = None) -> str:
    """The report page of output folder ``out``."""
    seed = manifest["config"]["output"].get("sample_seed", 0) if seed is None else seed
    samples = (
        storage.read_parquet(storage.join(out, manifest["samples"]["path"])).to_pylist()
        if "samples" in manifest
        else []
    )
    body = "".join(
        [
            f"<h1>curate report: {escape(manifest['name'])}</h1>",
            summary_section(manifest),
            funnel_section(manifest),
            drops_section(manifest),
            histograms_section(samples) if samples else "",
            samples_section(samples, per_reason, seed) if samples else "",
            clusters_section(out, manifest, samples, per_reason, seed),
            quarantine_section(out, manifest),
            domains_section(manifest),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        # No fetches of any kind: everything the page needs is in it.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline';"
        " script-src 'unsafe-inline'; img-src data:\">"
        f"<title>curate report: {escape(manifest['name'])}</title><style>{CSS}</style></head>"
        f"<body>{body}<script>{SORT_SCRIPT}</script></body></html>"
    )


def write_report(out: str, manifest: dict[str, Any], per_reason: int = 20, seed: int | None = None) -> str:
    """Write ``out/report.html`` (a local folder or a URI) and return its path."""
    path = storage.join(out, "report.html")
    storage.write_text(path, build_report(out, manifest, per_reason, seed))
    return path
