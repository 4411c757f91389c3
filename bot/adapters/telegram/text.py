"""Telegram HTML within Telegram's size limits: split on line boundaries, never inside markup.

Telegram rejects a message longer than 4096 characters and a photo caption longer than 1024
(both counted after entity parsing, in UTF-16 code units). We measure the *raw* HTML in UTF-16
code units, which is never shorter than what Telegram counts, so a chunk we accept is always
accepted by Telegram.

Splitting rules, in order of preference:

1. cut between lines (``"\\n"``);
2. a single line longer than a chunk is cut between words, then between characters — but
   never inside a tag (``<a href="…">``) or an entity (``&amp;``);
3. a tag left open at a cut (``<pre>`` spanning lines, ``<b>`` in a long line) is closed at
   the end of the chunk and re-opened, with its attributes, at the start of the next one, so
   every chunk is well-formed HTML on its own.
"""

from __future__ import annotations

import re

__all__ = ["CAPTION_LIMIT", "TEXT_LIMIT", "split_html", "utf16_len"]

#: longest message text Telegram accepts
TEXT_LIMIT = 4096
#: longest photo / media caption Telegram accepts
CAPTION_LIMIT = 1024

# tags, words (entities included), runs of blanks, and any stray character
_ATOM = re.compile(r"<[^>]*>|(?:[^<&\s]|&#?\w+;)+|[ \t]+|.", re.S)
# the pieces of a word that must stay whole: entities, and single characters
_GLYPH = re.compile(r"&#?\w+;|.", re.S)
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^>]*>")
_MARKUP = re.compile(r"<[^>]*>")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units — how Telegram counts (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


class _Chunker:
    """Greedy packer of HTML pieces into chunks, tracking the tags open at each point."""

    def __init__(self, limit: int, first_limit: int) -> None:
        self._limit = limit
        self._current_limit = first_limit
        self.chunks: list[str] = []
        self._open: list[tuple[str, str]] = []  # (tag name, opening tag text), outermost first
        self._parts: list[str] = []
        self._size = 0
        self._has_content = False

    def _closing(self, open_tags: list[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(open_tags))

    def _after(self, piece: str) -> list[tuple[str, str]]:
        """The open-tag stack after appending ``piece``."""
        stack = list(self._open)
        for match in _TAG.finditer(piece):
            closing, name = match.group(1) == "/", match.group(2).lower()
            if not closing:
                stack.append((name, match.group(0)))
                continue
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i]
                    break
        return stack

    def fits(self, piece: str) -> bool:
        stack = self._after(piece)
        return self._size + utf16_len(piece) + utf16_len(self._closing(stack)) <= (
            self._current_limit
        )

    def append(self, piece: str) -> None:
        self._open = self._after(piece)
        self._parts.append(piece)
        self._size += utf16_len(piece)
        self._has_content = self._has_content or bool(piece)

    @property
    def has_content(self) -> bool:
        return self._has_content

    def flush(self) -> None:
        """Close the chunk (closing its open tags) and start the next (re-opening them)."""
        body = "".join(self._parts) + self._closing(self._open)
        if _MARKUP.sub("", body).strip():
            self.chunks.append(body)
            self._current_limit = self._limit  # a chunk without visible text is not sent:
            # the first one sent still gets the first limit
        reopen = "".join(text for _, text in self._open)
        self._parts = [reopen]
        self._size = utf16_len(reopen)
        self._has_content = False

    def add_line(self, line: str) -> None:
        piece = ("\n" + line) if self._has_content else line
        if self.fits(piece):
            self.append(piece)
            return
        if self._has_content:
            self.flush()
            if self.fits(line):
                self.append(line)
                return
        self._hard_split(line)

    def _hard_split(self, line: str) -> None:
        for atom in _ATOM.findall(line):
            if atom.isspace() and not self._has_content:
                continue  # no leading blanks at a cut
            if self.fits(atom):
                self.append(atom)
                continue
            if self._has_content:
                self._cut()
                if atom.isspace():
                    continue
                if self.fits(atom):
                    self.append(atom)
                    continue
            for glyph in _GLYPH.findall(atom):  # a word longer than a whole chunk
                if not self.fits(glyph) and self._has_content:
                    self._cut()
                self.append(glyph)

    def _cut(self) -> None:
        """Flush inside a line, dropping the blanks the cut falls on."""
        while len(self._parts) > 1 and self._parts[-1].isspace():
            self._size -= utf16_len(self._parts.pop())
        self.flush()


def split_html(text: str, limit: int = TEXT_LIMIT, *, first_limit: int | None = None) -> list[str]:
    """Cut Telegram HTML into well-formed chunks of at most ``limit`` UTF-16 code units.

    ``first_limit`` caps the first chunk differently (a photo caption of 1024 followed by
    messages of 4096). Chunks with no visible text are dropped; ``""`` gives ``[]``.
    """
    if limit < 64 or (first_limit is not None and first_limit < 64):
        raise ValueError("limits below 64 code units cannot hold re-opened markup")
    chunker = _Chunker(limit, first_limit if first_limit is not None else limit)
    for line in text.split("\n"):
        chunker.add_line(line)
    chunker.flush()
    return chunker.chunks
