"""Hostile and broken configs fail fast, with exit 2, a short error naming the key, and little memory."""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from curate.cli import cli
from curate.config import MAX_CONFIG_BYTES, load_config
from curate.config_schema import ConfigError, describe

# Runs `curate validate` as a child and reports the child's peak RSS: measured in a fresh
# process, as RUSAGE_CHILDREN of pytest would include every earlier test's children.
MEASURE = """
import json, resource, subprocess, sys
child = subprocess.run([sys.executable, "-m", "curate.cli", "validate", sys.argv[1]], capture_output=True, timeout=60)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
stderr = child.stderr.decode(errors="replace")
report = {"code": child.returncode, "stdout": len(child.stdout), "stderr": stderr, "stderr_bytes": len(child.stderr)}
print(json.dumps({**report, "peak": peak}))
"""


def validate_in_subprocess(config: Path) -> dict:
    # This checkout first on the path: the installed package may be another one's.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-c", MEASURE, str(config)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def minimal_config(tmp_path: Path, stages: str = "[extract]", name: str = "t", paths: str | None = None) -> str:
    warc = tmp_path / "in" / "a.warc.gz"
    if not warc.exists():
        warc.parent.mkdir(exist_ok=True)
        warc.write_bytes(b"")  # validate checks that inputs exist, not what they hold
    paths = paths or json.dumps([str(warc)])
    return f"name: {name}\ninput: {{paths: {paths}}}\noutput: {{path: {tmp_path / 'out'}}}\nstages: {stages}\n"


def alias_bomb(levels: int) -> str:
    """Each level is a list of nine aliases of the level before: 9**levels strings from ~50 bytes
    a level. The value sits where an error quotes it (name must be a string)."""
    parts = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    parts += [f"&a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "name: [" + ", ".join(parts) + "]\n"


# --- YAML: aliases, size, nesting --------------------------------------------------------------


@pytest.mark.parametrize("levels", [8, 9])
def test_alias_bomb_fails_fast_in_little_memory(tmp_path: Path, levels: int) -> None:
    """Before: 8 levels (424 bytes here) peaked at 1.76 GB and printed a 351 MB error; the
    tester's 489-byte config passed 6 GB. Now: refused at the first anchor, ~90 MB (the interpreter)."""
    text = minimal_config(tmp_path).replace("name: t\n", "") + alias_bomb(levels)
    config = tmp_path / "bomb.yaml"
    config.write_text(text)
    assert len(text) < 600
    result = validate_in_subprocess(config)
    assert result["code"] == 2
    assert result["stderr_bytes"] < 2048 and result["stdout"] == 0
    assert result["peak"] < 300 * 1024 * 1024
    assert f"{config}, line 4: YAML anchors and aliases" in result["stderr"]


def test_any_anchor_or_alias_is_refused_naming_the_line(tmp_path: Path) -> None:
    text = minimal_config(tmp_path, stages="\n  - extract: &same {}\n  - langid: *same")
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=r"c\.yaml, line 5: YAML anchors and aliases"):
        load_config(str(config))


def test_config_files_in_the_repository_use_no_anchors() -> None:
    for config in sorted((REPO / "configs").glob("*.yaml")):
        load_config(str(config))  # raises on an anchor, like any user config


def test_config_file_size_is_capped_before_parsing(tmp_path: Path) -> None:
    config = tmp_path / "huge.yaml"
    config.write_text(minimal_config(tmp_path) + "# " + "x" * MAX_CONFIG_BYTES + "\n")
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert "is larger than 1024 KiB" in result.output
    assert len(result.output) < 1024


def test_deep_nesting_is_refused_before_the_parser_recurses(tmp_path: Path) -> None:
    """Before: a RecursionError traceback (PyYAML) or a segfault (libyaml, 200,000 levels)."""
    config = tmp_path / "deep.yaml"
    config.write_text(minimal_config(tmp_path) + "run: " + "[" * 200_000 + "]" * 200_000 + "\n")
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert "line 5: lists and mappings nested more than 32 levels deep" in result.output


@pytest.mark.parametrize(
    "value,message",
    [("2024-13-01", "a value cannot be read: month must be in 1..12"), ("9" * 6000, "a value cannot be read")],
)
def test_scalars_python_cannot_hold_are_config_errors(tmp_path: Path, value: str, message: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(minimal_config(tmp_path, name=value))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output) < 1024


# --- bounded quotes of values --------------------------------------------------------------------


def test_a_megabyte_string_value_gives_a_short_error(tmp_path: Path) -> None:
    """Before: the 1 MB value was quoted whole (a 1,000,071-byte error)."""
    config = tmp_path / "c.yaml"
    huge = "A" * 1_000_000
    config.write_text(minimal_config(tmp_path, stages=f'[extract, {{langid: {{min_score: "{huge}"}}}}]'))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert len(result.output.encode()) < 1024
    assert "stages[1].langid.min_score: expected a number in [0, 1], got 'AAAA" in result.output
    assert "… (1,000,000 characters)" in result.output


def test_a_huge_list_value_and_a_huge_key_give_short_errors(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(minimal_config(tmp_path, name="[" + ", ".join(["x"] * 100_000) + "]"))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert "name: expected a non-empty string, got ['x', 'x'" in result.output
    assert "(list of 100,000 items)" in result.output and len(result.output) < 1024
    config.write_text(minimal_config(tmp_path, stages="[{extract: {" + "k" * 1000 + ": 1}}]"))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert "stages[0].extract.kkkk" in result.output and "… (1,000 characters): unknown key" in result.output
    assert len(result.output) < 1024


def test_describe_escapes_and_bounds() -> None:
    assert describe("a\x00b\n") == "'a\\x00b\\n'"
    assert describe(1.5) == "1.5 (float)"
    cut = describe("é" * 1000)
    assert cut.startswith("'éé") and cut.endswith("… (1,000 characters)") and len(cut) < 250
    nested = [[["x"] * 1000] * 1000] * 1000  # a billion leaves; describing it must not walk them
    assert len(describe(nested)) < 300


def test_every_config_error_is_bounded() -> None:
    """The last guard, for stage checks that quote a value themselves."""
    error = ConfigError("k" * 10_000, "v" * 1_000_000)
    assert len(str(error)) < 3000
    assert "(1,000,000 characters)" in error.message


# --- input paths: folders, broken links ------------------------------------------------------------


@pytest.fixture()
def crawl(tmp_path: Path) -> Path:
    folder = tmp_path / "crawl"
    (folder / "more").mkdir(parents=True)
    for name in ("a.warc.gz", "more/b.warc.gz"):
        (folder / name).write_bytes(b"")
    return folder


def input_error(tmp_path: Path, paths: list[str]) -> str:
    config = tmp_path / "c.yaml"
    config.write_text(minimal_config(tmp_path, paths=json.dumps(paths)))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2, result.output
    return result.output


def test_a_broken_symlink_named_or_matched_is_an_error_naming_it(tmp_path: Path, crawl: Path) -> None:
    """Before: matched by a glob it was skipped silently; named, 'no input file matches' it."""
    (crawl / "c.warc.gz").symlink_to(tmp_path / "gone.warc.gz")
    for paths in (["crawl/*.warc.gz"], [str(crawl / "a.warc.gz"), "crawl/c.warc.gz"], ["crawl/**"]):
        output = input_error(tmp_path, paths)
        where = f"input.paths[{len(paths) - 1}]"
        assert f"{where}: {crawl / 'c.warc.gz'} is a broken symbolic link (to '{tmp_path / 'gone.warc.gz'}')" in output


def test_a_fifo_matched_by_a_glob_is_an_error(tmp_path: Path, crawl: Path) -> None:
    os.mkfifo(crawl / "pipe.warc.gz")
    assert "input.paths[0]: " + f"{crawl / 'pipe.warc.gz'} is not a regular file" in input_error(tmp_path, ["crawl/*"])


def test_a_folder_named_as_input_is_an_error(tmp_path: Path, crawl: Path) -> None:
    output = input_error(tmp_path, [str(crawl / "a.warc.gz"), "crawl"])
    assert f"input.paths[1]: {crawl} is a folder; give a glob of the files in it, such as {crawl}/*" in output


def test_a_folder_a_glob_matches_is_left_out_with_a_warning(tmp_path: Path, crawl: Path, caplog) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(minimal_config(tmp_path, paths='["crawl/*"]'))
    with caplog.at_level(logging.WARNING, logger="curate"):
        loaded = load_config(str(config))
    assert loaded.inputs == [str(crawl / "a.warc.gz")]
    assert f"input.paths[0]: 1 folder(s) matched by crawl/* left out: {crawl / 'more'}" in caplog.text
    caplog.clear()
    config.write_text(minimal_config(tmp_path, paths='["crawl/**"]'))
    with caplog.at_level(logging.WARNING, logger="curate"):
        loaded = load_config(str(config))
    assert loaded.inputs == [str(crawl / "a.warc.gz"), str(crawl / "more" / "b.warc.gz")]
    assert not caplog.text  # ** matches every folder on the way to the files: nothing to warn of


def test_a_glob_of_only_folders_or_nothing_is_an_error(tmp_path: Path, crawl: Path) -> None:
    output = input_error(tmp_path, ["crawl/m*"])
    assert (
        f"input.paths[0]: no input file matches 'crawl/m*' (looked for {crawl}/m*); it matches only folders" in output
    )
    assert "input.paths[0]: no input file matches 'crawl/z*'" in input_error(tmp_path, ["crawl/z*"])


# --- block lists ---------------------------------------------------------------------------------

SECRET = "ghp_" + "Zk3q9XwYt7Lm2Pn8Rv4Bc6Dh1Jf5Gs0Ta9Ue"  # the shape of a GitHub token, made up


@pytest.mark.parametrize(
    "content,message",
    [
        (
            f"{SECRET}\n".encode(),
            "secret.txt:1: expected 'domain: ...', 'url: ...' or 'token: ...', got 'ghp_Zk3q9XwYt7Lm'… (40",
        ),
        (b"# mine\ndomain: ok.example\n\x89PNG\r\n\x1a\n\x00\x00", "secret.txt:3: binary data, not UTF-8 text"),
        (b"domain: ok.example\nELF\x00\x01\n", "secret.txt:2: binary data"),
        (b"x" * 100_000, "secret.txt:1: a line longer than 8,192 bytes"),
        (
            "domain: ok.example\n\x1b[2J\u202eevil\n".encode(),
            "secret.txt:2: expected 'domain: ...', 'url: ...' or 'token: ...', got '\\x1b[2J\\u202eevil'",
        ),
    ],
)
def test_a_wrong_block_list_file_is_named_with_its_line_and_no_more_than_a_short_excerpt(
    tmp_path: Path, content: bytes, message: str, monkeypatch
) -> None:
    """Before: the first line was quoted whole (a secret file's secret), and a binary file gave
    only 'utf-8 codec can't decode byte 0x89', naming neither file nor line. A relative list
    path was read from the working directory, not the config's folder (a traceback elsewhere)."""
    (tmp_path / "secret.txt").write_bytes(content)
    config = tmp_path / "c.yaml"
    config.write_text(minimal_config(tmp_path, stages="[extract, {screen_blocklist: {lists: [secret.txt]}}]"))
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2, result.output
    assert f"stages[1].screen_blocklist.lists[0]: {tmp_path}/{message}" in result.output
    assert SECRET[16:] not in result.output
    assert len(result.output) < 512


# --- fastText model paths ------------------------------------------------------------------------


def fasttext_header(version: int = 12, model: int = 3) -> bytes:
    """A fastText header: magic, version, then dim ... model ... t (see stages.langid._HEADER)."""
    return struct.pack("<2i12id", 793712314, version, 16, 5, 5, 1, 5, 2, 3, model, 50_000, 0, 0, 100, 1e-4)


@pytest.mark.parametrize("stage", ["langid_prefilter", "langid", "spam_model", "quality_model"])
@pytest.mark.parametrize(
    "content,message",
    [
        (
            b"__label__hq a good page\n" * 10,
            "not a fastText model: {path} does not begin with fastText's magic number",
        ),
        (b"hello\n", "not a fastText model: {path} is 6 bytes, shorter than a fastText header"),
        (fasttext_header(model=1), "not a fastText classifier: {path} is a word-vector model"),
        (fasttext_header(version=13), "not a fastText model this fastText reads: {path} has format version 13"),
    ],
    ids=["text", "short", "word-vectors", "newer-format"],
)
def test_a_file_that_is_no_fasttext_classifier_fails_validate_naming_the_key(
    tmp_path: Path, stage: str, content: bytes, message: str
) -> None:
    """Before: a text file as langid.model_path or quality_model.model_path passed validate (and
    failed in every worker); spam_model loaded it, so only it failed."""
    model = tmp_path / "model.bin"
    model.write_bytes(content)
    config = tmp_path / "c.yaml"
    stages = ["extract", "spam_lexicon", f"{{{stage}: {{model_path: model.bin}}}}"]
    if stage == "langid_prefilter":  # it reads the HTML, so it comes before extract
        stages.insert(0, stages.pop())
    config.write_text(minimal_config(tmp_path, stages=f"[{', '.join(stages)}]"))
    expected = f"stages[{stages.index(f'{{{stage}: {{model_path: model.bin}}}}')}].{stage}.model_path: "
    expected += message.format(path=model)
    for command in ("validate", "run"):
        result = CliRunner().invoke(cli, [command, str(config)])
        assert result.exit_code == 2, result.output
        assert expected in result.output
    assert not (tmp_path / "out").exists()


def test_real_fasttext_classifiers_pass_the_header_check(tmp_path: Path) -> None:
    from stages.langid import bundled_model_path
    from stages.spam_model import SHIPPED_MODEL

    lid, spam = bundled_model_path(), SHIPPED_MODEL  # quality_model checks no labels: spam's model will do
    stages = f"[extract, {{langid: {{model_path: {lid}}}}}, {{quality_model: {{model_path: {spam}}}}}]"
    config = tmp_path / "c.yaml"
    config.write_text(minimal_config(tmp_path, stages=stages))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 0, result.output
