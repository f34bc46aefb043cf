"""A stage that breaks the run around one input, as infrastructure faults do (``tests/test_faults_run.py``).

On a batch from an input whose path contains ``source_contains`` it raises (a stage bug),
ends its worker process (a worker death) or takes memory until Ray's memory monitor
kills it (``memory``: until the machine's use passes the monitor's threshold, at most
``memory_bytes``, held for a minute). Other inputs pass through untouched; it drops nothing.
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
            if node_memory_use() > _kill_threshold() + 0.02:
                break  # past the memory monitor's threshold, whatever else the machine does meanwhile
            held.append(bytearray(1 << 26))  # zero-filled: every page is touched
            time.sleep(0.02)
        time.sleep(60)


def _kill_threshold() -> float:
    """The share of the node's memory at which Ray's memory monitor kills (1.0: never)."""
    return float(os.environ.get("RAY_memory_usage_threshold", "1.0"))


def node_memory_use() -> float:
    """The share of the machine's memory in use, as Ray's memory monitor counts it."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        available = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable:"))
    return 1 - available / total
