"""Config errors: exit 2, the key path in the message, nothing written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from curate.cli import cli
from curate.config import load_config
from curate.config_schema import ConfigError

GOOD = """
name: t
input:
  paths: [{warc}]
stages:
  - extract: {{}}
  - langid: {{languages: [zh], min_score: 0.5}}
  - policy: {{min_chars: 10}}
  - exact_dedup: {{}}
output:
  path: {out}
"""


def write_config(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture()
def warc(tmp_path: Path) -> Path:
    from curate.warc_writer import write_response

    path = tmp_path / "in" / "a.warc.gz"
    path.parent.mkdir()
    with open(path, "wb") as out:
        write_response(out, "https://example.cn/a", "<html><body><p>你好</p></body></html>".encode())
    return path


def good_config(tmp_path: Path, warc: Path, **replace: str) -> str:
    text = GOOD.format(warc=warc, out=tmp_path / "out")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


BAD = [
    ("min_score: 0.5", "min_score: high", "stages[1].langid.min_score: expected a number in [0, 1], got 'high'"),
    ("min_score: 0.5", "min_score: 1.5", "stages[1].langid.min_score: expected a number in [0, 1], got 1.5"),
    ("min_chars: 10", "min_chars: -1", "stages[2].policy.min_chars: expected an integer >= 0"),
    ("min_chars: 10", "min_chars: 10, colour: red", "stages[2].policy.colour: unknown key"),
    ("- exact_dedup: {}", "- minhash_magic: {}", "stages[3]: unknown stage 'minhash_magic'"),
    ("languages: [zh]", "languages: zh", "stages[1].langid.languages: expected a list, got 'zh'"),
    ("name: t", "name: t\nworkers: 3", "workers: unknown key"),
    ("  - policy: {min_chars: 10}\n", "", None),  # valid: quality rules are optional
]


@pytest.mark.parametrize("old,new,message", BAD)
def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, warc: Path, old: str, new: str, message: str | None
) -> None:
    config = write_config(tmp_path, good_config(tmp_path, warc, **{old: new}))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    if message is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2
    assert message in result.output
    run = CliRunner().invoke(cli, ["run", str(config)])
    assert run.exit_code == 2
    assert message in run.output
    assert not (tmp_path / "out").exists()


def test_missing_input_names_the_glob(tmp_path: Path, warc: Path) -> None:
    config = write_config(tmp_path, good_config(tmp_path, warc, **{str(warc): "nothing/*.warc.gz"}))
    result = CliRunner().invoke(cli, ["run", str(config)])
    assert result.exit_code == 2
    assert "input.paths[0]: no input file matches 'nothing/*.warc.gz'" in result.output
    assert not (tmp_path / "out").exists()


def test_stage_order_is_checked_against_column_contracts(tmp_path: Path, warc: Path) -> None:
    text = good_config(tmp_path, warc).replace("  - extract: {}\n", "").replace("  - policy: {min_chars: 10}\n", "")
    text = text.replace("  - langid:", "  - zh_quality: {}\n  - extract: {}\n  - langid:")
    config = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(str(config))
    assert error.value.path == "stages[0].zh_quality"
    assert "needs column(s) lang" in str(error.value)


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "input: [unclosed\n")
    result = CliRunner().invoke(cli, ["run", str(config), "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "is not valid YAML" in result.output
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "config file not found" in result.output
    assert not (tmp_path / "out").exists()


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, warc: Path) -> None:
    more = warc.parent / "b.warc.gz"
    more.write_bytes(warc.read_bytes())
    text = good_config(tmp_path, warc, **{str(warc): "in/*.warc.gz", str(tmp_path / "out"): "out/x"})
    config = load_config(str(write_config(tmp_path, text)))
    assert config.inputs == [str(warc), str(more)]
    assert config.output.path == str(tmp_path / "out" / "x")


def test_cli_overrides_resolve_against_the_working_directory(tmp_path: Path, warc: Path, monkeypatch) -> None:
    config_path = write_config(tmp_path, good_config(tmp_path, warc))
    monkeypatch.chdir(warc.parent)
    config = load_config(str(config_path), input_override=["a.warc.gz"], output_override="elsewhere")
    assert config.inputs == [str(warc)]
    assert config.output.path == str(warc.parent / "elsewhere")


def test_flagship_config_validates() -> None:
    result = CliRunner().invoke(cli, ["validate", str(REPO / "configs" / "zh_web.yaml")])
    assert result.exit_code == 0, result.output
    assert (
        "stages: screen_blocklist, langid_prefilter, extract, langid, spam_lexicon, spam_model, spam_injection, "
        "line_dedup, c4_lines, policy, zh_quality, gopher_quality, gopher_repetition, fineweb_quality, "
        "screen_hidden_html, screen_injection, screen_invisible, screen_gibberish, screen_pii, "
        "exact_dedup, screen_url_changes, screen_trigger_bursts, spam_name_bursts, minhash_dedup;"
    ) in result.output


def test_every_command_has_help() -> None:
    for command in (["--help"], ["run", "--help"], ["validate", "--help"], ["inspect", "--help"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0
        assert "Usage:" in result.output
    assert CliRunner().invoke(cli, ["run"]).exit_code == 2
