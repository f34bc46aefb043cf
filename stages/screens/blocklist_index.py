"""Block lists compiled once into sorted 64-bit hashes that every worker memory-maps.

Parsing UT1 (4.56 M domains, 124 MB of text) takes seconds and a Python set of it ~400 MB per
worker; the compiled form is two sorted ``uint64`` arrays (domains, URL prefixes) of
``blake2b-64`` hashes of the normalised entries and parallel ``uint16`` category arrays, ~45 MB,
loaded with ``np.load(mmap_mode="r")`` so workers on one machine share the page cache.

A lookup hashes each suffix of the host's labels (``a.b.example.com`` → ``example.com``,
``b.example.com``, ...) or each ``/`` prefix of ``host/path`` and binary-searches them. With 64-bit
hashes and n = 4.6 M entries, a key absent from the lists matches one by accident with
probability n / 2^64 ≈ 2.5e-13 per key (the "~1e-6" figure is the birthday bound for a pair
among all entries); we accept that rather than keep the 124 MB of raw entries to verify hits.

No library fits: ``adblock`` (Brave's engine) parses ABP network rules into a per-process
structure, not a shareable file; a Python ``set`` or a trie costs hundreds of MB per worker.

The folder lives under ``cache_root()/<key>``, ``key`` the sha256 of the compiler version and of
each source's bytes, format and category; written to a temporary folder, then renamed, so a
worker never sees half an index and concurrent builders do not clash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from stages.screens.blocklist_sources import read_source

COMPILER_VERSION = 3
"""Bump when an importer, the normalisation, the hash or the file layout changes: old caches then miss."""
CACHE_ENV = "CURATE_BLOCKLIST_CACHE"


def cache_root() -> str:
    """``$CURATE_BLOCKLIST_CACHE`` or ``~/.cache/curate/blocklists``."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "curate", "blocklists")


def hash_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def file_sha256(path: str) -> str:
    """A file's sha256, or for a folder (UT1 unpacked) one over its files' names and bytes."""
    digest = hashlib.sha256()
    paths = (
        sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
        if os.path.isdir(path)
        else [path]
    )
    for file in paths:
        if file != path:
            digest.update(os.path.relpath(file, path).encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class SourceError(ValueError):
    """A source that cannot be read or parsed; ``number`` is its position in the sources."""

    def __init__(self, number: int, path: str, error: BaseException) -> None:
        text = str(error) or type(error).__name__
        # parse errors name file and line already; archive and I/O errors name neither
        super().__init__(text if path in text else f"{path}: {text}")
        self.number = number


@dataclass(frozen=True)
class SourceSpec:
    """What the compiler needs of one configured source."""

    path: str
    format: str
    category: str | None = None


def index_key(sources: Sequence[SourceSpec], digests: Sequence[str]) -> str:
    parts = [f"v{COMPILER_VERSION}"] + [f"{d}|{s.format}|{s.category or ''}" for s, d in zip(sources, digests)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _sorted_unique(hashes: array, cats: array) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique hashes; a duplicate keeps the category of its first source (list order)."""
    keys = np.frombuffer(hashes, dtype=np.uint64) if len(hashes) else np.zeros(0, np.uint64)
    unique, first = np.unique(keys, return_index=True)
    return unique, np.frombuffer(cats, dtype=np.uint16)[first] if len(cats) else np.zeros(0, np.uint16)


def compile_entries(entries: Iterable[tuple[str, str, str]], folder: str) -> dict:
    """Write ``domains.npy``, ``domain_cats.npy``, ``urls.npy``, ``url_cats.npy`` to ``folder``;
    return the small parts (categories, curate ``url:`` substrings, tokens) and counts."""
    categories: dict[str, int] = {}
    # packed arrays, not lists: 4.6 M Python ints would cost ~300 MB more while compiling
    hashed = {kind: (array("Q"), array("H")) for kind in ("domain", "url")}
    small: dict[str, dict[str, str]] = {"substring": {}, "token": {}}
    for kind, value, category in entries:
        cat = categories.setdefault(category, len(categories))
        if kind in hashed:
            hashed[kind][0].append(hash_key(value))
            hashed[kind][1].append(cat)
        else:
            # curate's url: substrings and tokens: few, matched as text
            small[kind].setdefault(value, category)
    counts = {}
    for kind, name in (("domain", "domains"), ("url", "urls")):
        keys, cats = _sorted_unique(*hashed[kind])
        np.save(os.path.join(folder, f"{name}.npy"), keys)
        np.save(os.path.join(folder, f"{name[:-1]}_cats.npy"), cats)
        counts[name] = int(len(keys))
    return {"categories": list(categories), "counts": counts, **small}


def build(sources: Sequence[SourceSpec], root: str | None = None) -> str:
    """The index folder for ``sources``, compiled if no cache holds it; returns its path."""
    digests = [file_sha256(s.path) for s in sources]
    folder = os.path.join(root or cache_root(), index_key(sources, digests))
    if os.path.exists(os.path.join(folder, "meta.json")):
        return folder
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=".building-", dir=os.path.dirname(folder))
    os.chmod(temporary, 0o755)  # mkdtemp's 0700 would hide the index from other users' workers
    try:
        per_source: list[tuple[int, set[str]]] = []

        def entries() -> Iterable[tuple[str, str, str]]:
            for number, source in enumerate(sources):
                count, categories = 0, set()
                try:
                    for entry in read_source(source.path, source.format, source.category):
                        count += 1
                        categories.add(entry[2])
                        yield entry
                except (OSError, EOFError, ValueError, tarfile.TarError, zlib.error) as error:
                    raise SourceError(number, source.path, error) from None
                per_source.append((count, categories))

        meta = compile_entries(entries(), temporary)
        meta["version"] = COMPILER_VERSION
        meta["sources"] = [
            {
                "path": s.path,
                "format": s.format,
                "category": s.category,
                "sha256": d,
                "entries": n,
                "categories": sorted(c),
            }
            for s, d, (n, c) in zip(sources, digests, per_source)
        ]
        with open(os.path.join(temporary, "meta.json"), "w") as handle:
            json.dump(meta, handle, ensure_ascii=False)
        try:
            os.rename(temporary, folder)
        except OSError:
            if not os.path.exists(os.path.join(folder, "meta.json")):
                raise  # not another builder winning the race
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


class BlocklistIndex:
    """A compiled index, memory-mapped."""

    def __init__(self, folder: str) -> None:
        with open(os.path.join(folder, "meta.json")) as handle:
            self.meta = json.load(handle)
        self.folder = folder
        self.categories: list[str] = self.meta["categories"]
        load = lambda name: np.load(os.path.join(folder, name), mmap_mode="r")  # noqa: E731
        self.domains, self.domain_cats = load("domains.npy"), load("domain_cats.npy")
        self.urls, self.url_cats = load("urls.npy"), load("url_cats.npy")

    @staticmethod
    def _find(keys: np.ndarray, candidates: Sequence[str]) -> tuple[int, int] | None:
        """(index into ``candidates``, position in ``keys``) of the first candidate listed."""
        if not len(keys) or not candidates:
            return None
        hashes = np.fromiter((hash_key(c) for c in candidates), dtype=np.uint64, count=len(candidates))
        positions = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
        hits = np.flatnonzero(keys[positions] == hashes)
        return (int(hits[0]), int(positions[hits[0]])) if len(hits) else None

    def domain(self, suffixes: Sequence[str]) -> tuple[str, str] | None:
        """(category, suffix) of the first listed suffix (the host first, then its parents)."""
        return self._hit(self.domains, self.domain_cats, suffixes)

    def url(self, prefixes: Sequence[str]) -> tuple[str, str] | None:
        """(category, prefix) of the first listed ``host/path`` prefix."""
        return self._hit(self.urls, self.url_cats, prefixes)

    def _hit(self, keys: np.ndarray, cats: np.ndarray, candidates: Sequence[str]) -> tuple[str, str] | None:
        found = self._find(keys, candidates)
        if found is None:
            return None
        return self.categories[int(cats[found[1]])], candidates[found[0]]
