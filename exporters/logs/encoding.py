"""How the lines of a log written in a given encoding are found and decoded.

Counters work on UTF-8 bytes.  A UTF-8 log is handed to them as read (no copy,
no check); any other encoding is transcoded to UTF-8 and counted piece by piece
(complete lines, a few hundred KiB, so that the decoded text is counted while it
is in the CPU cache), so a level pattern matches the decoded text exactly.
Invalid bytes become U+FFFD and are counted (a real U+FFFD in the text is not).

- ASCII-compatible, stateless encodings (gbk, gb18030, big5, shift_jis, euc-*,
  latin-*, cp125x ...): byte 0x0A never occurs inside a character, lines end at
  b"\\n" as in UTF-8;
- utf-16 / utf-32 (with a byte order mark, little-endian without one) and their
  -le / -be forms: a line ends at a newline *code unit*, offsets stay aligned to
  code units and a partial code unit waits for the next read;
- anything else (stateful encodings such as iso2022-*, utf-7, hz; codecs that
  are not text encodings): rejected, rather than counted wrong.
"""

from __future__ import annotations

import codecs
import os
import threading
from collections import Counter
from collections.abc import Callable

ChunkCounter = Callable[[bytes], Counter]

ERROR_HANDLER = "aftercare-count-replace"
BYTE_ERROR_HANDLER = "aftercare-count-replace-byte"
_tls = threading.local()


def _count_and_replace(err: UnicodeError) -> tuple[str, int]:
    assert isinstance(err, UnicodeDecodeError)  # registered for decoding only
    _tls.errors = getattr(_tls, "errors", 0) + 1
    return "\ufffd", err.end


def _count_and_replace_one_byte(err: UnicodeError) -> tuple[str, int]:
    """Replace the first byte only and decode again from the next: a CJK decoder may report
    an invalid sequence that runs over a newline, which must stay a line end."""
    assert isinstance(err, UnicodeDecodeError)  # registered for decoding only
    _tls.errors = getattr(_tls, "errors", 0) + 1
    return "\ufffd", err.start + 1


codecs.register_error(ERROR_HANDLER, _count_and_replace)
codecs.register_error(BYTE_ERROR_HANDLER, _count_and_replace_one_byte)

_STATEFUL = (
    "iso2022",
    "hz",
    "utf-7",
    "unicode-escape",
    "raw-unicode-escape",
    "punycode",
    "idna",
    "mbcs",
    "oem",
    "undefined",
)
_WIDE = {"utf-16": 2, "utf-32": 4}
_ASCII = bytes(range(128))
PIECE_BYTES = 256 << 10  # decoded and counted a piece at a time, in the CPU cache


class UnsupportedEncoding(ValueError):
    """An encoding name Python does not know, or one whose lines cannot be followed."""


def canonical(name: str) -> str:
    """Python's own name for ``name``, e.g. 'GBK' -> 'gbk', 'UTF16' -> 'utf-16'."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise UnsupportedEncoding(
            f"unknown encoding {name!r}; expected a name Python's codecs "
            "know, e.g. utf-8, gbk, gb18030, big5, utf-16"
        ) from None
    if not getattr(info, "_is_text_encoding", True):
        raise UnsupportedEncoding(f"{name!r} is not a text encoding")
    return info.name.replace("_", "-")


class LineCodec:
    """UTF-8: lines end at b"\\n", chunks go to the counters unchanged."""

    unit = 1
    newline = b"\n"

    def __init__(self, name: str = "utf-8"):
        self.name = name

    def for_file(self, fd: int) -> LineCodec:
        """The codec for one file (the byte order mark decides for utf-16/utf-32)."""
        return self

    def last_line_end(self, data: bytes) -> int:
        """Offset just after the last newline of ``data``; 0 if there is none."""
        return data.rfind(b"\n") + 1

    def first_line_end(self, data: bytes) -> int:
        """Offset just after the first newline of ``data``; 0 if there is none."""
        return data.find(b"\n") + 1

    def cut(self, head: bytes) -> bytes:
        """The head of an over-long line, ending on a character boundary."""
        return head

    def count(
        self, lines: bytes, at_start: bool, counter: ChunkCounter
    ) -> tuple[Counter, int, int]:
        """(``counter``'s counts, lines, invalid sequences replaced) of complete lines;
        ``at_start`` when they are the first bytes of the file (a byte order mark is dropped)."""
        if at_start and lines.startswith(codecs.BOM_UTF8):
            lines = lines[3:]
        return counter(lines), lines.count(b"\n"), 0


class TranscodingCodec(LineCodec):
    """An ASCII-compatible encoding other than UTF-8: decoded, then re-encoded."""

    errors = BYTE_ERROR_HANDLER

    def __init__(self, name: str, decode_as: str | None = None):
        super().__init__(name)
        self.decode_as = decode_as or name

    def cut(self, head: bytes) -> bytes:
        decoder = codecs.getincrementaldecoder(self.decode_as)("replace")
        decoder.decode(head)
        pending = len(decoder.getstate()[0])
        return head[: len(head) - pending]

    def count(
        self, lines: bytes, at_start: bool, counter: ChunkCounter
    ) -> tuple[Counter, int, int]:
        if self.unit == 1 and lines.isascii():
            return counter(lines), lines.count(b"\n"), 0
        _tls.errors = 0
        counts: Counter[tuple] = Counter()
        n = 0
        for piece in self._pieces(lines):
            text = piece.decode(self.decode_as, self.errors)
            if at_start:
                text = text[1:] if text.startswith("\ufeff") else text
                at_start = False
            utf8 = text.encode("utf-8")
            counts.update(counter(utf8))
            n += utf8.count(b"\n")
        return counts, n, _tls.errors

    def _pieces(self, lines: bytes):
        """``lines`` in pieces of about PIECE_BYTES, each of complete lines."""
        pos, size = 0, len(lines)
        while pos < size:
            if size - pos <= PIECE_BYTES:
                end = size
            else:
                nl = lines.rfind(b"\n", pos, pos + PIECE_BYTES)
                if nl < 0:  # a line longer than a piece
                    nl = lines.find(b"\n", pos + PIECE_BYTES)
                end = size if nl < 0 else nl + 1
            yield lines[pos:end] if pos or end < size else lines
            pos = end


class WideCodec(TranscodingCodec):
    """utf-16 / utf-32 in one byte order: newlines and offsets in code units."""

    errors = ERROR_HANDLER  # its errors are whole code units

    def __init__(self, name: str, decode_as: str, unit: int):
        super().__init__(name, decode_as)
        self.unit = unit
        self.newline = "\n".encode(decode_as)

    def last_line_end(self, data: bytes) -> int:
        nl, unit = self.newline, self.unit
        i = data.rfind(nl)
        while i >= 0 and i % unit:
            i = data.rfind(nl, 0, i + unit - 1)
        return i + unit if i >= 0 else 0

    def first_line_end(self, data: bytes) -> int:
        nl, unit = self.newline, self.unit
        i = data.find(nl)
        while i >= 0 and i % unit:
            i = data.find(nl, i + 1)
        return i + unit if i >= 0 else 0

    def cut(self, head: bytes) -> bytes:
        return super().cut(head[: len(head) - len(head) % self.unit])

    def _pieces(self, lines: bytes):
        yield lines  # its decoder is fast; a b"\n" byte is no line end


class SniffingCodec(WideCodec):
    """utf-16 / utf-32: the byte order mark of each file decides, little-endian without one."""

    def __init__(self, name: str, unit: int):
        super().__init__(name, f"{name}-le", unit)
        self.orders = {order: WideCodec(name, f"{name}-{order}", unit) for order in ("le", "be")}
        self.big_bom = codecs.BOM_UTF16_BE if unit == 2 else codecs.BOM_UTF32_BE

    def for_file(self, fd: int) -> LineCodec:
        big = os.pread(fd, self.unit, 0) == self.big_bom
        return self.orders["be" if big else "le"]


def line_codec(name: str) -> LineCodec:
    """The codec to follow a log written in ``name``; UnsupportedEncoding if there is none."""
    canon = canonical(name)
    if canon in ("utf-8", "utf-8-sig"):
        return LineCodec(canon)
    family = canon[:6]
    if family in _WIDE:
        if canon == family:
            return SniffingCodec(canon, _WIDE[family])
        return WideCodec(canon, canon, _WIDE[family])
    if canon.startswith(_STATEFUL):
        raise UnsupportedEncoding(
            f"{name!r} is a stateful encoding whose lines cannot be followed one by one"
        )
    try:
        ascii_same = _ASCII.decode(canon) == _ASCII.decode("ascii")
    except UnicodeDecodeError:
        ascii_same = False
    if not ascii_same:
        raise UnsupportedEncoding(
            f"{name!r} does not write ASCII (and newlines) as ASCII; "
            "supported: ASCII-compatible encodings, utf-16, utf-32"
        )
    return TranscodingCodec(canon)


class Transcoded:
    """A chunk counter for complete lines in an ASCII-compatible ``encoding`` (whole-file
    counting, benchmarks): each chunk is transcoded, then counted by ``counter``."""

    def __init__(self, counter, encoding: str):
        self.counter, self.codec = counter, line_codec(encoding)
        if self.codec.unit != 1:
            raise UnsupportedEncoding(f"{encoding!r}: whole-file counting splits at b'\\n'")

    def __call__(self, chunk: bytes) -> Counter:
        return self.codec.count(chunk, False, self.counter)[0]
