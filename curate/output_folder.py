"""The output folder is curate's only where curate says so: ownership, one run at a time, and
removing only what curate wrote.

- ``check_output``: before anything is written, refuse a folder curate does not own (it exists,
  holds files, and has neither curate's marker nor its work folder), one that is or contains an
  input, and the working directory, ``$HOME`` or ``/``;
- ``claim_output``: create the folder and its marker, then take an exclusive lock
  (``fcntl.flock`` on ``OUT/.curate-lock``, holder pid and host written in it) held until the run
  ends; a second run fails naming the holder. The kernel drops the lock when its process dies,
  so a killed run's lock is simply taken over;
- ``remove_written``: delete what curate writes in the folder (its work folder, manifest, report,
  dataset card, and the shard, quarantine and sample files by their names), never anything else.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from curate import __version__, storage
from curate.card import CARD, card_head, card_stamp
from curate.storage import is_uri
from curate.untrusted import UnsafeOutput, inside

MARKER = ".curate-output"
"""Written into every output folder curate creates or adopts; its presence means curate owns it."""
LOCK = ".curate-lock"
WORK = "_work"
TOP_FILES = ("manifest.json", "report.html", "profile.txt")
"""Files curate writes at the top of an output folder; and the dataset card (``CARD``, README.md),
which is removed only when ``curate card`` wrote it (``remove_card``): a README.md is a name people
give their own files too."""
# Names curate gives its published files (and their temporary names while being written):
# shards `<stem>-<8 hex>-<5 digits>.parquet`, quarantine `<stem>-<8 hex>.parquet`, samples.
_TMP = r"(\.tmp-[0-9a-f]+)?"
WRITTEN_NAMES = {
    "data": re.compile(rf"[^/.]+-[0-9a-f]{{8}}-\d{{5}}\.parquet{_TMP}"),
    "quarantine": re.compile(rf"[^/.]+-[0-9a-f]{{8}}\.parquet{_TMP}"),
    "samples": re.compile(rf"samples\.parquet{_TMP}"),
}


class OutputRefused(Exception):
    """The output folder cannot be used (nothing was touched); the CLI exits 2."""


def check_output(out: str, inputs: Iterable[str]) -> None:
    """Refuse ``out`` unless curate may write (and later delete) there; touches nothing."""
    folder = os.path.realpath(out)
    for name, forbidden in (("the working directory", os.getcwd()), ("$HOME", os.path.expanduser("~")), ("/", "/")):
        if folder == os.path.realpath(forbidden):
            raise OutputRefused(f"output folder {out} is {name}; give a folder of its own")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputRefused(f"output {out} exists and is not a folder")
    for path in inputs:
        if is_uri(path):
            continue
        if _within(os.path.realpath(path), folder):
            raise OutputRefused(f"output folder {out} contains the input {path}; write the output elsewhere")
    if os.path.isdir(folder) and os.listdir(folder) and not owned(folder):
        raise OutputRefused(
            f"output folder {out} exists and holds files curate did not write (no {MARKER} marker); "
            "give a new or empty folder"
        )


def owned(folder: str) -> bool:
    """Curate's marker is there, or the work folder of a curate that wrote no marker yet."""
    return os.path.isfile(os.path.join(folder, MARKER)) or os.path.isdir(os.path.join(folder, WORK, "units"))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class OutputLock:
    """The exclusive lock of one run on its output folder; released by ``release`` or at exit."""

    handle: IO[str]

    def release(self) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def claim_output(out: str) -> OutputLock:
    """Create ``out`` with curate's marker and lock it for this run (``OutputRefused`` if locked)."""
    os.makedirs(out, exist_ok=True)
    marker = os.path.join(out, MARKER)
    if not os.path.isfile(marker):
        with open(marker, "w", encoding="utf-8") as handle:
            json.dump({"written_by": "curate", "curate_version": __version__, "created_at": time.time()}, handle)
            handle.write("\n")
    handle = open(os.path.join(out, LOCK), "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read(500).strip() or "another process"
        handle.close()
        raise OutputRefused(f"output folder {out} is in use by another curate run ({holder})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
    handle.flush()
    return OutputLock(handle)


def remove_published(out: str) -> None:
    """The files a previous run published in data/, quarantine/ and samples/ (by curate's names);
    anything else there stays."""
    for folder, pattern in WRITTEN_NAMES.items():
        path = os.path.join(out, folder)
        if not os.path.isdir(path):
            continue
        for name in os.listdir(path):
            if pattern.fullmatch(name) and os.path.isfile(os.path.join(path, name)):
                os.remove(os.path.join(path, name))
        if not os.listdir(path):
            os.rmdir(path)


def remove_card(out: str) -> None:
    """``out/README.md`` (a local folder or a URI) when ``curate card`` wrote it: it describes a
    manifest that a run is about to replace, and a stale card must not be published with the new
    shards. A README.md without the card's stamp is someone's own and stays."""
    try:
        head = card_head(inside(out, CARD))
    except (UnsafeOutput, OSError):  # a folder of that name, a symlink out of the folder: not ours
        return
    if head is not None and card_stamp(head) is not None:
        storage.delete_file(storage.join(out, CARD))


def remove_written(out: str) -> None:
    """Everything curate writes in ``out`` (``--fresh``): work files, manifest, report, profile,
    dataset card and published files; the marker and lock stay, and so does anything curate did
    not write."""
    shutil.rmtree(os.path.join(out, WORK), ignore_errors=True)
    for name in TOP_FILES:
        if os.path.isfile(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    remove_card(out)
    remove_published(out)
