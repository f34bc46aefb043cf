"""End the run with a clear error when the raylet of the Ray this run started dies.

Without a raylet the driver cannot finish: Ray's core worker ends the process on its own,
tens of seconds later and without a word from curate. A daemon thread watches the raylet
(a child of this process) and, when it is gone, prints curate's ``error:`` line and exits 1.
Nothing that looks finished is left: the manifest is written only at the end of a run, and
the output lock goes with the process.
"""

from __future__ import annotations

import os
import sys
import threading

POLL_SECONDS = 0.5


def child_pids(name: str, parent: int | None = None) -> list[int]:
    """Processes started by ``parent`` (default: this one) whose command name is ``name`` (Linux /proc)."""
    parent = parent or os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _parent_and_state(int(entry))[0] == parent:
            try:
                with open(f"/proc/{entry}/comm", encoding="utf-8") as handle:
                    if handle.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _parent_and_state(pid: int) -> tuple[int | None, str]:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            stat = handle.read()
    except OSError:
        return None, "gone"
    # The command name in parentheses may hold spaces; the fields after it are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0]


def alive(pid: int) -> bool:
    return _parent_and_state(pid)[1] not in ("gone", "Z", "X")


def watch_local_raylet() -> threading.Event:
    """Start watching the raylet this process started (nothing to watch without /proc); set the
    returned event before shutting Ray down."""
    stop = threading.Event()
    raylets = child_pids("raylet") if os.path.isdir("/proc") else []
    if raylets:
        threading.Thread(target=_watch, args=(raylets[0], stop), name="curate-raylet-watch", daemon=True).start()
    return stop


def _watch(pid: int, stop: threading.Event) -> None:
    while not stop.wait(POLL_SECONDS):
        if not alive(pid) and not stop.is_set():
            sys.stderr.write(
                f"error: run failed: the local Ray's raylet (pid {pid}) died; no manifest was written. "
                "Re-run the same command to resume (completed inputs are kept).\n"
            )
            sys.stderr.flush()
            os._exit(1)
