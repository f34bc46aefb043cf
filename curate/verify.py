"""``curate verify``: check an output folder against its manifest.

Every shard (and quarantine and samples file) the manifest lists must lie inside
the folder, exist, hash to its recorded SHA-256, hold its recorded number of rows
and, for shards, have the recorded Arrow schema. Files in ``data/``,
``quarantine/`` and ``samples/`` that the manifest does not list are mismatches
too: a dataset is exactly what its manifest says, and readers of those folders
would take a stray file for part of it. A dataset card (``README.md``, written by
``curate card``) must name the sha256 of the manifest that is there now: a card
of an earlier manifest describes another dataset.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curate import storage
from curate.card import CARD, card_head, card_stamp
from curate.untrusted import UnsafeOutput, inside, shown

LISTED_FOLDERS = ("data", "quarantine", "samples")


def _schema_of(parquet: pq.ParquetFile) -> list[dict[str, Any]]:
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in parquet.schema_arrow]


def listed_files(manifest: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """Every file the manifest lists, as (its record, whether it is a shard)."""
    listed = [(shard, True) for shard in manifest["outputs"]["shards"]]
    listed += [(item, False) for item in manifest.get("quarantine", {}).get("files", [])]
    return listed + ([(manifest["samples"], False)] if "samples" in manifest else [])


def _check_file(path: str, name: str, item: dict[str, Any], schema: list[dict[str, Any]] | None) -> list[str]:
    """What is wrong with the file at ``path`` against its record (and ``schema``, for a shard)."""
    size = storage.file_size(path)
    if size is None:
        return [f"{name}: missing"]
    problems = [f"{name}: {size} bytes, manifest says {item['bytes']}"] if size != item["bytes"] else []
    if storage.sha256(path) != item["sha256"]:
        return [*problems, f"{name}: sha256 differs from the manifest"]  # its rows may not even be readable
    try:
        with storage.open_random_access(path) as handle:
            parquet = pq.ParquetFile(handle)
            rows, actual = parquet.metadata.num_rows, _schema_of(parquet)
    except (pa.ArrowException, OSError) as error:
        # The manifest's hash can be any file's: the hash matching proves nothing about the content.
        return [*problems, f"{name}: not a Parquet file ({shown(str(error), 120)})"]
    if rows != item["rows"]:
        problems.append(f"{name}: {rows} rows, manifest says {item['rows']}")
    if schema is not None and actual != schema:
        problems.append(f"{name}: schema differs from the manifest's")
    return problems


def _local_files(root: str, folder: str) -> list[str]:
    found = []
    # Symlinked folders are not followed (one to / would list the machine); they are entries.
    for parent, dirs, files in os.walk(os.path.join(root, folder)):
        names = files + [d for d in dirs if os.path.islink(os.path.join(parent, d))]
        found += [os.path.relpath(os.path.join(parent, n), root).replace(os.sep, "/") for n in names]
    return found


def files_in(out: str, folder: str) -> list[str]:
    """Every file under ``out/folder`` at any depth, relative to ``out`` ('/'-separated)."""
    if not storage.is_uri(out):
        return sorted(_local_files(storage.local_path(out), folder))
    fs, inner = storage.filesystem(storage.join(out, folder))
    infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True))
    return sorted(f"{folder}/{i.path[len(inner) :].lstrip('/')}" for i in infos if i.type == pafs.FileType.File)


def _totals(manifest: dict[str, Any]) -> list[str]:
    """The manifest's totals against its own file lists (the report shows the totals)."""
    outputs, problems = manifest["outputs"], []
    for key in ("rows", "bytes"):
        total = sum(shard[key] for shard in outputs["shards"])
        if total != outputs[key]:
            problems.append(f"manifest: shards hold {total} {key}, outputs.{key} says {outputs[key]}")
    if "quarantine" in manifest:
        total, said = sum(item["rows"] for item in manifest["quarantine"]["files"]), manifest["quarantine"]["rows"]
        if total != said:
            problems.append(f"manifest: quarantine files hold {total} rows, quarantine.rows says {said}")
    return problems


def _card(out: str) -> list[str]:
    """What is wrong with the dataset card, when there is one: it must name the manifest.json
    that is there now (a card is written from one manifest; a re-run or an edit makes another)."""
    try:
        head = card_head(inside(out, CARD))
        if head is None:
            return []
        named = card_stamp(head)
        if named is None:
            return [f"{CARD}: names no manifest sha256: not a card `curate card` wrote (run it to write one)"]
        current = storage.sha256(inside(out, "manifest.json"))
    except UnsafeOutput as error:
        return [str(error)]
    except OSError as error:
        return [f"{CARD}: {shown(str(error), 200)}"]
    if named != current:
        return [
            f"{CARD}: a stale card: written from manifest.json sha256 {named[:16]}…, which is now"
            f" {current[:16]}… (run `curate card` again)"
        ]
    return []


def verify(out: str, manifest: dict[str, Any]) -> list[str]:
    """Every mismatch between ``out`` (a folder or URI) and ``manifest`` (checked against the
    schema), as lines for people; empty when all match."""
    problems: list[str] = []
    seen: set[str] = set()
    for item, is_shard in listed_files(manifest):
        name = shown(item["path"], 200)
        if item["path"] in seen:
            problems.append(f"{name}: listed twice in the manifest")
            continue
        seen.add(item["path"])
        try:
            path = inside(out, item["path"])
        except UnsafeOutput as error:
            problems.append(str(error))
            continue
        problems += _check_file(path, name, item, manifest["outputs"]["schema"] if is_shard else None)
    for folder in LISTED_FOLDERS:
        problems += [f"{shown(f, 200)}: not in the manifest" for f in files_in(out, folder) if f not in seen]
    return problems + _totals(manifest) + _card(out)
