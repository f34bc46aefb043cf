"""URL and domain block lists, by category: drops (or flags) pages whose host or URL is listed.

Why: FineWeb, FineWeb-2 and Dolma start with a URL filter on the UT1 lists (adult, gambling,
phishing, malware sites): a listed site's pages are not worth reading, so this stage can run first,
on the URL alone, before the language pre-pass and extraction.

Sources (``sources``: ``{path, format, category?, action?}``; ``blocklist_sources.py``):
- ``ut1``: the UT1 blacklists, a .tar.gz or folder (``<cat>/domains``, ``<cat>/urls``, or merged
  top-level ``domains``/``urls``); ``hosts``: hosts files; ``adblock``: ``||example.com^`` rules;
  ``domains``: one domain a line;
- ``curate``: this project's format, one entry a line (``#`` comments), each ``domain: D``,
  ``url: S`` or ``token: T``; the file name (without ``.txt``) is the category. The built-in
  lists in ``stages/lexicons/blocklist/`` (``builtin_lists``) and ``lists`` are in it.

Every source is compiled once, by the driver when the config is loaded, into a memory-mapped
index (``blocklist_index.py``) that workers load in milliseconds.

Matching:
- ``domain``: the page's host is D or a subdomain of D. Hosts and entries are compared in
  Unicode, lower-cased, without a trailing dot, so a punycode host (``xn--...``) matches an IDN
  entry and the reverse;
- URL prefixes (UT1 ``urls``): the page's ``host/path`` (percent-decoded, lower-cased, scheme,
  port, query and trailing slash removed) is the entry or starts with it followed by ``/``;
- ``url`` in curate's format: S is a substring of the percent-decoded, lower-cased URL;
- ``token``: T is a run of ASCII letters in the host (``duchang888.com`` has the token
  ``duchang``), or, for T of five letters or more, inside one: pinyin names are often run
  together (``aomenduchang``).

``allow`` domains (and their subdomains, e.g. ``gov.cn``) are never blocked. Each category's
action is its source's ``action``, then ``category_actions``, else the stage's ``action``.

Rules ``screen.blocked_domain``, ``screen.blocked_url``, ``screen.blocked_token``; evidence is
``category: entry``; the manifest counts documents per category (``hits``) and records every
source's sha256 and entry count (``blocklists``).
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from curate.config_schema import ConfigError, path_field
from curate.decoded_columns import column_values
from curate.stage import Reason, StageStats
from stages.screens.base import Action, Finding, ScreenStage
from stages.screens.blocklist_index import BlocklistIndex, SourceError, SourceSpec, build
from stages.screens.blocklist_sources import read_source, to_unicode_host, url_key

BUILTIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lexicons", "blocklist")
_LETTERS = re.compile(r"[a-z]+")
Format = Literal["ut1", "hosts", "adblock", "domains", "curate"]

__all__ = ["BlocklistScreen", "BlocklistScreenConfig", "read_list", "to_unicode_host"]


@dataclass
class BlocklistSourceConfig:
    path: str = field(default="", metadata=path_field(folders=True))
    """A list file, or for ``ut1`` a .tar.gz or folder."""
    format: Format = "curate"
    category: str | None = None
    """The category of its entries; default: UT1 folder names, else the file name."""
    action: Action | None = None
    """For this source's categories; default: ``category_actions``, then the stage's action."""

    def check(self, path: str) -> None:
        if not self.path:
            raise ConfigError(f"{path}.path", "required key is missing")


@dataclass
class CategoryActionConfig:
    category: str = ""
    action: Action = "drop"

    def check(self, path: str) -> None:
        if not self.category:
            raise ConfigError(f"{path}.category", "required key is missing")


HOSTS_CACHED = 65_536
"""Hosts whose verdicts a worker keeps (a few MB); past it the cache starts over."""


@dataclass
class BlocklistScreenConfig:
    action: Action = "drop"
    builtin_lists: bool = True
    lists: list[str] = field(default_factory=list, metadata=path_field())
    """More list files in curate's format; the file name (without .txt) is the category."""
    sources: list[BlocklistSourceConfig] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    """Domains never blocked, with their subdomains (e.g. ``gov.cn``, ``edu.cn``): they win."""
    category_actions: list[CategoryActionConfig] = field(default_factory=list)
    """Per category, drop or flag (a UT1 archive holds many categories)."""
    cache_dir: str = ""
    """Where compiled indexes live; default ``$CURATE_BLOCKLIST_CACHE`` or ``~/.cache/curate/blocklists``."""

    def check(self, path: str) -> None:
        if not self.builtin_lists and not self.lists and not self.sources:
            raise ConfigError(f"{path}.lists", "no block lists: set builtin_lists: true or give lists or sources")

    def specs(self) -> list[SourceSpec]:
        builtin = (
            sorted(os.path.join(BUILTIN_DIR, f) for f in os.listdir(BUILTIN_DIR) if f.endswith(".txt"))
            if self.builtin_lists
            else []
        )
        return [SourceSpec(p, "curate") for p in builtin + list(self.lists)] + [
            SourceSpec(s.path, s.format, s.category) for s in self.sources
        ]

    def check_files(self, path: str) -> None:
        """Every source parses, compiled here in the driver (or found in the cache): a wrong file
        fails at load time naming its key, and workers only memory-map the result."""
        keys = [f"{path}.lists[{i}]" for i in range(len(self.lists))]
        keys += [f"{path}.sources[{i}].path" for i in range(len(self.sources))]
        specs = self.specs()
        offset = len(specs) - len(keys)
        for key, spec in zip(keys, specs[offset:]):
            try:
                if not os.path.isdir(spec.path):
                    with open(spec.path, "rb") as handle:
                        handle.read(1)
                if spec.format != "ut1":
                    # its first entry now: a file that is no list at all fails before the long
                    # compile; a bad line further on fails in the compile, named the same way
                    next(iter(read_source(spec.path, spec.format, spec.category)), None)
            except OSError as error:
                raise ConfigError(key, f"cannot read {spec.path}: {error.strerror or error}") from None
            except ValueError as error:
                raise ConfigError(key, str(error)) from None
        try:
            load_index(tuple(specs), self.cache_dir)
        except SourceError as error:
            raise ConfigError(keys[error.number - offset] if error.number >= offset else path, str(error)) from None
        except OSError as error:
            raise ConfigError(f"{path}.cache_dir", f"cannot write the compiled lists: {error}") from None


@functools.lru_cache(maxsize=4)
def load_index(specs: tuple[SourceSpec, ...], cache_dir: str) -> BlocklistIndex:
    """The compiled index, built if no cache holds it; once per process."""
    return BlocklistIndex(build(specs, cache_dir or None))


def read_list(path: str) -> list[tuple[str, str]]:
    """(kind, entry) pairs of a list file in curate's format (ValueError naming file and line)."""
    return [("url" if kind == "substring" else kind, value) for kind, value, _ in read_source(path, "curate")]


def host_suffixes(host: str) -> list[str]:
    """``a.b.c`` → ``a.b.c``, ``b.c``, ``c``: the host first, so the most specific entry wins."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def url_prefixes(key: str) -> list[str]:
    """``host/a/b`` → ``host/a/b``, ``host/a`` (longest first; the bare host is the domain
    lists' business), and the same without a leading ``www.``."""
    parts = key.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(len(parts), 1, -1)]
    if parts[0].startswith("www."):
        prefixes += [p[4:] for p in prefixes]
    return prefixes


class BlocklistScreen(ScreenStage):
    name = "screen_blocklist"
    config_class = BlocklistScreenConfig
    reads = ("url",)

    def __init__(self, config: BlocklistScreenConfig) -> None:
        super().__init__(config)
        self.index = load_index(tuple(config.specs()), config.cache_dir)
        self.substrings: dict[str, str] = self.index.meta["substring"]
        self.tokens: dict[str, str] = self.index.meta["token"]
        self.long_tokens = [(t, c) for t, c in self.tokens.items() if len(t) >= 5]
        self.allow = {to_unicode_host(domain) for domain in config.allow}
        self.actions = self._actions(config)
        self._hits: Counter = Counter()
        self._hosts: dict[str, tuple[bool, list[Finding], list[Finding]] | None] = {}

    def _actions(self, config: BlocklistScreenConfig) -> dict[str, str]:
        actions = {c.category.lower(): c.action for c in config.category_actions}
        sources = self.index.meta["sources"][len(self.index.meta["sources"]) - len(config.sources) :]
        for source, recorded in zip(config.sources, sources):
            if source.action is not None:
                actions.update(dict.fromkeys(recorded.get("categories", []), source.action))
        return actions

    def action_of(self, rule: str, evidence: str = "") -> str:
        return self.actions.get(evidence.split(":", 1)[0], self.config.action)

    @classmethod
    def list_records(cls, config: Any) -> list[dict[str, Any]]:
        index = load_index(tuple(config.specs()), config.cache_dir)
        return [
            {
                "name": os.path.basename(s["path"].rstrip("/")),
                **{k: s[k] for k in ("path", "format", "category", "sha256", "entries")},
            }
            for s in index.meta["sources"]
        ]

    def _host(self, host: str) -> tuple[bool, list[Finding], list[Finding]]:
        """(allowed, domain finding, token finding) of a host: they depend on the host alone, and
        a crawl holds many pages per host, so each is looked up once (up to HOSTS_CACHED hosts)."""
        known = self._hosts.get(host)
        if known is not None:
            return known
        suffixes = host_suffixes(host) if host else []
        allowed = any(s in self.allow for s in suffixes)
        domain: list[Finding] = []
        hit = None if allowed else self.index.domain(suffixes)
        if hit is not None:
            domain.append(("screen.blocked_domain", f"{hit[0]}: {hit[1]}"))
        result = (allowed, domain, [] if allowed else self._token(host))
        if len(self._hosts) >= HOSTS_CACHED:
            self._hosts.clear()
        self._hosts[host] = result
        return result

    def match(self, url: str) -> list[Finding]:
        try:
            parts = urlsplit(url)
            host = to_unicode_host(parts.hostname or "")
        except ValueError:
            parts, host = None, ""
        allowed, domain, token = self._host(host)
        if allowed:
            return []
        found: list[Finding] = list(domain)
        decoded = unquote(url).lower()
        if parts is not None and host:
            hit = self.index.url(url_prefixes(url_key(host + unquote(parts.path))))
            if hit is not None:
                found.append(("screen.blocked_url", f"{hit[0]}: {hit[1]}"))
        substring = next(((e, c) for e, c in self.substrings.items() if e in decoded), None)
        if substring is not None and not any(rule == "screen.blocked_url" for rule, _ in found):
            found.append(("screen.blocked_url", f"{substring[1]}: {substring[0]}"))
        return found + token

    def _token(self, host: str) -> list[Finding]:
        tokens = _LETTERS.findall(host)
        hit = next(((t, self.tokens[t]) for t in tokens if t in self.tokens), None)
        if hit is None:
            hit = next(((t, c) for t, c in self.long_tokens if any(t in token for token in tokens)), None)
        return [] if hit is None else [("screen.blocked_token", f"{hit[1]}: {hit[0]} in {host}")]

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        findings = [self.match(url) if url else [] for url in column_values(batch, "url")]
        for found in findings:
            self._hits.update({text.split(":", 1)[0] for _, text in found})
        return findings, {}

    def failures(self, batch: pa.RecordBatch) -> tuple[dict[str, Any], list[list[Reason]]]:
        columns, failed = super().failures(batch)
        self._hits.clear()  # evaluation counts nothing into a run's stats
        return columns, failed

    def apply(self, batch: pa.RecordBatch, stats: StageStats) -> pa.RecordBatch:
        out = super().apply(batch, stats)
        stats.hits.update(self._hits)
        self._hits.clear()
        return out
