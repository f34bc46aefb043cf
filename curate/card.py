"""``curate card``: ``OUT/README.md``, a Hugging Face dataset card built from ``OUT/manifest.json`` alone.

The YAML front matter is what the Hub reads (``configs`` with ``data_files`` pointing at the
shards, ``language``, ``size_categories``, ``task_categories``, ``pretty_name``); the body is what
a reader of the dataset needs: its sources with their checksums, the funnel, every stage's
parameters and where they come from, drops by reason, screens and quarantine, deduplication with
the MinHash S-curve, and how to reproduce it. No license is written: curate does not know one.

The card names the sha256 of the manifest it was built from on its stamp line (an HTML comment
right after the front matter, read by ``card_stamp``): ``curate verify`` reports a card whose
manifest has changed since, and a re-run deletes the card with the manifest it described.

The manifest is untrusted input (``curate.untrusted``): every string goes into the card through
``markdown_text`` (cut, one line, control and bidi characters as code points, Markdown and HTML
markup backslash-escaped, so a ``|`` cannot split a table cell and ``<script>`` is text), and the
front matter is written by ``yaml.safe_dump`` from one-line strings, so no value can end it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import re
import textwrap
from typing import Any

import yaml

from curate import storage
from curate.untrusted import inside, shown

CARD = "README.md"
DATA_FILES = "data/*.parquet"
"""Every shard curate writes lies directly in data/ (and ``curate verify`` reports any other file
there), so this glob is exactly the dataset."""
LINE_CHARS = 300
"""Any one value is cut here, as in the report: a crafted manifest string can be megabytes."""
NAME_CHARS = 100
LIST_SHOWN = 10
"""Boilerplate domains shown (line_dedup)."""
HEAD_BYTES = 16384
"""The stamp comes right after the front matter, which is small: reading this much finds it."""
STAMP = "<!-- curate card: manifest.json sha256 {sha256}; written by `curate card` from the manifest alone -->"
_STAMP = re.compile(r"^<!-- curate card: manifest\.json sha256 ([0-9a-f]{64});", re.MULTILINE)
CURVE_JACCARDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
"""Where the card prints the MinHash S-curve (the manifest records four points of it)."""
SIZE_CATEGORIES = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
)
"""The Hub's size buckets (huggingface_hub's DatasetCardData), by upper bound: a bucket holds
counts below its bound, so 1,000 rows are 1K<n<10K."""
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_MARKUP = re.compile(r"[\\`*_\[\]<>|~&$]")
"""Characters Markdown, GitHub's table and strikethrough extensions, HTML or the Hub's math read as
markup anywhere in a line; a backslash makes each one literal. Those that act only at the start of
a line (``-``, ``+``, ``#``, ``1.``, ``---``, ``=``) cannot: a value never starts one. ``(`` and
``!`` act only next to a ``[``, which is escaped."""


def markdown_text(value: object, limit: int = LINE_CHARS) -> str:
    """``value`` as literal inline Markdown, safe in a table cell: cut to ``limit``, control and bidi
    characters as code points (``shown``), newlines and tabs too (one line), markup escaped."""
    text = shown("" if value is None else str(value), limit)
    text = text.replace("\n", "\\u000a").replace("\t", "\\u0009")
    return _MARKUP.sub(r"\\\g<0>", text)


def _num(value: object, spec: str | None = None) -> str:
    """A number as text (``spec``, else thousands for integers and 4 digits for the rest); anything
    else shown as text, never formatted as a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return markdown_text(value, 40)
    return format(value, spec if spec is not None else ("," if isinstance(value, int) else ".4g"))


def _hex(value: object, length: int = 64) -> str:
    """A checksum (validated as hex by the schema) in a code span; anything else as text."""
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]+", value):
        return f"`{value[:length]}`"
    return markdown_text(value, 80)


def _json(value: object) -> str:
    return markdown_text(json.dumps(value, ensure_ascii=False))


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def table(header: list[str], rows: list[list[str]], numeric: str = "") -> str:
    """A GitHub-flavoured Markdown table of cells already escaped; ``numeric`` marks right-aligned
    columns with 'r'."""
    if not rows:
        return "(none)"
    align = ["---:" if numeric[i : i + 1] == "r" else "---" for i in range(len(header))]
    lines = [header, align] + rows
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def size_category(rows: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "n>1T"


def card_stamp(text: str) -> str | None:
    """The manifest sha256 a card written by ``curate card`` names (None: no such card)."""
    match = _STAMP.search(text)
    return match.group(1) if match else None


def card_head(path: str) -> str | None:
    """The beginning of the card at ``path`` (enough to hold its stamp); None when there is none,
    OSError when it cannot be read."""
    if storage.file_size(path) is None:
        return None
    with storage.open_input(path) as handle:
        return handle.read(HEAD_BYTES).decode("utf-8", errors="replace")


# -- the front matter ------------------------------------------------------------------------------


def _stage_configs(manifest: dict[str, Any]) -> list[tuple[str, Any]]:
    """(config key, its settings) of every stage of the recorded config, in order."""
    return [next(iter(entry.items())) for entry in manifest["config"]["stages"]]


def languages(manifest: dict[str, Any]) -> list[str]:
    """The target languages the config's language ID kept (langid, else langid_prefilter)."""
    settings = dict(_stage_configs(manifest))
    for key in ("langid", "langid_prefilter"):
        found = settings[key].get("languages") if isinstance(settings.get(key), dict) else None
        if isinstance(found, list):
            codes = [c for c in found if isinstance(c, str) and _LANGUAGE.fullmatch(c)]
            return list(dict.fromkeys(codes))[:20]
    return []


_NOT_IN_METADATA = str.maketrans({"\n": " ", "\t": " ", "<": " ", ">": " ", "&": " "})
"""Front matter values are shown by more than the Hub's page (GitHub renders them as a table, tools
as they like), not all of which escape HTML: a dataset's name does not need these characters."""


def _one_line(value: object, limit: int) -> str:
    """A string for the front matter: one line, without HTML (``safe_dump`` then quotes whatever
    YAML needs quoted)."""
    return shown(str(value), limit).translate(_NOT_IN_METADATA)


def front_matter(manifest: dict[str, Any]) -> str:
    """The card's YAML metadata, between its ``---`` lines."""
    metadata: dict[str, Any] = {}
    found = languages(manifest)
    if found:
        metadata["language"] = found
    metadata["pretty_name"] = _one_line(manifest["name"], NAME_CHARS)
    metadata["size_categories"] = [size_category(manifest["outputs"]["rows"])]
    metadata["task_categories"] = ["text-generation"]
    metadata["configs"] = [{"config_name": "default", "data_files": [{"split": "train", "path": DATA_FILES}]}]
    dumped = yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False, width=1 << 30)
    return f"---\n{dumped}---\n"


# -- the body --------------------------------------------------------------------------------------


def _tokens(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest's ``tokens`` section (token counts per tokenizer), when the run counted them."""
    tokens = manifest.get("tokens")
    return tokens if isinstance(tokens, dict) and tokens.get("tokenizers") else None


def _tokenizer_names(tokens: dict[str, Any] | None) -> list[str]:
    return [t["name"] for t in tokens["tokenizers"]] if tokens else []


def _token_stages(tokens: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in tokens.get("stages", [])} if tokens else {}


def summary_section(manifest: dict[str, Any]) -> str:
    outputs, inputs = manifest["outputs"], manifest["inputs"]
    first = manifest["stages"][0]["docs_in"]
    lines = [
        f"# {markdown_text(manifest['name'], NAME_CHARS)}",
        "",
        f"{_num(outputs['rows'])} documents ({_num(outputs['bytes'])} bytes of Parquet in"
        f" {_plural(len(outputs['shards']), 'shard')} under `data/`), curated by curate"
        f" {markdown_text(manifest['curate_version'])} from {_num(first)} records in"
        f" {_plural(len({str(i['path']) for i in inputs}), 'input file')}. Everything below comes from the run's"
        f" `manifest.json` (run {markdown_text(manifest['run_id'])}, {markdown_text(manifest['started_at'])} to"
        f" {markdown_text(manifest['finished_at'])}).",
    ]
    tokens = _tokens(manifest)
    if tokens:
        counts = ", ".join(
            f"{markdown_text(name)} {_num(tokens.get('output', {}).get(name))}" for name in _tokenizer_names(tokens)
        )
        lines += ["", f"Tokens in the output: {counts}."]
    outside = [s["path"] for s in outputs["shards"] if not re.fullmatch(r"data/[^/]+\.parquet", s["path"])]
    if outside:
        lines += [
            "",
            f"**Warning:** {len(outside)} shards the manifest lists lie outside `{DATA_FILES}` "
            f"(first: {markdown_text(outside[0])}); the `data_files` above do not load them.",
        ]
    return "\n".join(lines)


def loading_section(manifest: dict[str, Any]) -> str:
    columns = ", ".join(markdown_text(c["name"], 60) for c in manifest["outputs"]["schema"])
    return "\n".join(
        [
            "## Loading",
            "",
            "```python",
            "from datasets import load_dataset",
            "",
            'dataset = load_dataset("path/to/this/folder", split="train")  # or the Hub repository id',
            "```",
            "",
            "`load_dataset` reads the `configs` above: the shards in `data/`, not the quarantined or sampled"
            f" documents beside them. Columns: {columns}.",
            "",
            "## License",
            "",
            "Not recorded: curate does not know the terms of its inputs. The documents are web pages or"
            " texts whose rights stay with their authors; add a `license:` to the metadata above (for"
            " example `other`, with `license_name` and `license_link`) before publishing.",
        ]
    )


def sources_section(manifest: dict[str, Any]) -> str:
    rows = []
    for item in manifest["inputs"]:
        notes = []
        if "error" in item:
            notes.append(f"failed ({markdown_text(item.get('failure', ''))}): {markdown_text(item['error'])}")
        if item["errors"]:
            notes.append(f"first error: {markdown_text(item['errors'][0]['error'])}")
        if item.get("skipped_bytes"):
            notes.append(f"{_num(item['skipped_bytes'])} damaged bytes passed over")
        if item.get("note"):
            notes.append(markdown_text(item["note"]))
        rows.append(
            [
                markdown_text(item["path"]),
                _num(item["size"]) if item["size"] is not None else "-",
                _hex(item["sha256"]) if item["sha256"] is not None else "-",
                markdown_text(item["status"]),
                _num(item["records"]),
                _num(item["documents_out"]),
                _num(item["error_count"]),
                "; ".join(notes),
            ]
        )
    header = ["input", "bytes", "sha256", "status", "records", "documents out", "errors", "notes"]
    return "\n".join(["## Sources", "", table(header, rows, "lrllrrrl"), _decision_files(manifest)])


def _decision_files(manifest: dict[str, Any]) -> str:
    """The models, block lists and tokenizers the run's decisions came from, each with its sha256."""
    parts: list[str] = []
    models = [
        [markdown_text(m["stage"]), markdown_text(m["path"]), _num(m["bytes"]), _hex(m["sha256"])]
        for m in manifest.get("models", [])
    ]
    if models:
        parts += ["", "Models the stages loaded:", "", table(["stage", "file", "bytes", "sha256"], models, "llrl")]
    lists = [
        [
            markdown_text(b["stage"]),
            markdown_text(b["name"]),
            markdown_text(b["format"]),
            _num(b["entries"]),
            _hex(b["sha256"]),
        ]
        for b in manifest.get("blocklists", [])
    ]
    if lists:
        parts += [
            "",
            "Block lists applied:",
            "",
            table(["stage", "list", "format", "entries", "sha256"], lists, "lllrl"),
        ]
    tokens = _tokens(manifest)
    if tokens:
        rows = [
            [
                markdown_text(t.get("name")),
                markdown_text(t.get("source")),
                _hex(t.get("sha256")),
                _num(t.get("vocab_size")),
            ]
            for t in tokens["tokenizers"]
        ]
        parts += ["", "Tokenizers counted:", "", table(["tokenizer", "source", "sha256", "vocabulary"], rows, "lllr")]
    return "\n".join(parts)


def funnel_section(manifest: dict[str, Any]) -> str:
    stages = manifest["stages"]
    tokens = _tokens(manifest)
    names, counted = _tokenizer_names(tokens), _token_stages(tokens)
    header = ["stage", "documents in", "documents out", "dropped", "kept of all records"]
    for name in names:
        header += [f"tokens in ({markdown_text(name, 60)})", f"tokens out ({markdown_text(name, 60)})"]
    first = stages[0]["docs_in"]
    rows = []
    for stage in stages:
        row = [
            markdown_text(stage["name"]),
            _num(stage["docs_in"]),
            _num(stage["docs_out"]),
            _num(stage["docs_in"] - stage["docs_out"]),
            _percent(stage["docs_out"], first),
        ]
        for name in names:
            found = counted.get(stage["name"], {})
            row += [_count(found.get("in"), name), _count(found.get("out"), name)]
        rows.append(row)
    parts = ["## Funnel", "", table(header, rows, "lrrrr" + "rr" * len(names))]
    if tokens and tokens.get("per_han_char"):
        ratios = ", ".join(f"{markdown_text(name)} {_num(tokens['per_han_char'].get(name), '.3f')}" for name in names)
        parts += [
            "",
            f"Tokens per Han character of the output: {ratios} (over {_num(tokens.get('han_chars'))} Han characters).",
        ]
    return "\n".join(parts)


def _count(counts: object, name: str) -> str:
    """One tokenizer's count from a {tokenizer: count} mapping; blank when not counted there."""
    return _num(counts[name]) if isinstance(counts, dict) and name in counts else ""


def _span(span: list[float] | None) -> str:
    if not span:
        return ""
    low, high = span
    return _num(low, ".4g") if low == high else f"{_num(low, '.4g')} .. {_num(high, '.4g')}"


def drops_section(manifest: dict[str, Any]) -> str:
    tokens = _tokens(manifest)
    names, counted = _tokenizer_names(tokens), _token_stages(tokens)
    header = ["stage", "reason", "documents", "of stage input", "values of the dropped"]
    header += [f"tokens ({markdown_text(name, 60)})" for name in names]
    rows = []
    for stage in manifest["stages"]:
        dropped = counted.get(stage["name"], {}).get("dropped", {})
        for reason, count in stage["drops"].items():
            row = [
                markdown_text(stage["name"]),
                markdown_text(reason),
                _num(count),
                _percent(count, stage["docs_in"]),
                _span(stage["drop_values"].get(reason)),
            ]
            rows.append(row + [_count(dropped.get(name), reason) for name in names])
        for rule, count in stage.get("flags", {}).items():
            rows.append(
                [markdown_text(stage["name"]), f"{markdown_text(rule)} (flagged, kept)", _num(count), "", ""]
                + [""] * len(names)
            )
    return "\n".join(["## Drops by reason", "", table(header, rows, "llrrl" + "r" * len(names))])


def _stage_class(key: str) -> type | None:
    """The built-in stage a config key names; None for a stage class given by import path (never
    imported here: the manifest is untrusted, and importing a module it names runs code)."""
    from stages import STAGES

    return STAGES.get(key)


def _defaults(config_class: type) -> dict[str, Any]:
    """The config class's default values as the manifest records values (plain data)."""
    from curate.config_schema import to_plain

    defaults = {}
    for option in dataclasses.fields(config_class):
        if option.default is not dataclasses.MISSING:
            defaults[option.name] = to_plain(option.default)
        elif option.default_factory is not dataclasses.MISSING:
            defaults[option.name] = to_plain(option.default_factory())
    return defaults


@functools.lru_cache(maxsize=64)
def _field_notes(config_class: type) -> dict[str, str]:
    """The docstrings under the config class's fields (what each default is based on: the
    calibration, the publication, or our choice), read from its source; empty without one."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(config_class)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    notes = {}
    for option, after in zip(body, body[1:]):
        if (
            isinstance(option, ast.AnnAssign)
            and isinstance(option.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            notes[option.target.id] = " ".join(after.value.value.replace("``", "").split())
    return notes


def _published(stage_class: type | None) -> dict[str, list[tuple[str, Any]]]:
    """Per config key, the (drop reason, published value) of the threshold rules it sets."""
    rules: dict[str, list[tuple[str, Any]]] = {}
    for rule in getattr(stage_class, "thresholds", ()):
        option = rule.limit if isinstance(rule.limit, str) else rule.limit[0]
        published = rule.published if isinstance(rule.limit, str) else f"[{rule.limit[1]}] {rule.published}"
        rules.setdefault(option, []).append((rule.reason, None if rule.published is None else published))
    return rules


def _same(value: object, default: object) -> bool:
    """Equal as the manifest records them (JSON: tuples are lists)."""
    return json.dumps(value, sort_keys=True, default=str) == json.dumps(default, sort_keys=True, default=str)


def _stage_parameters(key: str, settings: Any, counts: dict[str, Any] | None) -> str:
    stage_class = _stage_class(key)
    title = f"### {markdown_text(key)}"
    if counts is not None:
        title += f" ({_num(counts['docs_in'])} in, {_num(counts['docs_out'])} out)"
    if not isinstance(settings, dict):
        return f"{title}\n\nSettings: {_json(settings)}"
    if stage_class is None:
        source = "Not a built-in stage: the class the key names documents its defaults."
        defaults, rules, notes = {}, {}, {}
    else:
        module = stage_class.__module__.replace(".", "/") + ".py"
        config_class = stage_class.config_class
        source = f"Defaults: `{config_class.__name__}` in `{module}`."
        defaults, rules, notes = _defaults(config_class), _published(stage_class), _field_notes(config_class)
    rows = []
    for option, value in settings.items():
        if option in defaults:
            origin = "default" if _same(value, defaults[option]) else f"config (default {_json(defaults[option])})"
        else:
            origin = "config"
        found = rules.get(option, [])
        published = "; ".join(markdown_text(p) for _, p in found if p is not None)
        reasons = ", ".join(dict.fromkeys(markdown_text(r) for r, _ in found))
        rows.append(
            [markdown_text(option), _json(value), origin, published, reasons, markdown_text(notes.get(option))]
        )
    header = ["parameter", "value", "from", "published value", "drops as", "curate's note on the default"]
    return f"{title}\n\n{source}\n\n{table(header, rows)}"


def stages_section(manifest: dict[str, Any]) -> str:
    counts = {stage["name"]: stage for stage in manifest["stages"]}
    parts = [
        "## Stages and their thresholds",
        "",
        "Every stage in the order it ran, with the resolved settings the manifest records. *from*: "
        "`default` is curate's own value, and the last column is what curate's source says it is based on"
        " (a calibration, a publication, or our choice); `config` was set in the run's config file, whose"
        f" comments say why: {markdown_text(manifest['config_path'])}. *published value*: what the rule's"
        " source (Gopher, C4, FineWeb, FineWeb-2) uses, where curate measures the signal the same way;"
        " *drops as*: the drop reason of the rule the value sets.",
    ]
    for key, settings in _stage_configs(manifest):
        parts += ["", _stage_parameters(key, settings, counts.get(key))]
    skipped = [[markdown_text(s["stage"]), markdown_text(s["reason"])] for s in manifest.get("skipped_stages", [])]
    if skipped:
        parts += ["", "Stages of the config left out of the run:", "", table(["stage", "why"], skipped)]
    return "\n".join(parts)


def screens_section(manifest: dict[str, Any]) -> str:
    counts = {stage["name"]: stage for stage in manifest["stages"]}
    rows = []
    quarantined: list[tuple[str, str, int]] = []
    for key, settings in _stage_configs(manifest):
        if not isinstance(settings, dict) or "action" not in settings:
            continue
        stage = counts.get(key, {})
        hits = ", ".join(f"{markdown_text(c)} {_num(n)}" for c, n in stage.get("hits", {}).items())
        flags = ", ".join(f"{markdown_text(r)} {_num(n)}" for r, n in stage.get("flags", {}).items())
        drops = ", ".join(f"{markdown_text(r)} {_num(n)}" for r, n in stage.get("drops", {}).items())
        observed = _num(stage["observed"]) if "observed" in stage else ""
        rows.append([markdown_text(key), markdown_text(settings["action"]), drops, flags, hits, observed])
        stage_class = _stage_class(key)
        if stage_class is not None and stage_class.quarantines:
            quarantined += [(key, reason, count) for reason, count in stage.get("drops", {}).items()]
    header = ["screen", "action", "dropped (quarantined)", "flagged (kept)", "matches", "documents observed"]
    parts = [
        "## Screens and quarantine",
        "",
        "Screens drop a document (kept aside in `quarantine/` with its evidence), flag it (kept, listed in"
        " `screen_flags`), or strip what they found. Global screens count every document that reached them"
        " (*documents observed*), including those later stages dropped.",
        "",
        table(header, rows),
    ]
    quarantine = manifest.get("quarantine")
    total = quarantine["rows"] if quarantine else 0
    parts += ["", f"Quarantined documents: {_num(total)}."]
    if quarantined:
        token_counts = (_tokens(manifest) or {}).get("quarantine", {})
        names = _tokenizer_names(_tokens(manifest))
        rows = [
            [markdown_text(key), markdown_text(reason), _num(count)]
            + [_count(token_counts.get(n), reason) for n in names]
            for key, reason, count in quarantined
        ]
        header = ["screen", "reason", "documents"] + [f"tokens ({markdown_text(n, 60)})" for n in names]
        parts += ["", table(header, rows, "llr" + "r" * len(names))]
    if quarantine:
        files = [
            [markdown_text(f["path"]), _num(f["rows"]), _num(f["bytes"]), _hex(f["sha256"])]
            for f in quarantine["files"]
        ]
        parts += ["", table(["quarantine file", "rows", "bytes", "sha256"], files, "lrrl")]
    return "\n".join(parts)


def _collision(jaccard: float, bands: int, rows: int) -> str:
    """P(candidate) at ``jaccard``; the schema bounds bands and rows only below, and a number too
    large for a float (a tampered manifest's) has no curve to show."""
    from stages.minhash.signatures import collision_probability

    try:
        return f"{collision_probability(jaccard, bands, rows):.4f}"
    except OverflowError:
        return "-"


def dedup_section(manifest: dict[str, Any]) -> str:
    parts = ["## Deduplication"]
    exact = next((s for s in manifest["stages"] if s["name"] == "exact_dedup"), None)
    if exact is not None:
        removed = sum(exact["drops"].values())
        parts += ["", f"Exact duplicates (`exact_dedup`, hash of the normalised text): {_num(removed)} removed."]
    near = manifest.get("minhash_dedup")
    if near is not None:
        parameters = near["parameters"]
        recorded = [[markdown_text(j), _num(p, ".4f")] for j, p in parameters["candidate_probability"].items()]
        bands, rows = parameters["bands"], parameters["rows"]
        curve = [[f"{j:g}", _collision(j, bands, rows)] for j in CURVE_JACCARDS]
        settings = ", ".join(
            f"{markdown_text(k)} {_json(v)}" for k, v in parameters.items() if k != "candidate_probability"
        )
        verified = "-" if near["verified_pairs"] is None else _num(near["verified_pairs"])
        sizes = ", ".join(f"{markdown_text(s)}: {_num(n)}" for s, n in near["cluster_sizes"].items()) or "none"
        parts += [
            "",
            f"Near duplicates (`minhash_dedup`, MinHash LSH): {settings}.",
            "",
            f"A pair of documents whose shingle sets have Jaccard similarity J becomes a candidate with"
            f" probability 1 - (1 - J^{_num(rows)})^{_num(bands)} ({_num(bands)} bands of {_num(rows)} rows):",
            "",
            table(["J", "P(candidate), recorded"], recorded, "rr"),
            "",
            table(["J", "P(candidate), computed"], curve, "rr"),
            "",
            f"Candidate pairs {_num(near['candidate_pairs'])}, verified pairs {verified}, clusters"
            f" {_num(near['clusters'])} (sizes {sizes}), documents removed {_num(near['documents_removed'])}.",
        ]
    found = manifest.get("global_stages", {}).get("line_dedup")
    if found:
        settings = ", ".join(f"{markdown_text(k)} {_json(v)}" for k, v in found["parameters"].items())
        parts += [
            "",
            f"Boilerplate lines across documents (`line_dedup`): {settings}. {_num(found['boilerplate_units'])}"
            f" boilerplate lines found; {_num(found['units_removed'])} lines ({_num(found['chars_removed'])}"
            f" characters) removed from {_num(found['documents_changed'])} documents,"
            f" {_num(found['documents_emptied'])} left too short and dropped.",
        ]
        rows = [
            [
                markdown_text(entry["domain"]),
                markdown_text(entry["lines"][0]["text"]),
                _num(entry["lines"][0]["pages"]),
            ]
            for entry in found["top_removed"][:LIST_SHOWN]
            if entry["lines"]
        ]
        if rows:
            parts += ["", table(["domain", "most removed line", "pages"], rows, "llr")]
    return "\n".join(parts) if len(parts) > 1 else ""


def reproduce_section(manifest: dict[str, Any], manifest_sha256: str) -> str:
    commit = manifest["git_commit"]
    return "\n".join(
        [
            "## Reproducing it",
            "",
            f"- curate {markdown_text(manifest['curate_version'])}, source commit "
            f"{markdown_text(commit) if commit is not None else '(not recorded: not run from a git checkout)'}",
            f"- config: {markdown_text(manifest['config_path'])}",
            f"- config hash: {_hex(manifest['config_hash'])} (sha256 of the resolved config and the input files"
            " read, without where the output went and how the run was spread)",
            f"- input format: {markdown_text(manifest['config']['input']['format'])}",
            f"- manifest.json sha256: {_hex(manifest_sha256)}",
            "",
            "In a checkout of the curate source at that commit, with CONFIG the config above:",
            "",
            "```bash",
            "pip install -e .",
            "curate run CONFIG --output reproduced",
            "curate verify reproduced",
            "```",
            "",
            "The same config on the same inputs (the files under Sources, with their sha256) gives the same"
            " shards with the same sha256, however many workers run it; the reproduced manifest then has the"
            " same config hash. A run whose inputs came from `--input` or `--inputs-from` needs the same"
            " files again (`--inputs-from FILE`, one path per line).",
        ]
    )


def build_card(manifest: dict[str, Any], manifest_sha256: str) -> str:
    """The card of ``manifest`` (checked against the schema, as ``load_manifest`` does), whose file
    hashes to ``manifest_sha256``."""
    sections = [
        summary_section(manifest),
        loading_section(manifest),
        sources_section(manifest),
        funnel_section(manifest),
        drops_section(manifest),
        stages_section(manifest),
        screens_section(manifest),
        dedup_section(manifest),
        reproduce_section(manifest, manifest_sha256),
    ]
    stamp = STAMP.format(sha256=manifest_sha256)
    return front_matter(manifest) + stamp + "\n\n" + "\n\n".join(s for s in sections if s) + "\n"


class CardRefused(ValueError):
    """OUT/README.md is not curate's to overwrite."""


def write_card(out: str, manifest: dict[str, Any], manifest_sha256: str) -> str:
    """Write ``out/README.md`` (a local folder or a URI) and return its path. CardRefused when a
    README.md that ``curate card`` did not write is there: it is someone's own; UnsafeOutput when
    it is a symlink out of the folder."""
    path = inside(out, CARD)
    head = card_head(path)
    if head is not None and card_stamp(head) is None:
        raise CardRefused(f"{path} exists and was not written by `curate card`; move it away to write the card")
    storage.write_text(path, build_card(manifest, manifest_sha256))
    return path
