"""Stages named by import path (``module.path:ClassName``): checked like built-in stages, written
back to the manifest's config as written. The custom stage is ``tests/plugins/length_filter.py``,
the filter the README shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from curate.config import load_config
from curate.config_schema import ConfigError
from curate.stage import StageStats
from stages.readers import ReadResult, reader_for

PLUGINS = Path(__file__).parent / "plugins"
WUDAO_SAMPLE = REPO / "samples" / "wudao_sample.json"
CONFIG = """
name: custom
input:
  format: wudao
  paths: [{sample}]
stages:
  - langid: {{languages: [zh], min_score: 0.5}}
  - length_filter:LengthFilter: {{min_chars: 30}}
  - policy: {{min_chars: 10}}
output:
  path: {out}
"""


@pytest.fixture(autouse=True)
def plugins_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))


def config_file(tmp_path: Path, old: str = "", new: str = "") -> Path:
    text = CONFIG.format(sample=WUDAO_SAMPLE, out=tmp_path / "out")
    assert old in text
    path = tmp_path / "c.yaml"
    path.write_text(text.replace(old, new) if old else text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, old: str, new: str) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        load_config(str(config_file(tmp_path, old, new)))
    return error.value


def test_a_stage_named_by_import_path_runs_on_real_documents(tmp_path: Path) -> None:
    from length_filter import LengthFilter

    config = load_config(str(config_file(tmp_path)))
    spec = config.stages[1]
    assert (spec.key, spec.name, spec.stage_class) == ("length_filter:LengthFilter", "length_filter", LengthFilter)
    assert spec.config.min_chars == 30
    (batch,) = reader_for(config.input).read(str(WUDAO_SAMPLE), ReadResult())
    stats = StageStats(spec.name)
    out = spec.build().apply(batch, stats)
    # The WuDao sample's one 8-character record; every other text has ~700 characters.
    assert (stats.docs_in, stats.docs_out, dict(stats.drops)) == (57, 56, {"length.too_short": 1})
    assert stats.drop_values == {"length.too_short": [8.0, 8.0]}
    assert min(out.column("length_chars").to_pylist()) >= 30
    assert out.schema.field("length_chars").type == "int32"


def test_the_config_round_trips_through_the_manifest(tmp_path: Path) -> None:
    config = load_config(str(config_file(tmp_path)))
    written = config.to_dict()
    assert list(written["stages"][1]) == ["length_filter:LengthFilter"]
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(written, allow_unicode=True), encoding="utf-8")
    reloaded = load_config(str(again))
    assert reloaded.to_dict() == written
    assert reloaded.hash == config.hash


KEY = "stages[1].length_filter:LengthFilter"


@pytest.mark.parametrize(
    "new,path,message",
    [
        ("{min_chrs: 30}", f"{KEY}.min_chrs", "unknown key (known keys: min_chars)"),
        ("{min_chars: -1}", f"{KEY}.min_chars", "expected an integer >= 0, got -1 (int)"),
        ("{min_chars: x}", f"{KEY}.min_chars", "expected an integer >= 0, got 'x'"),
    ],
)
def test_options_are_checked_like_a_built_in_stage(tmp_path: Path, new: str, path: str, message: str) -> None:
    error = config_error(tmp_path, "{min_chars: 30}", new)
    assert (error.path, error.message) == (path, message)


def test_the_column_contract_is_checked(tmp_path: Path) -> None:
    stage = "  - broken_stages:NeedsLanguage: {}\n"
    assert load_config(str(config_file(tmp_path, "  - policy:", stage + "  - policy:")))
    error = config_error(tmp_path, "  - langid:", stage + "  - langid:")
    assert (error.path, error.message) == (
        "stages[0].broken_stages:NeedsLanguage",
        "needs column(s) lang, which no earlier stage writes; check the stage order",
    )


REFUSED = [
    (
        "no_such_plugin:Filter",
        "cannot import module 'no_such_plugin': No module named 'no_such_plugin' (the driver and every Ray worker",
    ),
    ("length_filter:Missing", "module 'length_filter' has no attribute 'Missing'"),
    ("broken_stages:NotAStage", "<class 'broken_stages.NotAStage'> is not a subclass of curate.stage.Stage"),
    ("curate.stage:SignalFilter", "SignalFilter is abstract (it does not define signals)"),
    ("broken_stages:NamedLikeABuiltin", "its name 'policy' is the name of a built-in stage; choose another"),
    ("broken_stages:Nameless", "Nameless.name must be a name such as 'my_filter', got None"),
    ("broken_stages:ConfigNotADataclass", "ConfigNotADataclass.config_class must be a dataclass, got <class 'dict'>"),
    ("broken_stages:ReadsNotATuple", "ReadsNotATuple.reads must be a tuple of column names, got 'text'"),
    ("length_filter:", "expected an import path, module.path:ClassName"),
]


@pytest.mark.parametrize("key,message", REFUSED)
def test_a_class_that_is_not_a_usable_stage_is_refused(tmp_path: Path, key: str, message: str) -> None:
    error = config_error(tmp_path, "length_filter:LengthFilter", key)
    assert error.path == "stages[1]"
    assert error.message.startswith(f"stage {key!r}: {message}")


def test_a_module_that_fails_to_import_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "raising_plugin.py").write_text("raise RuntimeError('no GPU here')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    error = config_error(tmp_path, "length_filter:LengthFilter", "raising_plugin:Filter")
    assert error.path == "stages[1]"
    assert "importing module 'raising_plugin' failed: RuntimeError: no GPU here" in error.message


def test_two_stages_may_not_share_a_name(tmp_path: Path) -> None:
    twice = "  - length_filter:LengthFilter: {min_chars: 30}\n"
    error = config_error(tmp_path, twice, twice + "  - broken_stages:SameNameAsLengthFilter: {}\n")
    assert error.path == "stages[2]"
    assert error.message == (
        "stage 'broken_stages:SameNameAsLengthFilter' has the name 'length_filter' of stages[1] "
        "('length_filter:LengthFilter')"
    )
    error = config_error(tmp_path, twice, twice + twice)
    assert (error.path, error.message) == ("stages[2]", "stage 'length_filter' appears twice")


def test_an_unknown_name_says_import_paths_are_accepted(tmp_path: Path) -> None:
    error = config_error(tmp_path, "length_filter:LengthFilter", "length_filter")
    assert error.path == "stages[1]"
    assert error.message.startswith("unknown stage 'length_filter' (known stages: langid_prefilter, extract,")
    assert error.message.endswith("; or a stage class by import path, module.path:ClassName)")


def test_the_readme_shows_this_filter() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own stage", 1)[1]
    shown = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert shown == (PLUGINS / "length_filter.py").read_text(encoding="utf-8")
    assert "- length_filter:LengthFilter: {min_chars: 30}" in section
