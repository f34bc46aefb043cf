"""Importers for block list files: each yields ``(kind, entry, category)`` with ``kind`` one of
``domain``, ``url`` (a host + path prefix), ``substring`` (curate's ``url:``, anywhere in the URL)
or ``token``, entries normalised as the matcher wants.

Formats:
- ``ut1``: the UT1 blacklists (Université Toulouse 1, CC BY-SA 4.0) as a ``.tar.gz`` or a folder:
  category subfolders ``<cat>/domains`` and ``<cat>/urls``, or merged top-level ``domains`` and
  ``urls`` files (as datatrove bundles them; category = the source's ``category`` or ``ut1``);
- ``hosts``: hosts files, ``0.0.0.0 host`` or ``127.0.0.1 host1 host2`` (lines mapping a host to
  a real address, such as ``255.255.255.255 broadcasthost``, are no blocks and are skipped);
- ``adblock``: AdBlock / ABP domain rules ``||example.com^`` (options ``$important``, ``$all``,
  ``$document`` allowed); other rules (cosmetic, paths, exceptions, ``$third-party`` ...) are
  skipped, since only whole-domain rules say a site is bad;
- ``domains``: one domain per line;
- ``curate``: curate's own ``domain: D`` / ``url: S`` / ``token: T`` lines (``blocklist.py``).

Lines are read bounded and decoded one by one: a binary file given by mistake fails on its first
bad line (a ValueError naming file and line) without being read whole.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tarfile
from collections.abc import Iterable, Iterator
from typing import IO
from urllib.parse import unquote

from curate.config_schema import describe

FORMATS = ("ut1", "hosts", "adblock", "domains", "curate")
MAX_LINE_BYTES = 8192
"""Longer than any domain or URL entry."""
EXCERPT_CHARS = 16
"""Characters of a bad line an error quotes (escaped): enough to see what is wrong with an
entry, too few to leak much when the file is no list at all (a key file, a .env)."""
_ENTRY = re.compile(r"^(domain|url|token):\s*(\S.*?)\s*$")
_HOST = re.compile(r"^[^\s/:@]+$")
_ADBLOCK_SITE_OPTIONS = frozenset({"important", "all", "document", "doc"})
_HOSTS_ADDRESSES = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1", "::0"})
_HOSTS_SKIP = frozenset(
    {"localhost", "localhost.localdomain", "local", "broadcasthost", "0.0.0.0", "ip6-localhost", "ip6-loopback"}
)

Entry = tuple[str, str, str]


def to_unicode_host(host: str) -> str:
    """A host name lower-cased, without a trailing dot, with punycode labels decoded."""
    host = host.strip().lower().rstrip(".")
    if "xn--" not in host:
        return host  # the common case, 4.5 M times in UT1: no per-label work
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                pass  # not valid punycode: compare it as written
        labels.append(label)
    return ".".join(labels)


def url_key(url_without_scheme: str) -> str:
    """A URL prefix entry or a page's ``host/path`` as compared: host normalised as a domain,
    path lower-cased, trailing slash dropped (``example.com/a/`` and ``example.com/a`` agree)."""
    host, _, path = url_without_scheme.partition("/")
    host = to_unicode_host(host.split(":")[0])
    path = path.lower().rstrip("/")
    return f"{host}/{path}" if path else host


def lines(handle: IO[bytes], where: str) -> Iterator[tuple[str, str]]:
    """(line, "file:number") of a binary handle: stripped, comments and blanks skipped."""
    for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
        here = f"{where}:{number}"
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise ValueError(f"{here}: a line longer than {MAX_LINE_BYTES:,} bytes; not a block list?")
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ValueError(f"{here}: binary data, not UTF-8 text; not a block list?") from None
        if "\0" in line:
            raise ValueError(f"{here}: binary data, not UTF-8 text; not a block list?")
        if line and not line.startswith("#"):
            yield line, here


def _domain(value: str, here: str) -> str:
    if not _HOST.match(value):
        raise ValueError(f"{here}: expected a domain, got {describe(value, EXCERPT_CHARS)}")
    return to_unicode_host(value)


def parse_curate(handle: IO[bytes], where: str, category: str) -> Iterator[Entry]:
    for line, here in lines(handle, where):
        match = _ENTRY.match(line)
        if not match:
            raise ValueError(
                f"{here}: expected 'domain: ...', 'url: ...' or 'token: ...', got {describe(line, EXCERPT_CHARS)}"
            )
        kind, value = match.groups()
        if kind == "domain":
            yield kind, to_unicode_host(value), category
        else:
            # curate's url: entries match anywhere in the URL, unlike UT1's prefixes
            yield "substring" if kind == "url" else kind, value.lower(), category


def parse_domains(handle: IO[bytes], where: str, category: str) -> Iterator[Entry]:
    for line, here in lines(handle, where):
        yield "domain", _domain(line, here), category


def parse_urls(handle: IO[bytes], where: str, category: str) -> Iterator[Entry]:
    """UT1 ``urls`` files: host + path prefixes without a scheme."""
    for line, here in lines(handle, where):
        if any(c.isspace() for c in line):
            raise ValueError(f"{here}: expected a URL prefix, got {describe(line, EXCERPT_CHARS)}")
        # percent-decoded, as the page's path is when compared
        yield "url", url_key(unquote(line.split("://", 1)[-1])), category


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%lo0: an IPv6 zone
    except ValueError:
        return False
    return True


def parse_hosts(handle: IO[bytes], where: str, category: str) -> Iterator[Entry]:
    for line, here in lines(handle, where):
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or not _is_address(fields[0]):
            raise ValueError(f"{here}: expected '0.0.0.0 host', got {describe(line, EXCERPT_CHARS)}")
        if fields[0] not in _HOSTS_ADDRESSES:
            continue  # a real mapping (255.255.255.255 broadcasthost, ff02::1 ip6-allnodes): not a block
        for host in fields[1:]:
            if host.lower() not in _HOSTS_SKIP:
                yield "domain", _domain(host, here), category


def parse_adblock(handle: IO[bytes], where: str, category: str) -> Iterator[Entry]:
    for line, _ in lines(handle, where):
        if line.startswith("!") or line.startswith("["):
            continue  # ABP comments and the [Adblock Plus 2.0] header
        rule, _, options = line.partition("$")
        # whole-site rules only: $third-party and the like block a site's use elsewhere, not the site
        if options and not set(options.split(",")) <= _ADBLOCK_SITE_OPTIONS:
            continue
        if rule.startswith("||") and rule.endswith("^") and _HOST.match(rule[2:-1]):
            yield "domain", to_unicode_host(rule[2:-1]), category


def _ut1_members(path: str) -> Iterator[tuple[str, IO[bytes]]]:
    """(relative name, handle) of every ``domains`` / ``urls`` file of a UT1 tar.gz or folder."""
    if os.path.isdir(path):
        for root, _, files in sorted(os.walk(path)):
            for name in sorted(files):
                if name in ("domains", "urls"):
                    full = os.path.join(root, name)
                    with open(full, "rb") as handle:
                        yield os.path.relpath(full, path), handle
        return
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if member.isfile() and os.path.basename(member.name) in ("domains", "urls"):
                handle = archive.extractfile(member)
                if handle is not None:
                    yield member.name.lstrip("./"), handle


def parse_ut1(path: str, category: str | None) -> Iterator[Entry]:
    found = False
    for name, handle in _ut1_members(path):
        found = True
        parts = name.split("/")
        # <cat>/domains: the folder names the category; merged top-level files: the source's.
        cat = parts[-2].lower() if len(parts) >= 2 else (category or "ut1")
        parse = parse_domains if parts[-1] == "domains" else parse_urls
        yield from parse(handle, f"{path}:{name}", cat)
    if not found:
        raise ValueError(f"{path}: no 'domains' or 'urls' file (UT1 layout: <category>/domains, <category>/urls)")


def read_source(path: str, fmt: str, category: str | None = None) -> Iterable[Entry]:
    """Every entry of one source. A plain file's category defaults to its name without suffix."""
    if fmt == "ut1":
        return parse_ut1(path, category)
    parser = {
        "hosts": parse_hosts,
        "adblock": parse_adblock,
        "domains": parse_domains,
        "curate": parse_curate,
    }.get(fmt)
    if parser is None:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return _read_file(path, parser, category or os.path.basename(path).split(".")[0].lower())


def _read_file(path: str, parser, category: str) -> Iterator[Entry]:  # noqa: ANN001 - one of the parse_* above
    with open(path, "rb") as handle:
        yield from parser(handle, path, category)
