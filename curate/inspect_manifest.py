"""``curate inspect``: a manifest as terminal tables.

The manifest is untrusted (anyone who can write to the folder can edit it): every
string goes out through ``shown``, cut and with control and bidi characters as
code points, so a value cannot drive the terminal or reorder a line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curate.untrusted import shown

CELL_CHARS = 200


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A plain-text table; ``align`` holds 'l' or 'r' per column (numbers default right)."""
    cells = [[str(h) for h in headers]] + [
        ["" if v is None else shown(str(v), CELL_CHARS) for v in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if not align:
        align = "".join("r" if rows and isinstance(rows[0][i], (int, float)) else "l" for i in range(len(headers)))

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _value_range(span: list[float] | None) -> str:
    if not span:
        return ""
    low, high = span
    return f"{low:.4g}" if low == high else f"{low:.4g} .. {high:.4g}"


def render(manifest: dict[str, Any]) -> str:
    """The manifest as text: run, funnel, drops, inputs, near-duplicates, models, block lists,
    output shards."""
    stages = manifest["stages"]
    parts = _run_header(manifest) + _funnel(stages) + _drops(stages) + _tokens(manifest.get("tokens"))
    parts += _inputs(manifest["inputs"])
    near = manifest.get("minhash_dedup")
    if near is not None:
        parts += _near_duplicates(near)
    models = manifest.get("models")
    if models:
        rows = [[m["stage"], m["path"], m["bytes"], m["sha256"][:16]] for m in models]
        parts += ["", "Models", table(["stage", "path", "bytes", "sha256"], rows, align="llrl")]
    lists = manifest.get("blocklists")
    if lists:
        rows = [[b["stage"], b["name"], b["format"], b["entries"], b["sha256"][:16]] for b in lists]
        parts += ["", "Block lists", table(["stage", "list", "format", "entries", "sha256"], rows, align="lllrl")]
    return "\n".join(parts + _outputs(manifest["outputs"]))


def _run_header(manifest: dict[str, Any]) -> list[str]:
    lines = [
        f"run {manifest['run_id']}  config {manifest['name']} ({manifest['config_hash'][:12]})",
        f"curate {manifest['curate_version']}  commit {manifest['git_commit'] or '-'}  "
        f"{manifest['started_at']} .. {manifest['finished_at']}  ({manifest['seconds']:.1f} s)",
    ]
    return [shown(line, 2 * CELL_CHARS) for line in lines]


def _funnel(stages: list[dict[str, Any]]) -> list[str]:
    first_in = stages[0]["docs_in"] if stages else 0
    rows = [
        [
            s["name"],
            s["docs_in"],
            s["docs_out"],
            s["docs_in"] - s["docs_out"],
            _percent(s["docs_out"], first_in),
            f"{s['wall_seconds']:.2f}",
            f"{s['cpu_seconds']:.2f}",
        ]
        for s in stages
    ]
    headers = ["stage", "in", "out", "dropped", "kept of input", "wall s", "cpu s"]
    return ["", "Funnel", table(headers, rows, align="lrrrrrr")]


def _drops(stages: list[dict[str, Any]]) -> list[str]:
    rows = [
        [s["name"], reason, count, _percent(count, s["docs_in"]), _value_range(s.get("drop_values", {}).get(reason))]
        for s in stages
        for reason, count in s["drops"].items()
    ]
    headers = ["stage", "reason", "docs", "of stage input", "measured values"]
    return ["", "Drops by reason", table(headers, rows, align="llrrl") if rows else "(none)"]


def _tokens(tokens: dict[str, Any] | None) -> list[str]:
    """Tokens in and out of every stage and by drop reason, per tokenizer (``run.tokenizers``)."""
    if not tokens:
        return []
    lines = ["", "Tokens (each document counted once, where it leaves: dropped ones as dropped, kept ones as written)"]
    for tokenizer in tokens["tokenizers"]:
        name = tokenizer["name"]
        per_han = tokens["per_han_char"].get(name)
        lines.append(
            shown(
                f"{name}: {tokens['output'].get(name, 0):,} tokens out, {tokens['han_chars']:,} Han characters, "
                f"{per_han if per_han is not None else '-'} tokens per Han character "
                f"({tokenizer['source']}, vocabulary {tokenizer['vocab_size']:,}, sha256 {tokenizer['sha256'][:16]})",
                2 * CELL_CHARS,
            )
        )
        rows = [[s["name"], s["in"].get(name, 0), s["out"].get(name, 0)] for s in tokens["stages"]]
        lines.append(table(["stage", "tokens in", "tokens out"], rows, align="lrr"))
        dropped = [
            [s["name"], reason, count]
            for s in tokens["stages"]
            for reason, count in s.get("dropped", {}).get(name, {}).items()
        ]
        if dropped:
            lines += ["", f"{name}: tokens by drop reason", table(["stage", "reason", "tokens"], dropped, align="llr")]
    return lines


def _inputs(inputs: list[dict[str, Any]]) -> list[str]:
    with_errors = [i for i in inputs if i["status"] != "ok"]
    records = sum(i["records"] for i in inputs)
    files = len({item["path"] for item in inputs})
    units = f" in {len(inputs)} units" if len(inputs) != files else ""
    parts = ["", f"Inputs: {files} files{units}, {records} records, {len(with_errors)} with errors"]
    if with_errors:
        rows = [[_where(item), item["status"], item["error_count"] or 1, _first_error(item)] for item in with_errors]
        parts.append(table(["path", "status", "errors", "first error"], rows, align="llrl"))
    return parts


def _where(item: dict[str, Any]) -> str:
    """An input's path, with its byte range when the unit read a range of the file."""
    span = item.get("range")
    return f"{item['path']} [{span['start']}:{span['end'] or ''}]" if span else item["path"]


def _first_error(item: dict[str, Any]) -> str:
    """An input's first error with where it happened (a line of text input, a byte of a WARC)."""
    error = item["errors"][0] if item["errors"] else None
    if item.get("error") or error is None:
        return item.get("error", "")
    where = f"line {error['line']}" if "line" in error else f"byte {error['offset']}"
    return f"{error['error']} ({where})"


def _near_duplicates(near: dict[str, Any]) -> list[str]:
    from stages.minhash import describe_bands

    components = near["components"]
    row = [
        near["candidate_pairs"],
        near["verified_pairs"] if near["verified_pairs"] is not None else "-",
        near["clusters"],
        near["documents_removed"],
        f"{components['method']}, {components['iterations']} rounds",
        f"{near['seconds']:.2f}",
    ]
    headers = ["candidate pairs", "verified pairs", "clusters", "documents removed", "components", "seconds"]
    sizes = ", ".join(f"{size}: {count}" for size, count in near["cluster_sizes"].items()) or "none"
    return [
        "",
        "Near-duplicates (MinHash)",
        shown(describe_bands(near["parameters"]), 2 * CELL_CHARS),
        table(headers, [row], align="rrrrlr"),
        "cluster sizes: " + shown(sizes, 10 * CELL_CHARS),
    ]


def _outputs(outputs: dict[str, Any]) -> list[str]:
    shards = outputs["shards"]
    parts = ["", f"Output shards: {len(shards)} files, {outputs['rows']} rows, {outputs['bytes']} bytes"]
    if shards:
        rows = [[s["path"], s["rows"], s["bytes"], s["sha256"][:16]] for s in shards]
        parts.append(table(["path", "rows", "bytes", "sha256"], rows, align="lrrl"))
    return parts


def profile_table(manifest: dict[str, Any]) -> str:
    """Where the time went: per stage, CPU and wall seconds, CPU ms per document the stage saw
    and per input document, and the share of all stages' CPU time."""
    stages = manifest["stages"]
    total_cpu = sum(s["cpu_seconds"] for s in stages) or 1.0
    first = stages[0]["docs_in"] if stages else 0
    rows = [
        [
            s["name"],
            s["docs_in"],
            f"{s['cpu_seconds']:.3f}",
            f"{s['wall_seconds']:.3f}",
            f"{1000 * s['cpu_seconds'] / s['docs_in']:.3f}" if s["docs_in"] else "-",
            f"{1000 * s['cpu_seconds'] / first:.3f}" if first else "-",
            f"{100 * s['cpu_seconds'] / total_cpu:.1f}%",
        ]
        for s in stages
    ]
    stage_cpu = sum(s["cpu_seconds"] for s in stages)
    header = f"run {manifest['run_id']}  {manifest['seconds']:.1f} s wall  ({stage_cpu:.1f} s CPU in stages)"
    return (
        header
        + "\n"
        + table(
            ["stage", "docs in", "cpu s", "wall s", "cpu ms/doc seen", "cpu ms/input doc", "share of cpu"],
            rows,
            align="lrrrrrr",
        )
    )
