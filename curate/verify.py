"""``curate verify``: check an output folder against its manifest.

Every shard (and quarantine and samples file) the manifest lists must exist, hash to its
recorded SHA-256, hold its recorded number of rows and, for shards, have the
recorded Arrow schema. Files in ``data/`` that the manifest does not list are
mismatches too: a dataset is exactly what its manifest says.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow.parquet as pq

from stages.parquet_writer import file_sha256


def _schema_of(path: str) -> list[dict[str, Any]]:
    schema = pq.read_schema(path)
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def verify(out: str, manifest: dict[str, Any]) -> list[str]:
    """Every mismatch between ``out`` and ``manifest``, as lines for people; empty when all match."""
    problems: list[str] = []
    listed = [(shard, True) for shard in manifest["outputs"]["shards"]]
    listed += [(item, False) for item in manifest.get("quarantine", {}).get("files", [])]
    listed += [(manifest["samples"], False)] if "samples" in manifest else []
    for item, is_shard in listed:
        path = os.path.join(out, item["path"])
        if not os.path.isfile(path):
            problems.append(f"{item['path']}: missing")
            continue
        if os.path.getsize(path) != item["bytes"]:
            problems.append(f"{item['path']}: {os.path.getsize(path)} bytes, manifest says {item['bytes']}")
        if file_sha256(path) != item["sha256"]:
            problems.append(f"{item['path']}: sha256 differs from the manifest")
            continue  # a damaged file's rows and schema may not even be readable
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows != item["rows"]:
            problems.append(f"{item['path']}: {rows} rows, manifest says {item['rows']}")
        if is_shard and _schema_of(path) != manifest["outputs"]["schema"]:
            problems.append(f"{item['path']}: schema differs from the manifest's")
    known = {shard["path"] for shard in manifest["outputs"]["shards"]}
    data = os.path.join(out, "data")
    if os.path.isdir(data):
        for name in sorted(os.listdir(data)):
            relative = os.path.join("data", name)
            if relative not in known:
                problems.append(f"{relative}: not in the manifest")
    total = sum(shard["rows"] for shard in manifest["outputs"]["shards"])
    if total != manifest["outputs"]["rows"]:
        problems.append(f"manifest: shards hold {total} rows, outputs.rows says {manifest['outputs']['rows']}")
    return problems
