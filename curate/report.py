"""``curate report``: one self-contained HTML page about a run, built from its manifest and samples.

Everything is inline (CSS, SVG charts, a few lines of script to sort tables);
the page fetches nothing. It reads only what the run collected for it: the
manifest, the samples (``OUT/samples/``), the first quarantined documents, and
the kept texts of the sampled near-duplicates (a filtered read by id), so its
cost does not grow with the corpus.

Everything it shows is hostile input: documents are web pages, and the manifest
and the files it lists are whatever the folder holds (anyone who can write to it
can edit them). So every value goes into the page through ``_text`` or ``_num``
(HTML-escaped; cut to a length, so a 1 MB URL is a line; bidi controls shown as
code points), numbers are formatted only once they are known to be numbers, and
the Content-Security-Policy runs only the page's own script and style, by hash.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import math
import os
from collections import defaultdict
from html import escape
from typing import Any

import pyarrow as pa

from curate import storage
from curate.samples import KEPT, draw, read_samples
from curate.untrusted import UnsafeOutput, inside, read_rows, shown

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
LINE_CHARS = 300
"""Any one-line value (URL, id, reason, evidence, path, error) is cut here: whole, a crafted
one could be megabytes, repeated in every card that shows it."""
LIST_SHOWN = 20
"""Evidence entries and flags shown per quarantined document."""
QUARANTINE_VIEW = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("url", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("screen_flags", pa.list_(pa.string())),
        pa.field("screen_evidence", pa.list_(pa.struct([("rule", pa.string()), ("evidence", pa.string())]))),
        pa.field("text", pa.string()),
    ]
)
"""The quarantine columns the report shows, with the types it reads them as."""

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
.legend .kept{background:#4c8bf5}.legend .dropped{background:#f08c8c}
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


LEGEND = '<p class="legend"><span class="kept"></span>kept<span class="dropped"></span>dropped</p>'


def _source_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = (
    f"default-src 'none'; script-src {_source_hash(SORT_SCRIPT)}; style-src {_source_hash(CSS)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
"""Only the page's own script and style run (an injected one has another hash), nothing is fetched;
style attributes are not allowed either, so the page has none."""


def _text(value: object, limit: int = LINE_CHARS) -> str:
    """A value shown as text: cut to ``limit``, bidi controls neutralised, HTML-escaped."""
    return escape(shown("" if value is None else str(value), limit))


def _num(value: object, spec: str | None = None) -> str:
    """A number as text (``spec``, else thousands for integers and 4 digits for the rest); anything
    else shown as text, never formatted as a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _text(value, 40)
    return escape(format(value, spec if spec is not None else ("," if isinstance(value, int) else ".4g")))


def funnel_section(manifest: dict[str, Any]) -> str:
    stages = manifest["stages"]
    widest = max((s["docs_in"] for s in stages), default=1) or 1
    bars, y = [], 0
    for stage in stages:
        # Clamped: a tampered manifest's docs_out above docs_in must not draw a negative width.
        kept = max(0.0, 600 * stage["docs_out"] / widest)
        dropped = max(0.0, 600 * (stage["docs_in"] - stage["docs_out"]) / widest)
        bars.append(
            f'<text x="0" y="{y + 14}" font-size="12">{_text(stage["name"], 60)}</text>'
            f'<rect x="170" y="{y + 2}" width="{_num(kept, ".1f")}" height="16" fill="#4c8bf5"/>'
            f'<rect x="{_num(170 + kept, ".1f")}" y="{y + 2}" width="{_num(dropped, ".1f")}" height="16"'
            ' fill="#f08c8c"/>'
            f'<text x="{_num(176 + kept + dropped, ".1f")}" y="{y + 14}" font-size="12">'
            f"{_num(stage['docs_out'])} of {_num(stage['docs_in'])}</text>"
        )
        y += 22
    chart = (
        f'<svg width="900" height="{y}" role="img" aria-label="documents into and out of every stage">'
        f"{''.join(bars)}</svg>"
    )
    first = stages[0]["docs_in"] if stages else 0
    rows = "".join(
        f'<tr data-stage="{_text(s["name"])}"><td>{_text(s["name"])}</td>'
        f'<td class="num in">{_num(s["docs_in"], "")}</td><td class="num out">{_num(s["docs_out"], "")}</td>'
        f'<td class="num">{_num(s["docs_in"] - s["docs_out"], "")}</td>'
        f'<td class="num">{_num(100 * s["docs_out"] / first if first else 0, ".1f")}%</td>'
        f'<td class="num">{_num(s["wall_seconds"], ".2f")}</td></tr>'
        for s in stages
    )
    table = (
        '<table id="funnel"><thead><tr><th>stage</th><th>in</th><th>out</th><th>dropped</th>'
        f"<th>kept of input</th><th>wall s</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return f"<h2>Funnel</h2>{LEGEND}{chart}{table}"


def _span(span: list[float] | None) -> str:
    if not span:
        return ""
    return _num(span[0]) if span[0] == span[1] else f"{_num(span[0])} .. {_num(span[1])}"


def drops_section(manifest: dict[str, Any]) -> str:
    rows = []
    for stage in manifest["stages"]:
        name = _text(stage["name"])
        for reason, count in stage["drops"].items():
            share = 100 * count / stage["docs_in"] if stage["docs_in"] else 0
            rows.append(
                f'<tr><td>{name}</td><td><a href="#reason-{_text(reason)}">{_text(reason)}</a></td>'
                f'<td class="num">{_num(count, "")}</td>'
                f'<td class="num" data-value="{_num(share, ".6f")}">{_num(share, ".1f")}%</td>'
                f"<td>{_span(stage.get('drop_values', {}).get(reason))}</td></tr>"
            )
        for rule, count in stage.get("flags", {}).items():
            rows.append(
                f"<tr><td>{name}</td><td>{_text(rule)} (flagged, kept)</td>"
                f'<td class="num">{_num(count, "")}</td><td></td><td></td></tr>'
            )
    header = "".join(
        f'<th class="sortable">{h}</th>' for h in ("stage", "reason", "documents", "of stage input", "measured values")
    )
    return (
        '<h2>Drops by reason</h2><p class="meta">Click a header to sort.</p>'
        f'<table id="drops"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def tokens_section(manifest: dict[str, Any]) -> str:
    """Tokens in and out of every stage and by drop reason, per tokenizer."""
    tokens = manifest.get("tokens")
    if not tokens:
        return ""
    parts = [
        '<h2>Tokens</h2><p class="meta">Each document is counted once, where it leaves the pipeline: dropped '
        "ones on their text when dropped (none before extraction), kept ones on the text written.</p>"
    ]
    for tokenizer in tokens["tokenizers"][:LIST_SHOWN]:
        name = tokenizer["name"]
        parts.append(
            f'<h3>{_text(name)}</h3><p class="meta">{_num(tokens["output"].get(name))} tokens out, '
            f"{_num(tokens['han_chars'])} Han characters, {_num(tokens['per_han_char'].get(name), '.4f')} tokens "
            f"per Han character; {_text(tokenizer['source'])}, vocabulary {_num(tokenizer['vocab_size'])}, sha256 "
            f"<code>{_text(tokenizer['sha256'][:16])}</code></p>"
        )
        rows = "".join(
            f'<tr><td>{_text(s["name"])}</td><td class="num">{_num(s["in"].get(name), "")}</td>'
            f'<td class="num">{_num(s["out"].get(name), "")}</td>'
            f"<td>{_text(', '.join(f'{r}: {c}' for r, c in s.get('dropped', {}).get(name, {}).items()))}</td></tr>"
            for s in tokens["stages"]
        )
        parts.append(
            f'<table class="tokens" data-tokenizer="{_text(name)}"><thead><tr><th>stage</th><th>tokens in</th>'
            f"<th>tokens out</th><th>dropped, by reason</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return "".join(parts)


def _metric(row: dict[str, Any], key: str) -> float | None:
    """A sampled document's measured ``key``; None when it has none, or the samples file holds
    something other than a finite number there."""
    if key == "chars":
        return float(len(row["text"] or ""))
    try:
        signals = json.loads(row["signals"]) if row["signals"] else {}
    except (ValueError, RecursionError):
        return None
    value = signals.get(key) if isinstance(signals, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


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
        f'<text x="0" y="125" font-size="10">{_num(low)}</text>'
        f'<text x="{bins * 16}" y="125" font-size="10" text-anchor="end">{_num(high)}</text>'
    )
    return (
        f"<figure><figcaption>{_text(title)} (kept {len(kept)}, dropped {len(dropped)})</figcaption>"
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
    return f'<h2>Signals, kept and dropped</h2>{note}{LEGEND}<div class="charts">{"".join(charts)}</div>'


def _html(text: str) -> str:
    """A piece of an excerpt (already cut): bidi controls neutralised, HTML-escaped."""
    return escape(shown(text))


def highlighted(text: str, evidence: str | None) -> str:
    """``text`` escaped and cut, with the evidence (or its last part) marked where it occurs."""
    text = text[:EXCERPT_CHARS] + (" …" if len(text) > EXCERPT_CHARS else "")
    needles = [e.strip(" …") for e in ((evidence or "").split(": ")[::-1]) if len(e.strip(" …")) >= 2]
    for needle in needles:
        for candidate in (needle, needle[:40]):
            at = text.find(candidate)
            if at >= 0:
                return _html(text[:at]) + "<mark>" + _html(candidate) + "</mark>" + _html(text[at + len(candidate) :])
    return _html(text)


def document_card(row: dict[str, Any]) -> str:
    value = "" if row["value"] is None else f" · value {_num(row['value'])}"
    evidence = f'<div class="meta">evidence: {_text(row["evidence"])}</div>' if row["evidence"] else ""
    where = _text(row["url"] or row["id"] or "")
    source = _text(os.path.basename(row["source"] or ""))
    return (
        f'<div class="doc"><div class="meta">{where} · {_text(row["domain"] or "")} · {source}{value}</div>'
        f'{evidence}<div class="text">{highlighted(row["text"] or "", row["evidence"])}</div></div>'
    )


def samples_section(samples: list[dict[str, Any]], per_reason: int, seed: int) -> str:
    by_reason: dict[str, list[dict]] = defaultdict(list)
    for row in samples:
        by_reason[row["reason"] or ""].append(row)
    parts = ["<h2>Samples</h2>"]
    for reason in sorted(r for r in by_reason if r != KEPT) + ([KEPT] if KEPT in by_reason else []):
        chosen = draw(by_reason[reason], per_reason, seed)
        title = "kept documents" if reason == KEPT else reason
        parts.append(
            f'<details id="reason-{_text(reason)}"><summary>{_text(title)} ({len(chosen)} shown)</summary>'
            + "".join(document_card(r) for r in chosen)
            + "</details>"
        )
    return "".join(parts)


def _diff(removed: str, kept: str) -> tuple[str, str]:
    removed, kept = removed[:3000], kept[:3000]
    left, right = [], []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, removed, kept, autojunk=False).get_opcodes():
        if op == "equal":
            left.append(_html(removed[a1:a2]))
            right.append(_html(kept[b1:b2]))
        else:
            if a2 > a1:
                left.append(f"<del>{_html(removed[a1:a2])}</del>")
            if b2 > b1:
                right.append(f"<ins>{_html(kept[b1:b2])}</ins>")
    return "".join(left), "".join(right)


def _minhash_summary(near: dict[str, Any]) -> str:
    from stages.minhash import describe_bands

    sizes = ", ".join(f"{size}: {count}" for size, count in near["cluster_sizes"].items()) or "none"
    verified = "-" if near["verified_pairs"] is None else _num(near["verified_pairs"], "")
    return (
        f'<p class="meta">{_text(describe_bands(near["parameters"]))}</p>'
        '<table id="minhash">'
        f'<tr><th>candidate pairs</th><td class="num">{_num(near["candidate_pairs"], "")}</td></tr>'
        f'<tr><th>verified pairs</th><td class="num">{verified}</td></tr>'
        f'<tr><th>clusters</th><td class="num">{_num(near["clusters"], "")}</td></tr>'
        f'<tr><th>documents removed</th><td class="num">{_num(near["documents_removed"], "")}</td></tr>'
        f"<tr><th>cluster sizes</th><td>{_text(sizes, 2000)}</td></tr></table>"
    )


def _kept_texts(out: str, manifest: dict[str, Any], ids: list[str]) -> dict[str, str]:
    """The texts of the documents with ``ids`` in the output shards (a filtered read)."""
    texts: dict[str, str] = {}
    for shard in manifest["outputs"]["shards"]:
        path = inside(out, shard["path"])
        try:
            table = storage.read_parquet(path, columns=["id", "text"], filters=[("id", "in", ids)])
        except (pa.ArrowException, ValueError) as error:
            raise UnsafeOutput(f"{shown(shard['path'], 200)}: not a shard with id and text: {error}") from error
        pairs = zip(table.column("id").to_pylist(), table.column("text").to_pylist())
        texts.update((i, t) for i, t in pairs if isinstance(i, str) and isinstance(t, str))
    return texts


def clusters_section(
    out: str, manifest: dict[str, Any], samples: list[dict[str, Any]], per_reason: int, seed: int
) -> str:
    near = manifest.get("minhash_dedup")
    removed = draw([r for r in samples if r["reason"] == "dedup.minhash" and r["kept_id"]], per_reason, seed)
    if near is None and not removed:
        return ""
    summary = "" if near is None else _minhash_summary(near)
    if not removed:
        return f"<h2>Near-duplicate clusters</h2>{summary}"
    kept_texts = _kept_texts(out, manifest, sorted({r["kept_id"] for r in removed}))
    parts = [
        f'<h2>Near-duplicate clusters</h2>{summary}<p class="meta">Removed document (left) and the one kept instead'
        " (right); deletions and insertions marked.</p>"
    ]
    for row in removed:
        left, right = _diff(row["text"] or "", kept_texts.get(row["kept_id"], ""))
        parts.append(
            f'<div class="doc"><div class="meta">removed {_text(row["url"] or row["id"])}'
            f" · kept {_text(row['kept_id'])}</div>"
            f'<div class="pair"><div class="text">{left}</div><div class="text">{right}</div></div></div>'
        )
    return "".join(parts)


def _quarantine_card(row: dict[str, Any]) -> str:
    entries = [e for e in row["screen_evidence"] or [] if e]
    evidence = "".join(f"<li><b>{_text(e['rule'])}</b>: {_text(e['evidence'])}</li>" for e in entries[:LIST_SHOWN])
    first = next((e["evidence"] for e in entries if e["rule"] == row["reason"]), None)
    flags = [f or "" for f in row["screen_flags"] or []]
    return (
        f'<div class="doc"><div class="meta">{_text(row["reason"])} · {_text(row["url"] or row["id"])}'
        f" · flags: {_text(', '.join(flags[:LIST_SHOWN]))}</div>"
        f'<ul>{evidence}</ul><div class="text">{highlighted(row["text"] or "", first)}</div></div>'
    )


def quarantine_section(out: str, manifest: dict[str, Any]) -> str:
    files = manifest.get("quarantine", {}).get("files", [])
    if not files:
        return ""
    rows: list[dict] = []
    for item in files:
        rows += read_rows(inside(out, item["path"]), QUARANTINE_VIEW, limit=QUARANTINE_SHOWN - len(rows))
        if len(rows) >= QUARANTINE_SHOWN:
            break
    total = manifest["quarantine"]["rows"]
    return (
        f'<h2>Quarantine</h2><p class="meta">{_num(len(rows), "")} of {_num(total, "")}'
        f" quarantined documents.</p>{''.join(_quarantine_card(row) for row in rows)}"
    )


def domains_section(manifest: dict[str, Any]) -> str:
    top = manifest.get("top_domains")
    if not top:
        return ""
    tables = []
    for key in ("kept", "dropped"):
        rows = "".join(
            f'<tr><td>{_text(domain)}</td><td class="num">{_num(count, "")}</td></tr>' for domain, count in top[key]
        )
        tables.append(
            f"<div><h3>{key}</h3><table><thead><tr><th>domain</th><th>documents</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
    return f'<h2>Top domains</h2><div class="charts">{"".join(tables)}</div>'


def boilerplate_section(manifest: dict[str, Any]) -> str:
    """What ``line_dedup`` cut: its totals, and the most removed lines of the domains with most."""
    found = manifest.get("global_stages", {}).get("line_dedup")
    if not found:
        return ""
    totals = ", ".join(
        f"{_num(found.get(key))} {label}"
        for key, label in (
            ("units_removed", "lines removed"),
            ("chars_removed", "characters"),
            ("documents_changed", "documents changed"),
            ("documents_emptied", "documents left empty (dropped)"),
        )
    )
    tables = []
    for entry in found.get("top_removed", [])[:LIST_SHOWN]:
        rows = "".join(
            f'<tr><td>{_text(line.get("text"))}</td><td class="num">{_num(line.get("pages"))}</td></tr>'
            for line in entry.get("lines", [])[:LIST_SHOWN]
        )
        tables.append(
            f"<div><h3>{_text(entry.get('domain'))}</h3><table><thead><tr><th>line</th><th>pages</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></div>"
        )
    return f'<h2>Boilerplate lines</h2><p class="meta">{totals}.</p><div class="charts">{"".join(tables)}</div>'


def _run_items(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, HTML) rows about the run: config, code, times, inputs, output."""
    inputs, outputs = manifest["inputs"], manifest["outputs"]
    with_errors = sum(1 for i in inputs if i["status"] != "ok")
    failed = sum(1 for i in inputs if i["status"] == "failed")
    empty = sum(1 for i in inputs if i.get("note"))
    skipped = sum(i.get("skipped_bytes", 0) for i in inputs)
    records = sum(i.get("records", 0) for i in inputs)
    return [
        ("config", f"{_text(manifest['name'])} ({_text(manifest['config_hash'][:12])})"),
        ("curate", f"{_text(manifest['curate_version'])}, commit {_text(manifest['git_commit'] or '-')}"),
        (
            "run",
            f"{_text(manifest['run_id'])}: {_text(manifest['started_at'])} .. {_text(manifest['finished_at'])}"
            f" ({_num(manifest['seconds'], '.1f')} s)",
        ),
        (
            "inputs",
            f"{_files(inputs)}, {_num(records, ',')} records, {with_errors} with errors ({failed} failed),"
            f" {empty} with a note, {_num(skipped, ',')} damaged bytes passed over",
        ),
        ("output", f"{_num(outputs['rows'], ',')} documents in {len(outputs['shards'])} shards"),
        ("input format", _text(manifest["config"]["input"]["format"])),
    ]


def _stage_items(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, HTML) rows about the stages: left out, models loaded, flagged and kept."""
    items = [("left out", f"{_text(s['stage'])}: {_text(s['reason'])}") for s in manifest.get("skipped_stages", [])]
    items += [
        (
            "model",
            f"{_text(m['stage'])}: {_text(m['path'])}"
            f" ({_num(m['bytes'], ',')} bytes, sha256 {_text(m['sha256'][:16])})",
        )
        for m in manifest.get("models", [])
    ]
    items += [
        (
            "block list",
            f"{_text(b['stage'])}: {_text(b['name'])} ({_num(b['entries'], ',')} entries,"
            f" sha256 {_text(b['sha256'][:16])})",
        )
        for b in manifest.get("blocklists", [])
    ]
    for stage in manifest["stages"]:
        if stage.get("hits"):
            hits = ", ".join(f"{_text(category)} {_num(count, ',')}" for category, count in stage["hits"].items())
            items.append(("list hits", f"{_text(stage['name'])}: {hits}"))
        if stage.get("flags"):
            # Global screens count a population larger than the survivors they flag.
            counted = (
                f" (counted over {_num(stage['observed'], ',')} documents that reached extraction)"
                if "observed" in stage
                else ""
            )
            rules = ", ".join(f"{_text(rule)} {_num(count, ',')}" for rule, count in stage["flags"].items())
            items.append(("flagged, kept", f"{_text(stage['name'])}: {rules}{counted}"))
    return items


def _files(inputs: list[dict[str, Any]]) -> str:
    """How many input files, and in how many units when some were cut into ranges."""
    files = len({str(i["path"]) for i in inputs})
    return f"{_num(files, ',')} files" + (f" in {_num(len(inputs), ',')} units" if len(inputs) != files else "")


def _input_items(inputs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, HTML) rows for the first inputs with errors or a note, each with its first error,
    why a failed one failed (the file, or the run around it) and the damaged bytes passed over."""
    items = []
    for item in [i for i in inputs if i["status"] != "ok" or i.get("note")][:10]:
        error = item["errors"][0] if item["errors"] else None
        where = ""
        if error is not None:
            where = f" (line {_num(error['line'], '')})" if "line" in error else f" (byte {_num(error['offset'], '')})"
        first = _text(item["error"]) if item.get("error") else (f"{_text(error['error'])}{where}" if error else "")
        span = item.get("range")
        where_in = (
            f" bytes {_num(span['start'], '')}..{_num(span['end'], '') if span['end'] else 'end'}" if span else ""
        )
        summary = f"{_text(item['path'])}{where_in}: {_num(item['error_count'], '')} errors; first: {first}"
        if item.get("failure"):
            summary += f"; failure: {_text(item['failure'])}"
        if item.get("skipped_bytes"):
            summary += f"; {_num(item['skipped_bytes'], ',')} damaged bytes passed over"
        if item.get("note"):
            summary += f"; note: {_text(item['note'])}"
        items.append((f"input {item['status']}", summary))
    return items


def summary_section(manifest: dict[str, Any]) -> str:
    items = _run_items(manifest) + _stage_items(manifest) + _input_items(manifest["inputs"])
    rows = "".join(f"<tr><th>{_text(label)}</th><td>{value}</td></tr>" for label, value in items)
    return f'<table id="summary">{rows}</table>'


def build_report(out: str, manifest: dict[str, Any], per_reason: int = 20, seed: int | None = None) -> str:
    """The report page of output folder ``out``; ``manifest`` checked against the schema (as
    ``load_manifest`` does). UnsafeOutput when a file it lists is outside ``out`` or not its table."""
    seed = manifest["config"]["output"].get("sample_seed", 0) if seed is None else seed
    samples = read_samples(out, manifest["samples"]) if "samples" in manifest else []
    body = "".join(
        [
            f"<h1>curate report: {_text(manifest['name'])}</h1>",
            summary_section(manifest),
            funnel_section(manifest),
            drops_section(manifest),
            tokens_section(manifest),
            histograms_section(samples) if samples else "",
            samples_section(samples, per_reason, seed) if samples else "",
            clusters_section(out, manifest, samples, per_reason, seed),
            boilerplate_section(manifest),
            quarantine_section(out, manifest),
            domains_section(manifest),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>curate report: {_text(manifest['name'])}</title><style>{CSS}</style></head>"
        f"<body>{body}<script>{SORT_SCRIPT}</script></body></html>"
    )


def write_report(out: str, manifest: dict[str, Any], per_reason: int = 20, seed: int | None = None) -> str:
    """Write ``out/report.html`` (a local folder or a URI) and return its path."""
    path = storage.join(out, "report.html")
    storage.write_text(path, build_report(out, manifest, per_reason, seed))
    return path
