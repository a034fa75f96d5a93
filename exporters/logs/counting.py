"""Count log lines by level over large byte chunks with compiled regexes.

A level pattern counts the *lines* it matches somewhere, like a per-line
``re.search`` (and like mtail's ``/pattern/ { counter++ }``), but the work is
one C-level ``findall`` per pattern over a whole chunk of complete lines:
``(?:pattern)[^\\n]*()`` finds the leftmost match and then consumes the rest
of its line, so each matching line yields exactly one (empty) match.  A
pattern that could match across a newline (``\\s``, ``[^...]``, ``(?s)``...)
or match an empty line falls back to per-line search, so counts never depend on chunking.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

# constructs that may match "\n", or that anchor to the chunk rather than the line
_MAY_CROSS_LINES = re.compile(r"\\[sWDnZA]|\[\^|\(\?[a-zA-Z]*s|\\x0[aA]|\\012|\\u000[aA]|\n")

_LEADING_FLAGS = re.compile(rb"^(?:\(\?[aiLmsux]+\))+")


def line_regex(pattern: re.Pattern | str | bytes) -> re.Pattern:
    """A bytes regex, ``^``/``$`` meaning line start/end, from a config regex."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    if isinstance(source, str):
        source = source.encode("utf-8")
    flags = re.MULTILINE
    if isinstance(pattern, re.Pattern) and pattern.flags & re.IGNORECASE:
        flags |= re.IGNORECASE
    return re.compile(source, flags)


class LinePattern:
    """Counts the lines of a chunk that one pattern matches."""

    __slots__ = ("regex", "whole_chunk")

    def __init__(self, pattern: re.Pattern | str | bytes):
        self.regex = line_regex(pattern)
        if (
            _MAY_CROSS_LINES.search(self.regex.pattern.decode("utf-8", "replace"))
            or self.regex.search(b"") is not None
        ):  # may match an empty line
            self.whole_chunk = None
        else:
            body = _LEADING_FLAGS.sub(b"", self.regex.pattern)  # kept in .flags
            self.whole_chunk = re.compile(b"(?:" + body + rb")[^\n]*()", self.regex.flags)

    def count(self, chunk: bytes) -> int:
        if self.whole_chunk is not None:
            return len(self.whole_chunk.findall(chunk))
        search = self.regex.search
        lines = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            lines.pop()
        return sum(1 for line in lines if search(line))

    def __getstate__(self):
        return self.regex

    def __setstate__(self, regex):
        LinePattern.__init__(self, regex)


class LevelCounter:
    """Lines per level for one log source; each level counted independently."""

    def __init__(self, levels: Mapping[str, re.Pattern | str | bytes], metric: str):
        self.metric = metric
        self.levels = {name: LinePattern(p) for name, p in levels.items()}

    def __call__(self, chunk: bytes) -> Counter:
        out: Counter[tuple] = Counter()
        for name, pattern in self.levels.items():
            n = pattern.count(chunk)
            if n:
                out[(self.metric, name)] = n
        return out


class FirstTokenCounter:
    """Lines per severity where the severity is the first token a regex finds
    on the line (group 1), counting only the severities of interest."""

    def __init__(self, regex: bytes, wanted: Mapping[bytes, str], metric: str):
        self.metric = metric
        self.wanted = dict(wanted)  # raw token -> label value
        self.regex = re.compile(regex + rb"[^\n]*", re.MULTILINE)

    def __call__(self, chunk: bytes) -> Counter:
        out: Counter[tuple] = Counter()
        for token, n in Counter(self.regex.findall(chunk)).items():
            label = self.wanted.get(token)
            if label is not None:
                out[(self.metric, label)] += n
        return out
