"""Inline keyboards: callback data within 64 bytes, long lines behind expiring keys."""

from __future__ import annotations

from bot.adapters.telegram.buttons import CALLBACK_DATA_LIMIT, CallbackData, keyboard
from bot.reply import Button


def test_short_lines_travel_as_themselves() -> None:
    data = CallbackData()
    assert data.encode("/heatmap BTC 7d all") == "/heatmap BTC 7d all"
    assert data.decode("/heatmap BTC 7d all") == "/heatmap BTC 7d all"


def test_long_lines_get_short_keys_until_evicted() -> None:
    data = CallbackData(capacity=2)
    long_lines = [f"/cascade BTC 7d {'y' * 70} {i}" for i in range(3)]
    keys = [data.encode(line) for line in long_lines]
    assert len(set(keys)) == 3
    assert all(len(k.encode()) <= CALLBACK_DATA_LIMIT for k in keys)
    assert data.decode(keys[2]) == long_lines[2]
    assert data.decode(keys[0]) is None  # evicted: the button has expired
    assert data.encode(long_lines[2]) == keys[2]  # the same line keeps its key
    # a multi-byte line: 30 characters but more than 64 bytes
    assert len(data.encode("/levels " + "é" * 30).encode()) <= CALLBACK_DATA_LIMIT


def test_keyboard_marks_the_selected_option() -> None:
    rows = ((Button("1d", "/heatmap BTC 1d"), Button("7d", "/heatmap BTC 7d", selected=True)), ())
    markup = keyboard(rows, CallbackData())
    assert markup is not None
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [["1d", "• 7d"]]
    assert markup.inline_keyboard[0][1].callback_data == "/heatmap BTC 7d"
    assert keyboard((), CallbackData()) is None
