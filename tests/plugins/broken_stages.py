"""Stage classes a config must refuse, each for one reason (``tests/test_registry.py``)."""

from dataclasses import dataclass

from length_filter import LengthFilter


class NamedLikeABuiltin(LengthFilter):
    name = "policy"


class SameNameAsLengthFilter(LengthFilter):
    """A different class under the name ``length_filter`` already has."""


class ConfigNotADataclass(LengthFilter):
    name = "config_not_a_dataclass"
    config_class = dict


class ReadsNotATuple(LengthFilter):
    name = "reads_not_a_tuple"
    reads = "text"


@dataclass
class NotAStage:
    min_chars: int = 0


class Nameless(LengthFilter):
    name = None


class NeedsLanguage(LengthFilter):
    """Refused before ``langid``: nothing earlier writes ``lang``."""

    name = "needs_language"
    reads = ("text", "lang")
