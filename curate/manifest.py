"""The data manifest: what went in, what came out, what was dropped and why.

``OUT/manifest.json`` follows ``manifests/schema.json``; the runner validates
every manifest against it before writing, and writes it atomically.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

import curate
from curate.config import PipelineConfig
from curate.stage import StageStats
from curate.storage import is_uri, join, read_text, sha256

MANIFEST_VERSION = 1
SCHEMA_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(curate.__file__))), "manifests", "schema.json"
)


class ManifestError(ValueError):
    pass


@functools.lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    if not os.path.isfile(SCHEMA_PATH):
        raise ManifestError(
            f"manifest schema not found at {SCHEMA_PATH}; install curate from its source tree (pip install -e .)"
        )
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def _short(value: Any, limit: int = 60) -> str:
    """``value`` quoted for one line: repr escapes control and bidi characters, and a
    huge value (a tampered manifest's 1 MB string) is cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_path(error: Any) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if part.isidentifier() else f"[{_short(part)}]")
    return path


def _problem(error: Any) -> str:
    """One short line: where (a JSON path) and what is wrong."""
    if error.validator in ("pattern", "not") and "title" in error.schema:
        what = f"{_short(error.instance)} is not {error.schema['title']}"
    elif len(error.message) <= 160:
        what = error.message
    else:  # jsonschema quotes the whole value, and keys too
        what = f"{_short(error.instance)} fails {error.validator!s} {_short(error.validator_value)}"
    return f"{_json_path(error)}: {what}"


def manifest_problems(manifest: Any) -> list[str]:
    """Where ``manifest`` breaks manifests/schema.json, one short line each, the most telling first."""
    import jsonschema
    from jsonschema.exceptions import relevance

    validator = jsonschema.Draft202012Validator(manifest_schema())
    return [_problem(e) for e in sorted(validator.iter_errors(manifest), key=relevance, reverse=True)]


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Raise ManifestError listing every place the manifest breaks the schema."""
    problems = manifest_problems(manifest)
    if problems:
        raise ManifestError("manifest does not match manifests/schema.json:\n" + "\n".join(problems[:20]))


def git_commit() -> str | None:
    """The commit of the curate source tree, when it is a git checkout."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(curate.__file__)))
    try:
        result = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


def _input_entry(record: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "path": record["path"],
        "size": record.get("size"),
        "sha256": record.get("sha256"),
        "status": record["status"],
        "records": record.get("records", 0),
        "documents_out": record.get("documents_out", 0),
        "error_count": record.get("error_count", 0),
        "skipped_bytes": record.get("skipped_bytes", 0),
        "errors": record.get("errors", []),
        "node": record.get("node"),
        "seconds": record.get("seconds"),
        "setup_seconds": record.get("setup_seconds"),
        "worker_pid": record.get("worker_pid"),
    }
    if record["status"] == "failed":
        entry["error"] = record["error"]
        entry["failure"] = record.get("failure", "run")
    if "note" in record:
        entry["note"] = record["note"]
    if "range" in record:
        entry["range"] = record["range"]
    return entry


def model_records(config: PipelineConfig) -> list[dict[str, Any]]:
    """Every model file the run's stages load (``Stage.model_files``), with its size and sha256.
    Hashed once per run, in the driver: a model of a few MB costs milliseconds, and the manifest
    then says which model made the run's decisions (a file replaced in place keeps its path)."""
    records = []
    digests: dict[str, str] = {}
    for spec in config.stages:
        for path in spec.stage_class.model_files(spec.config):
            if path not in digests:
                digests[path] = sha256(path)
            records.append({"stage": spec.name, "path": path, "sha256": digests[path], "bytes": os.path.getsize(path)})
    return records


def list_records(config: PipelineConfig) -> list[dict[str, Any]]:
    """Every block list the run's stages apply (``Stage.list_records``), with its sha256 and entry
    count; read from the compiled index the config check built, so no list is parsed again."""
    return [
        {"stage": spec.name, **record}
        for spec in config.stages
        for record in spec.stage_class.list_records(spec.config)
    ]


def build_manifest(
    config: PipelineConfig,
    *,
    run_id: str,
    started: float,
    finished: float,
    inputs: list[dict[str, Any]],
    stages: list[StageStats],
    shards: list[dict[str, Any]],
    schema: pa.Schema,
    resumed_units: int,
    summaries: dict[str, tuple[str | None, dict[str, Any]]] | None = None,
    quarantine: list[dict[str, Any]] | None = None,
    samples: dict[str, Any] | None = None,
    top_domains: dict[str, list[list]] | None = None,
    models: list[dict[str, Any]] | None = None,
    blocklists: list[dict[str, Any]] | None = None,
    tokens: dict[str, Any] | None = None,
) -> dict[str, Any]:
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "name": config.name,
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "seconds": round(finished - started, 3),
        "curate_version": curate.__version__,
        "git_commit": git_commit(),
        "config_path": config.config_path,
        "config_hash": config.hash,
        "config": config.to_dict(),
        "resumed_units": resumed_units,
        "inputs": [_input_entry(r) for r in inputs],
        "stages": [s.to_dict() for s in stages],
        "outputs": {
            "rows": sum(s["rows"] for s in shards),
            "bytes": sum(s["bytes"] for s in shards),
            "shards": shards,
            "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        },
    }
    # Optional sections: present only when the run has them.
    optional = {"skipped_stages": config.skipped_stages, "models": models, "blocklists": blocklists, "tokens": tokens}
    manifest |= {key: value for key, value in optional.items() if value}
    for name, (key, summary) in (summaries or {}).items():
        # A global stage's summary of its resolution: under its own key (minhash_dedup), or by name.
        if key is not None:
            manifest[key] = summary
        else:
            manifest.setdefault("global_stages", {})[name] = summary
    if quarantine:
        manifest["quarantine"] = {"rows": sum(f["rows"] for f in quarantine), "files": quarantine}
    if samples is not None:
        manifest["samples"] = samples
    if top_domains is not None:
        manifest["top_domains"] = top_domains
    validate_manifest(manifest)
    return manifest


def write_manifest(out_dir: str, manifest: dict[str, Any]) -> str:
    path = os.path.join(out_dir, "manifest.json")
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def _refuse_constant(name: str) -> None:
    # json.dumps never writes NaN or Infinity into a manifest; one that holds them was edited.
    raise ValueError(f"{name} is not a JSON number")


def load_manifest(out_dir: str) -> dict[str, Any]:
    """The manifest of an output folder (local or a URI), or the manifest file itself, checked
    against the schema: commands read it as untrusted input, so whatever they use has the type
    they assume. ManifestError, naming the file and the JSON path, when it is not so."""
    return read_manifest(out_dir)[0]


def read_manifest(out_dir: str) -> tuple[dict[str, Any], str]:
    """``load_manifest``, and the sha256 of the bytes it parsed: the dataset card names the
    manifest it was built from, and a second read could see another file."""
    if is_uri(out_dir):
        path = out_dir if out_dir.endswith(".json") else join(out_dir, "manifest.json")
    else:
        path = os.path.join(out_dir, "manifest.json") if os.path.isdir(out_dir) else out_dir
    try:
        text = read_text(path)
        if text is None:
            raise ManifestError(f"no manifest at {path}: is this the output folder of a finished `curate run`?")
        manifest = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as error:
        raise ManifestError(f"{path}: not JSON: {_short(str(error), 120)}") from error
    problems = manifest_problems(manifest)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise ManifestError(f"{path}: {problems[0]}{more}")
    # Decoding succeeded, so encoding gives back the file's bytes.
    return manifest, hashlib.sha256(text.encode("utf-8")).hexdigest()
