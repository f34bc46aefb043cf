"""A stage that breaks the run around one input, as infrastructure faults do (``tests/test_faults_run.py``).

On a batch from an input whose path contains ``source_contains`` it raises (a stage bug),
ends its worker process (a worker death) or takes memory until Ray's memory monitor
kills it (``memory``: up to ``memory_bytes``, held for a minute). Other inputs pass
through untouched; it drops nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from curate.decoded_columns import column_values
from curate.stage import Reason, Stage


@dataclass
class FaultConfig:
    source_contains: str = "broken"
    action: Literal["raise", "exit", "memory"] = "raise"
    memory_bytes: int = 4 << 30


class Fault(Stage):
    name = "fault"
    config_class = FaultConfig
    reads = ("source",)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        if any(self.config.source_contains in source for source in column_values(batch, "source")):
            self._fail()
        return {}, [None] * batch.num_rows

    def _fail(self) -> None:
        if self.config.action == "raise":
            raise RuntimeError("fault stage: a bug met this input")
        if self.config.action == "exit":
            os._exit(3)
        held = []
        for _ in range(self.config.memory_bytes >> 26):
            held.append(bytearray(1 << 26))  # zero-filled: every page is touched
            time.sleep(0.02)
        time.sleep(60)
