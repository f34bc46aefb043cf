"""``curate verify``: check an output folder against its manifest.

Every shard (and quarantine and samples file) the manifest lists must exist, hash to its
recorded SHA-256, hold its recorded number of rows and, for shards, have the
recorded Arrow schema. Files in ``data/`` that the manifest does not list are
mismatches too: a dataset is exactly what its manifest says.
"""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from curate import storage


def _parquet(path: str) -> pq.ParquetFile:
    return pq.ParquetFile(storage.open_random_access(path))


def _schema_of(parquet: pq.ParquetFile) -> list[dict[str, Any]]:
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in parquet.schema_arrow]


def verify(out: str, manifest: dict[str, Any]) -> list[str]:
    """Every mismatch between ``out`` (a folder or URI) and ``manifest``, as lines for people;
    empty when all match."""
    problems: list[str] = []
    listed = [(shard, True) for shard in manifest["outputs"]["shards"]]
    listed += [(item, False) for item in manifest.get("quarantine", {}).get("files", [])]
    listed += [(manifest["samples"], False)] if "samples" in manifest else []
    for item, is_shard in listed:
        path = storage.join(out, item["path"])
        size = storage.file_size(path)
        if size is None:
            problems.append(f"{item['path']}: missing")
            continue
        if size != item["bytes"]:
            problems.append(f"{item['path']}: {size} bytes, manifest says {item['bytes']}")
        if storage.sha256(path) != item["sha256"]:
            problems.append(f"{item['path']}: sha256 differs from the manifest")
            continue  # a damaged file's rows and schema may not even be readable
        parquet = _parquet(path)
        rows = parquet.metadata.num_rows
        if rows != item["rows"]:
            problems.append(f"{item['path']}: {rows} rows, manifest says {item['rows']}")
        if is_shard and _schema_of(parquet) != manifest["outputs"]["schema"]:
            problems.append(f"{item['path']}: schema differs from the manifest's")
    known = {shard["path"] for shard in manifest["outputs"]["shards"]}
    for name in storage.list_names(storage.join(out, "data")) or []:
        relative = f"data/{name}"
        if relative not in known:
            problems.append(f"{relative}: not in the manifest")
    total = sum(shard["rows"] for shard in manifest["outputs"]["shards"])
    if total != manifest["outputs"]["rows"]:
        problems.append(f"manifest: shards hold {total} rows, outputs.rows says {manifest['outputs']['rows']}")
    return problems
