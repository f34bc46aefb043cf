"""URL and domain block lists, by category.

List files have one entry per line (``#`` comments), each ``domain: D``,
``url: S`` or ``token: T``; the file name (without ``.txt``) is the category.
The built-in lists in ``stages/lexicons/blocklist/`` are small and written for
this project; add your own (for example UT1 categories converted to this
format) with ``lists``.

Matching:
- ``domain``: the page's host is D or a subdomain of D. Hosts and entries are
  compared in Unicode, so a punycode host (``xn--...``) matches an IDN entry
  and the reverse;
- ``url``: S is a substring of the percent-decoded, lower-cased URL;
- ``token``: T is a run of ASCII letters in the host (``duchang888.com`` has the
  token ``duchang``), or, for T of five letters or more, inside one: pinyin
  names are often run together (``aomenduchang``).

Rules ``screen.blocked_domain``, ``screen.blocked_url``, ``screen.blocked_token``;
evidence is the category and the matched entry.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from curate.config_schema import ConfigError, path_field
from curate.decoded_columns import column_values
from stages.screens.base import Action, Finding, ScreenStage

BUILTIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lexicons", "blocklist")
_ENTRY = re.compile(r"^(domain|url|token):\s*(\S.*?)\s*$")
_LETTERS = re.compile(r"[a-z]+")


@dataclass
class BlocklistScreenConfig:
    action: Action = "drop"
    builtin_lists: bool = True
    lists: list[str] = field(default_factory=list, metadata=path_field())
    """More list files; the file name (without .txt) is the category."""

    def check(self, path: str) -> None:
        for i, list_path in enumerate(self.lists):
            try:
                read_list(list_path)
            except ValueError as error:
                raise ConfigError(f"{path}.lists[{i}]", str(error)) from None
        if not self.builtin_lists and not self.lists:
            raise ConfigError(f"{path}.lists", "no block lists: set builtin_lists: true or give lists")


def to_unicode_host(host: str) -> str:
    """A host name lower-cased, without a trailing dot, with punycode labels decoded."""
    host = host.strip().lower().rstrip(".")
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                pass  # not valid punycode: compare it as written
        labels.append(label)
    return ".".join(labels)


def read_list(path: str) -> list[tuple[str, str]]:
    """(kind, entry) pairs of a list file; a line that is not an entry is an error naming the line."""
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = _ENTRY.match(line)
            if not match:
                raise ValueError(f"{path}:{number}: expected 'domain: ...', 'url: ...' or 'token: ...', got {line!r}")
            kind, value = match.groups()
            value = to_unicode_host(value) if kind == "domain" else value.lower()
            entries.append((kind, value))
    return entries


@functools.lru_cache(maxsize=4)
def load_lists(files: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Per kind, entry → category; built once per worker process."""
    table: dict[str, dict[str, str]] = {"domain": {}, "url": {}, "token": {}}
    for path in files:
        category = os.path.basename(path).split(".")[0].lower()
        for kind, value in read_list(path):
            table[kind].setdefault(value, category)
    return table


class BlocklistScreen(ScreenStage):
    name = "screen_blocklist"
    config_class = BlocklistScreenConfig
    reads = ("url",)

    def __init__(self, config: BlocklistScreenConfig) -> None:
        super().__init__(config)
        builtin = (
            sorted(os.path.join(BUILTIN_DIR, f) for f in os.listdir(BUILTIN_DIR) if f.endswith(".txt"))
            if config.builtin_lists
            else []
        )
        self.lists = load_lists(tuple(builtin + list(config.lists)))
        self.long_tokens = [(t, c) for t, c in self.lists["token"].items() if len(t) >= 5]

    def match(self, url: str) -> list[Finding]:
        found: list[Finding] = []
        try:
            host = to_unicode_host(urlsplit(url).hostname or "")
        except ValueError:
            host = ""
        labels = host.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            if suffix in self.lists["domain"]:
                found.append(("screen.blocked_domain", f"{self.lists['domain'][suffix]}: {suffix}"))
                break
        decoded = unquote(url).lower()
        for entry, category in self.lists["url"].items():
            if entry in decoded:
                found.append(("screen.blocked_url", f"{category}: {entry}"))
                break
        tokens = _LETTERS.findall(host)
        hit = next(((t, self.lists["token"][t]) for t in tokens if t in self.lists["token"]), None)
        if hit is None:
            hit = next(((t, c) for t, c in self.long_tokens if any(t in token for token in tokens)), None)
        if hit is not None:
            found.append(("screen.blocked_token", f"{hit[1]}: {hit[0]} in {host}"))
        return found

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        return [self.match(url) if url else [] for url in column_values(batch, "url")], {}
