"""``curate inspect``: a manifest as terminal tables."""

from __future__ import annotations

from typing import Any, Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A plain-text table; ``align`` holds 'l' or 'r' per column (numbers default right)."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
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
    stages = manifest["stages"]
    first_in = stages[0]["docs_in"] if stages else 0
    parts = [
        f"run {manifest['run_id']}  config {manifest['name']} ({manifest['config_hash'][:12]})",
        f"curate {manifest['curate_version']}  commit {manifest['git_commit'] or '-'}  "
        f"{manifest['started_at']} .. {manifest['finished_at']}  ({manifest['seconds']:.1f} s)",
        "",
        "Funnel",
        table(
            ["stage", "in", "out", "dropped", "kept of input", "wall s", "cpu s"],
            [
                [s["name"], s["docs_in"], s["docs_out"], s["docs_in"] - s["docs_out"], _percent(s["docs_out"], first_in),
                 f"{s['wall_seconds']:.2f}", f"{s['cpu_seconds']:.2f}"]
                for s in stages
            ],
            align="lrrrrrr",
        ),
        "",
        "Drops by reason",
    ]
    drops = [
        [s["name"], reason, count, _percent(count, s["docs_in"]), _value_range(s.get("drop_values", {}).get(reason))]
        for s in stages
        for reason, count in s["drops"].items()
    ]
    parts.append(table(["stage", "reason", "docs", "of stage input", "measured values"], drops, align="llrrl") if drops else "(none)")

    inputs = manifest["inputs"]
    with_errors = [i for i in inputs if i["status"] != "ok"]
    parts += ["", f"Inputs: {len(inputs)} files, {sum(i['records'] for i in inputs)} records, {len(with_errors)} with errors"]
    if with_errors:
        rows = []
        for item in with_errors:
            error = item["errors"][0] if item["errors"] else None
            if item.get("error") or error is None:
                first = item.get("error", "")
            else:
                where = f"line {error['line']}" if "line" in error else f"byte {error['offset']}"
                first = f"{error['error']} ({where})"
            rows.append([item["path"], item["status"], item["error_count"] or 1, first])
        parts.append(table(["path", "status", "errors", "first error"], rows, align="llrl"))

    near = manifest.get("minhash_dedup")
    if near is not None:
        from stages.minhash import describe_bands

        components = near["components"]
        parts += [
            "",
            "Near-duplicates (MinHash)",
            describe_bands(near["parameters"]),
            table(
                ["candidate pairs", "verified pairs", "clusters", "documents removed", "components", "seconds"],
                [[near["candidate_pairs"], near["verified_pairs"] if near["verified_pairs"] is not None else "-", near["clusters"],
                  near["documents_removed"], f"{components['method']}, {components['iterations']} rounds", f"{near['seconds']:.2f}"]],
                align="rrrrlr",
            ),
            "cluster sizes: " + (", ".join(f"{size}: {count}" for size, count in near["cluster_sizes"].items()) or "none"),
        ]

    models = manifest.get("models")
    if models:
        parts += ["", "Models", table(["stage", "path", "bytes", "sha256"], [[m["stage"], m["path"], m["bytes"], m["sha256"][:16]] for m in models], align="llrl")]

    outputs = manifest["outputs"]
    parts += ["", f"Output shards: {len(outputs['shards'])} files, {outputs['rows']} rows, {outputs['bytes']} bytes"]
    if outputs["shards"]:
        parts.append(
            table(["path", "rows", "bytes", "sha256"], [[s["path"], s["rows"], s["bytes"], s["sha256"][:16]] for s in outputs["shards"]], align="lrrl")
        )
    return "\n".join(parts)


def profile_table(manifest: dict[str, Any]) -> str:
    """Where the time went: per stage, CPU and wall seconds, CPU ms per document the stage saw
    and per input document, and the share of all stages' CPU time."""
    stages = manifest["stages"]
    total_cpu = sum(s["cpu_seconds"] for s in stages) or 1.0
    first = stages[0]["docs_in"] if stages else 0
    rows = [
        [
            s["name"], s["docs_in"], f"{s['cpu_seconds']:.3f}", f"{s['wall_seconds']:.3f}",
            f"{1000 * s['cpu_seconds'] / s['docs_in']:.3f}" if s["docs_in"] else "-",
            f"{1000 * s['cpu_seconds'] / first:.3f}" if first else "-",
            f"{100 * s['cpu_seconds'] / total_cpu:.1f}%",
        ]
        for s in stages
    ]
    header = f"run {manifest['run_id']}  {manifest['seconds']:.1f} s wall  ({sum(s['cpu_seconds'] for s in stages):.1f} s CPU in stages)"
    return header + "\n" + table(["stage", "docs in", "cpu s", "wall s", "cpu ms/doc seen", "cpu ms/input doc", "share of cpu"], rows, align="lrrrrrr")
