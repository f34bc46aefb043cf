"""Pipeline configuration: YAML in, typed and fully checked objects out.

Everything is checked here, before Ray starts or any output is written: unknown
keys, types, ranges, stage names, the column contract between stages, and that
every input path or glob matches a file. Relative paths resolve against the
folder of the config file; paths given on the command line resolve against the
working directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from curate.config_schema import ConfigError, bounds, build, describe, key_text, shorten, to_plain
from curate.document import READER_SCHEMA
from curate.global_stage import GlobalStage
from curate.registry import resolve_stage, stage_key_hint
from curate.stage import Stage
from curate.storage import has_wildcards, is_uri, join, match_inputs
from stages.readers import TEXT_FORMATS, InputConfig

log = logging.getLogger("curate")


@dataclass
class OutputConfig:
    path: str
    shard_max_rows: int = field(default=100_000, metadata=bounds(1))
    shard_max_bytes: int = field(default=256 * 1024 * 1024, metadata=bounds(1024))
    """Uncompressed Arrow bytes per shard; Parquet files come out several times smaller."""
    compression_level: int = field(default=3, metadata=bounds(1, 22))
    """zstd level of the Parquet shards."""
    samples_per_reason: int = field(default=20, metadata=bounds(0, 10_000))
    """Documents per drop reason (and kept) collected for reports, by seeded bottom-k sampling
    (four times as many are kept as candidates); 0 collects none."""
    sample_seed: int = field(default=0, metadata=bounds(0))


@dataclass
class RunConfig:
    executor: Literal["ray", "local"] = "ray"
    """Where tasks run: Ray (a local Ray started for the run, or the cluster at --address /
    RAY_ADDRESS), or one after the other in this process (small runs, debugging, tests)."""
    workers: int | None = field(default=None, metadata=bounds(1, 4096))
    """Parallel unit tasks; by default one per CPU of the Ray cluster."""
    max_units_in_flight: int | None = field(default=None, metadata=bounds(1))
    """Units submitted but not finished (backpressure); by default twice the workers."""
    task_retries: int = field(default=2, metadata=bounds(0, 100))
    """Ray retries of a task whose worker died or was killed for memory (transient faults);
    past them the run fails naming the input."""
    allow_failed_inputs: bool = False
    """Let a run finish (exit 0, a manifest listing them as failed) when inputs failed because
    the run broke around them (worker death, out of memory, disk full, a stage error). Off, such
    a run exits 1 without a manifest and a re-run retries them. Inputs that cannot be read at
    all (not a WARC file, bad JSON throughout) never fail the run; the summary lists them."""
    local_phases_max_documents: int = field(default=100_000, metadata=bounds(0))
    """Up to this many documents reach a pass's global stages, their phases (exact dedup, global
    screens, MinHash) run in the driver process instead of as Ray tasks: for a small run a
    task per partition and phase would cost more than the work (~3 ms per document on the
    sample crawl)."""
    unit_max_bytes: int | None = field(default=256 * 1024 * 1024, metadata=bounds(1024))
    """Input files larger than this are cut into units of about this many bytes, at record
    starts (``stages.readers.splits``: gzip WARC/WET at members, plain JSON Lines, MNBVC and
    WuDao at lines and elements, Parquet at row groups; compressed JSON stays whole), so one
    large file keeps every worker busy and a failure redoes only its range. The output is the
    same whatever the cut (shards are written per input file). ``null``: a unit per file."""
    min_units: int = field(default=16, metadata=bounds(1))
    """A run whose inputs would make fewer units is cut finer (down to 16 MiB units), so that a
    few large files still spread evenly over the workers: a 1 GB WARC becomes 16 units of 70 MB
    rather than 4 of 256 MB and a remainder. The run's last two units' worth of bytes is cut in
    quarters (``curate.units``). Depends on the inputs only, so resuming on another cluster
    finds the same units."""
    tokenizers: list[str] = field(default_factory=lambda: ["qwen"])
    """Tokenizers whose counts the manifest and the output's ``tokens`` column carry
    (``curate.tokens``): built-in ``qwen`` / ``qwen3.6`` (offline, from the install), or paths to
    a ``tokenizer.json`` or ``.tiktoken`` file. ``[]`` counts none. Qwen costs ~0.8 ms per 5,000
    Chinese characters (benchmarks/quality_suite.py)."""
    staging_dir: str | None = None
    """Local folder where a run with a remote ``output.path`` (s3://...) builds its output
    before uploading it; it keeps the work files, so a re-run resumes. Default:
    ~/.cache/curate/staging/<hash of the output URI>. On a multi-node cluster it must be
    a folder every node shares."""


@dataclass
class StageSpec:
    name: str
    """The stage class's ``name``: what its counts, drop reasons and samples are filed under."""
    config: Any
    stage_class: type[Stage]
    key: str = ""
    """The config key as written: ``name`` for a built-in stage, ``module.path:ClassName`` for
    another; written back by ``to_dict``, so the manifest's config loads again. Default: ``name``."""

    def __post_init__(self) -> None:
        self.key = self.key or self.name

    def build(self) -> Stage:
        return self.stage_class(self.config)


@dataclass
class PipelineConfig:
    name: str
    input: InputConfig
    output: OutputConfig
    stages: list[StageSpec]
    run: RunConfig
    config_path: str
    inputs: list[str]
    """Resolved input files, sorted: their order decides which duplicate is kept."""
    skipped_stages: list[dict[str, str]] = field(default_factory=list)
    """Stages of the config file left out of this run, with why (HTML stages on text input)."""

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as written to the manifest."""
        return {
            "name": self.name,
            "input": to_plain(self.input),
            "output": to_plain(self.output),
            "run": to_plain(self.run),
            "stages": [{spec.key: to_plain(spec.config)} for spec in self.stages],
        }

    @property
    def local_output(self) -> str:
        """The local folder the run writes to: the output folder itself, or for a remote
        output the staging folder uploaded at the end."""
        if not is_uri(self.output.path):
            return self.output.path
        if self.run.staging_dir:
            return self.run.staging_dir
        key = hashlib.sha256(self.output.path.encode()).hexdigest()[:16]
        return os.path.join(os.path.expanduser("~"), ".cache", "curate", "staging", key)

    @property
    def hash(self) -> str:
        """Hash of everything that decides the output rows (not where they go or how many workers ran)."""
        relevant = self.to_dict()
        del relevant["run"]
        del relevant["output"]["path"]
        relevant["inputs"] = self.inputs
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _resolve(base: str, path: str) -> str:
    if is_uri(path):
        return path
    path = os.path.expanduser(path)
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))


def _resolve_paths(config: Any, base: str, key: str) -> None:
    """Resolve every field marked ``path_field()`` against ``base`` and check that the file exists,
    in nested configs too."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            _resolve_paths(value, base, f"{key}.{f.name}")
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                _resolve_paths(item, base, f"{key}.{f.name}[{i}]")
        if not f.metadata.get("path"):
            continue
        if value is None:
            continue
        paths = value if isinstance(value, list) else [value]
        resolved = []
        for i, path in enumerate(paths):
            full = _resolve(base, path)
            folder_ok = f.metadata["path"] == "file_or_folder" and os.path.isdir(full)
            if not os.path.isfile(full) and not folder_ok:
                where = f"{key}.{f.name}" + (f"[{i}]" if isinstance(value, list) else "")
                raise ConfigError(where, f"no such file: {full}")
            resolved.append(full)
        setattr(config, f.name, resolved if isinstance(value, list) else resolved[0])


def _expand_inputs(patterns: list[str], base: str, key: str) -> list[str]:
    """The input files the paths and globs match.

    What a user can mean by each: a file or a glob of files is read; a broken symbolic link,
    FIFO, socket or device, named or matched, is an error (the user expects it read, and
    reading it would fail or block in a worker); a folder named as such is an error (the
    files in it need a glob); a folder a glob matches (``crawl/*`` next to the files) is left
    out with a warning naming it, silently for ``**``, which matches every folder on the way
    to the files it also matches; a path or glob that matches no file is an error."""
    files: set[str] = set()
    for i, pattern in enumerate(patterns):
        where = f"{key}[{i}]"
        resolved = _resolve(base, pattern)
        try:
            matches = match_inputs(resolved)
        except (OSError, ValueError) as error:  # a remote store that cannot be listed
            raise ConfigError(where, f"cannot list {resolved}: {error}") from error
        if matches.unreadable:
            path, why = matches.unreadable[0]
            more = f" (and {len(matches.unreadable) - 1} more)" if len(matches.unreadable) > 1 else ""
            raise ConfigError(where, f"{path} is {why}{more}")
        if matches.folders and not has_wildcards(resolved):
            raise ConfigError(
                where, f"{resolved} is a folder; give a glob of the files in it, such as {join(resolved, '*')}"
            )
        if matches.folders and "**" not in resolved:
            shown = ", ".join(matches.folders[:5]) + (", ..." if len(matches.folders) > 5 else "")
            log.warning("%s: %d folder(s) matched by %s left out: %s", where, len(matches.folders), pattern, shown)
        if not matches.files:
            only = f"; it matches only folders: {matches.folders[0]}, ..." if matches.folders else ""
            raise ConfigError(where, f"no input file matches {describe(pattern)} (looked for {resolved}){only}")
        files.update(matches.files)
    return sorted(files)


def _build_stages(data: Any) -> list[StageSpec]:
    if not isinstance(data, list) or not data:
        raise ConfigError("stages", "expected a non-empty list of stages, e.g. [{extract: {}}, {langid: {}}]")
    specs: list[StageSpec] = []
    seen: dict[str, int] = {}  # stage name -> its position in the list
    columns = set(READER_SCHEMA.names)
    for i, item in enumerate(data):
        if isinstance(item, str):
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            raise ConfigError(f"stages[{i}]", f"expected a mapping with one stage name as key ({stage_key_hint()})")
        ((key, options),) = item.items()
        stage_class = resolve_stage(key, f"stages[{i}]")
        name = stage_class.name
        if name in seen:
            other = specs[seen[name]]
            if other.stage_class is stage_class:
                raise ConfigError(f"stages[{i}]", f"stage {name!r} appears twice")
            # The name files the stage's counts, drop reasons and samples: two would mix.
            raise ConfigError(
                f"stages[{i}]", f"stage {describe(key)} has the name {name!r} of stages[{seen[name]}] ({other.key!r})"
            )
        where = f"stages[{i}].{key}"
        config = build(stage_class.config_class, options, where)
        missing = [c for c in stage_class.reads if c not in columns]
        if missing:
            raise ConfigError(
                where, f"needs column(s) {', '.join(missing)}, which no earlier stage writes; check the stage order"
            )
        if stage_class.is_global and not issubclass(stage_class, GlobalStage):
            raise ConfigError(
                where, f"{stage_class.__name__} sets is_global but is not a curate.global_stage.GlobalStage"
            )
        if name == "exact_dedup" and "minhash_dedup" in seen:
            # Near-duplicate clusters are found among the documents exact deduplication keeps.
            raise ConfigError(where, "exact_dedup must come before minhash_dedup")
        columns.update(f.name for f in stage_class.writes)
        seen[name] = i
        specs.append(StageSpec(name, config, stage_class, key))
    return specs


def _check_tokenizers(specs: list[str], base: str) -> list[str]:
    """The tokenizer names with their paths resolved, each loaded once so a bad one fails here."""
    from curate.tokens import BUILTIN, TokenizerError, load_tokenizer, load_tokenizers

    resolved = [spec if spec in BUILTIN else _resolve(base, spec) for spec in specs]
    for i, spec in enumerate(resolved):
        try:
            load_tokenizer(spec)
        except TokenizerError as error:
            raise ConfigError(f"run.tokenizers[{i}]", str(error)) from None
    try:
        load_tokenizers(resolved)
    except TokenizerError as error:
        raise ConfigError("run.tokenizers", str(error)) from None
    return resolved


def load_config(
    path: str,
    *,
    input_override: list[str] | None = None,
    output_override: str | None = None,
    format_override: str | None = None,
) -> PipelineConfig:
    """Read, check and resolve a pipeline config. Raises ConfigError naming the bad key."""
    data = _read_yaml(path)
    base = os.path.dirname(os.path.abspath(path))
    name = data.get("name", os.path.splitext(os.path.basename(path))[0])
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("name", f"expected a non-empty string, got {describe(name)}")
    input_config, inputs = _build_input(data["input"], base, input_override, format_override)
    output_config = _build_output(data["output"], base, output_override)
    stages = _build_stages(data["stages"])
    stages, skipped = _fit_stages_to_format(stages, input_config.format, from_command_line=format_override is not None)
    for i, spec in enumerate(stages):
        _resolve_paths(spec.config, base, f"stages[{i}].{spec.key}")
        check_files = getattr(spec.config, "check_files", None)
        if check_files is not None:
            # Checks that read the files a stage names, once their paths are resolved.
            check_files(f"stages[{i}].{spec.key}")
    run_config = build(RunConfig, data.get("run"), "run")
    if run_config.staging_dir:
        run_config.staging_dir = _resolve(base, run_config.staging_dir)
    run_config.tokenizers = _check_tokenizers(run_config.tokenizers, base)
    return PipelineConfig(
        name=name,
        input=input_config,
        output=output_config,
        stages=stages,
        run=run_config,
        config_path=os.path.abspath(path),
        inputs=inputs,
        skipped_stages=skipped,
    )


MAX_CONFIG_BYTES = 1 << 20
"""A config is a few kilobytes; the cap bounds what parsing costs before anything is checked."""
MAX_NESTING = 32
"""Levels of nested lists and mappings; a real config has about six. libyaml recurses per level
(and crashes on deep enough input), so depth is checked on the event stream first."""
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: str) -> dict[str, Any]:
    """The config file's top-level mapping, its keys checked."""
    data = _parse_yaml(_read_config_text(path), path)
    if not isinstance(data, dict):
        raise ConfigError("", f"{path}: expected a mapping at the top level")
    allowed = {"name", "input", "output", "run", "stages"}
    for key in data:
        if key not in allowed:
            raise ConfigError(key_text(key), f"unknown key (known keys: {', '.join(sorted(allowed))})")
    for key in ("input", "output", "stages"):
        if key not in data:
            raise ConfigError(key, "required key is missing")
    return data


def _read_config_text(path: str) -> str:
    if not os.path.isfile(path):
        raise ConfigError("", f"config file not found: {path}")
    with open(path, "rb") as handle:
        # Read one byte past the cap rather than trust the size: the file may be growing.
        raw = handle.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("", f"{path} is larger than {MAX_CONFIG_BYTES // 1024} KiB: not a pipeline config")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError("", f"{path} is not UTF-8 text: {error}") from None


def _parse_yaml(text: str, path: str) -> Any:
    """The YAML document in ``text``, once a pass over its events (cheap: nothing is built)
    found no anchors, aliases or deep nesting."""
    try:
        _check_events(yaml.parse(_named_stream(text, path), Loader=_LOADER), path)
        return yaml.load(_named_stream(text, path), Loader=_LOADER)
    except ConfigError:
        raise
    except yaml.YAMLError as error:
        raise ConfigError("", f"{path} is not valid YAML: {shorten(str(error), 1000)}") from None
    except ValueError as error:
        # A scalar YAML types but Python cannot hold: a date 2024-13-01, an integer of 5,000 digits.
        raise ConfigError("", f"{path}: a value cannot be read: {shorten(str(error))}") from None


def _named_stream(text: str, path: str) -> io.StringIO:
    """``text`` as a stream named ``path``, so YAML errors say 'in "path", line 3' rather than
    'in "<unicode string>"'."""
    stream = io.StringIO(text)
    stream.name = path
    return stream


def _check_events(events: Iterable[yaml.Event], path: str) -> None:
    """Refuse anchors and aliases (a config never needs them, and a few hundred bytes of nested
    aliases expand to gigabytes: "billion laughs") and nesting deeper than ``MAX_NESTING``."""
    depth = 0
    for event in events:
        where = f"{path}, line {event.start_mark.line + 1}"
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ConfigError(
                "", f"{where}: YAML anchors and aliases (&name, *name) are not allowed; write the value out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                raise ConfigError("", f"{where}: lists and mappings nested more than {MAX_NESTING} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _build_input(
    data: Any, base: str, input_override: list[str] | None, format_override: str | None
) -> tuple[InputConfig, list[str]]:
    """The input section, with the command line's overrides, and the input files it names."""
    input_data = dict(data) if isinstance(data, dict) else data
    if input_override and isinstance(input_data, dict):
        input_data["paths"] = list(input_override)
    if format_override and isinstance(input_data, dict):
        input_data["format"] = format_override
    input_config = build(InputConfig, input_data, "--format" if format_override else "input")
    input_base = os.getcwd() if input_override else base
    inputs = _expand_inputs(input_config.paths, input_base, "--input" if input_override else "input.paths")
    return input_config, inputs


def _build_output(data: Any, base: str, output_override: str | None) -> OutputConfig:
    output_data = dict(data) if isinstance(data, dict) else data
    if output_override and isinstance(output_data, dict):
        output_data["path"] = output_override
    output_config = build(OutputConfig, output_data, "output")
    output_config.path = _resolve(os.getcwd() if output_override else base, output_config.path)
    path = output_config.path
    if not is_uri(path) and os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError("output.path", f"{path} exists and is not a folder")
    return output_config


def _fit_stages_to_format(
    stages: list[StageSpec], input_format: str, *, from_command_line: bool
) -> tuple[list[StageSpec], list[dict[str, str]]]:
    """Leave out the stages that need HTML when the input is text.

    A config file that pairs a text format with an HTML stage is inconsistent and fails.
    A web config run on text input through ``--format`` (say, zh_web.yaml on WET files)
    runs without those stages, and the run log and manifest say which were left out."""
    if input_format not in TEXT_FORMATS:
        return stages, []
    html_stages = [(i, spec) for i, spec in enumerate(stages) if spec.stage_class.needs_html]
    if not html_stages:
        return stages, []
    if not from_command_line:
        i, spec = html_stages[0]
        raise ConfigError(
            f"stages[{i}].{spec.key}",
            f"needs the page's HTML, but input.format {input_format!r} gives text; remove it "
            f"(configs/wudao.yaml and configs/mnbvc.yaml are pipelines for text inputs)",
        )
    reason = f"needs HTML; --format {input_format} gives text"
    skipped = [{"stage": spec.name, "reason": reason} for _, spec in html_stages]
    return [spec for spec in stages if not spec.stage_class.needs_html], skipped
