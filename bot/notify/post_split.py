"""Fitting text into post limits: cutting at the best break, and X's weighted length.

:func:`split_text` cuts a too-long text at line breaks, else sentence ends, else clause
ends, else between words (never inside a number such as ``$3.4B`` or ``12:1``), with any
measure of length; :func:`x_length` measures as X does (a URL is 23, wide characters 2),
against :data:`X_LIMIT`. :mod:`bot.notify.threads` fits its posts with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

__all__ = ["X_LIMIT", "split_text", "x_length"]

#: Characters per post on X (weighted, see :func:`x_length`).
X_LIMIT: Final = 280
_URL: Final = re.compile(r"https?://\S+")
#: Code points X counts once; everything else (emoji, CJK, most symbols) counts twice.
_X_SINGLE: Final = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_URL_WEIGHT: Final = 23


def x_length(text: str) -> int:
    """Length of ``text`` as X counts it: a URL is 23, wide characters (``→``, emoji) 2."""
    total = 0
    for url in _URL.findall(text):
        total += _X_URL_WEIGHT
        text = text.replace(url, "", 1)
    for char in text:
        code = ord(char)
        total += 1 if any(lo <= code <= hi for lo, hi in _X_SINGLE) else 2
    return total


#: Where a too-long post may break, best first: a line break, a sentence end, a clause
#: end, a space. A number (``$3.4B``, ``12:1``, ``+2.1%``) has no space after its point or
#: colon, so it is never cut.
_BREAKS: Final = (
    re.compile(r"\n+"),
    re.compile(r"(?<=[.!?]) +"),
    re.compile(r"(?<=[:;,]) +"),
    re.compile(r" +"),
)


def _segments(text: str, separator: re.Pattern[str]) -> list[str]:
    """``text`` cut after each ``separator``; every piece keeps the separator that ends it."""
    pieces: list[str] = []
    start = 0
    for match in separator.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _pack(pieces: Sequence[str], limit: int, measure: Callable[[str], int]) -> list[str]:
    """Greedily join consecutive pieces into chunks of at most ``limit`` (ends stripped)."""
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current.strip() and measure((current + piece).rstrip()) > limit:
            chunks.append(current.rstrip())
            current = piece
        else:
            current += piece
    if current.strip():
        chunks.append(current.rstrip())
    return chunks


def _hard_cut(word: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    """A single word longer than ``limit`` in pieces (a last resort, never a number here)."""
    pieces: list[str] = []
    while measure(word) > limit:
        cut = len(word)
        while cut > 1 and measure(word[:cut]) > limit:
            cut -= 1
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word] if word else pieces


def _pieces(text: str, limit: int, measure: Callable[[str], int], level: int) -> list[str]:
    """``text`` cut at the best break level that brings every piece within ``limit``."""
    if measure(text.rstrip()) <= limit:
        return [text]
    if level == len(_BREAKS):
        cut = _hard_cut(text.rstrip(), limit, measure)
        cut[-1] += text[len(text.rstrip()) :]  # keep the space before the next piece
        return cut
    out: list[str] = []
    for segment in _segments(text, _BREAKS[level]):
        out.extend(_pieces(segment, limit, measure, level + 1))
    return out


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """``text`` in chunks of at most ``limit``: at line breaks, else sentence ends, else
    clause ends, else between words.

    Separators are kept inside a chunk and dropped at its ends, so joined chunks read as
    the original text; a word (``$3.4B``, ``12:1``) is never cut unless it alone exceeds
    ``limit``.
    """
    text = text.strip()
    if not text:
        return []
    return _pack(_pieces(text, limit, measure, 0), limit, measure)
