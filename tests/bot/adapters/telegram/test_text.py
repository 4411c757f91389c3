"""Telegram HTML splitting: chunks fit, stay well-formed, and lose nothing but blanks at cuts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.adapters.telegram.text import split_html, utf16_len
from tests.fakes.fake_telegram import visible_html


def test_cuts_between_lines_when_lines_fit() -> None:
    lines = [f"<b>row {i}</b> &amp; more text" for i in range(30)]
    text = "\n".join(lines)
    limit = 100
    chunks = split_html(text, limit)
    assert len(chunks) > 1
    assert "\n".join(chunks) == text  # exactly between lines: nothing added, nothing lost
    assert all(utf16_len(c) <= limit for c in chunks)


def test_open_block_is_closed_and_reopened_at_a_cut() -> None:
    text = (
        '<pre><code class="language-text">'
        + "\n".join(f"{i:>6}" for i in range(40))
        + "</code></pre>"
    )
    chunks = split_html(text, 120)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.startswith('<pre><code class="language-text">')
        assert chunk.endswith("</code></pre>")
        visible_html(chunk)


def test_long_line_is_cut_between_words_never_inside_an_entity() -> None:
    text = " ".join(["a&amp;b"] * 100)
    chunks = split_html(text, 64)
    assert all(utf16_len(c) <= 64 for c in chunks)
    for chunk in chunks:
        assert chunk.startswith("a&amp;b") and chunk.endswith("a&amp;b")


def test_emoji_count_as_two_units_and_first_limit_applies() -> None:
    text = "😀" * 100
    chunks = split_html(text, 80, first_limit=64)
    assert [utf16_len(c) for c in chunks] == [64, 80, 56]
    assert "".join(chunks) == text


def test_empty_and_invalid_limits() -> None:
    assert split_html("") == []
    assert split_html("\n \n") == []
    with pytest.raises(ValueError):
        split_html("x", 10)


_LINES = st.lists(
    st.one_of(
        st.text(alphabet="ab &<>é😀", max_size=40).map(
            lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        ),
        st.text(alphabet="xyz ", min_size=1, max_size=300).map(lambda s: f"<b>{s}</b>"),
        st.just("<pre>"),
        st.just("</pre>"),
        st.just('<a href="https://x.test/?a=1&amp;b=2">link</a>'),
    ),
    max_size=60,
)


def _balanced(lines: Sequence[str]) -> list[str]:
    out: list[str] = []
    open_pre = False
    for line in lines:
        if line in ("<pre>", "</pre>"):
            if (line == "<pre>") == open_pre:
                continue
            open_pre = not open_pre
        out.append(line)
    return [*out, "</pre>"] if open_pre else out


@example(
    # a first chunk of markup only is dropped: the next one must still fit the first limit
    lines=[
        "<pre>",
        "</pre>",
        "<pre>",
        *['<a href="https://x.test/?a=1&amp;b=2">link</a>'] * 2,
        "</pre>",
    ],
    limit=104,
    first=64,
)
@given(lines=_LINES.map(_balanced), limit=st.integers(64, 400), first=st.integers(64, 200))
def test_chunks_fit_and_are_well_formed(lines: list[str], limit: int, first: int) -> None:
    text = "\n".join(lines)
    chunks = split_html(text, limit, first_limit=first)
    shown = []
    for i, chunk in enumerate(chunks):
        assert utf16_len(chunk) <= (first if i == 0 else limit)
        shown.append(visible_html(chunk))  # raises like Telegram on broken tags or entities
    assert "".join("".join(shown).split()) == "".join(visible_html(text).split())
