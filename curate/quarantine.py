"""Documents a screen dropped, kept aside with their flags and evidence in OUT/quarantine/."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate import storage
from curate.workdir import read_parquet, temporary, write_parquet_atomically

QUARANTINE_FILE = "quarantine.parquet"
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string()),
        pa.field("source_offset", pa.int64()),
        pa.field("fetch_time", pa.timestamp("s", tz="UTC")),
        pa.field("reason", pa.string()),
        pa.field("screen_flags", pa.list_(pa.string())),
        pa.field(
            "screen_evidence",
            pa.list_(pa.struct([pa.field("rule", pa.string()), pa.field("evidence", pa.string())])),
        ),
        pa.field("text", pa.string()),
    ]
)


class QuarantineWriter:
    """A unit's quarantined documents in one Parquet file (created on the first one)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        names = table.schema.names
        columns = {
            name: table.column(name) if name in names else pa.nulls(table.num_rows, field.type)
            for name, field in zip(QUARANTINE_SCHEMA.names, QUARANTINE_SCHEMA)
        }
        out = pa.table(columns).cast(QUARANTINE_SCHEMA)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, QUARANTINE_SCHEMA, compression="zstd")
        self.writer.write_table(out)
        self.rows += out.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def publish_quarantine(output: str, unit_dirs: list[str], prefix: str) -> dict[str, Any] | None:
    """Publish a unit's quarantined documents (from each of its passes) as
    OUT/quarantine/<prefix>.parquet; the file's record for the manifest."""
    sources = [os.path.join(d, QUARANTINE_FILE) for d in unit_dirs if os.path.isfile(os.path.join(d, QUARANTINE_FILE))]
    if not sources:
        return None
    relative = os.path.join("quarantine", f"{prefix}.parquet")
    target = os.path.join(output, relative)
    if len(sources) == 1:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = temporary(target)
        shutil.copyfile(sources[0], tmp)
        os.replace(tmp, target)
    else:
        write_parquet_atomically(pa.concat_tables([read_parquet(s) for s in sources]), target)
    rows = pq.ParquetFile(target).metadata.num_rows
    return {"path": relative, "rows": rows, "bytes": os.path.getsize(target), "sha256": storage.sha256(target)}
