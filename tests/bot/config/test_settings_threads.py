"""bot.config.settings [[threads]]: the documented example, normalised values, named problems."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config.settings import load_settings
from tests.bot.config.settings_fixtures import EXAMPLE, problems, write

# --- [[threads]]: auto-posted thread channels ------------------------------------------------


def _threads_example() -> tuple[str, dict[str, list[str]]]:
    """The commented ``[[threads]]`` example, uncommented; and each key's comment lines."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [[threads]]")
    toml, documented, comment = ["[[threads]]"], dict[str, list[str]](), list[str]()
    for line in lines[start + 1 :]:
        key = re.fullmatch(r"# ([a-z_]+) = .*", line)
        if key:
            toml.append(line.removeprefix("# "))
            documented[key.group(1)] = comment
            comment = []
        else:
            comment.append(line)
    return "\n".join(toml) + "\n", documented


def test_threads_example_documents_every_key_and_is_valid(tmp_path: Path) -> None:
    from bot.config.settings import ThreadChannelSettings

    text, documented = _threads_example()
    assert set(documented) == set(ThreadChannelSettings.model_fields)
    for key, comment in documented.items():
        required = ThreadChannelSettings.model_fields[key].is_required()
        assert any(("Required" if required else "Default") in line for line in comment), key
    # "every" and "at" are alternatives: the example, uncommented, keeps the first
    text = re.sub(r"\nat = .*", "", text)
    settings = load_settings(write(tmp_path, text), {})
    (channel,) = settings.threads
    assert (channel.platform, channel.chat_id, channel.symbol) == (
        "telegram",
        "-1001234567890",
        "BTC",
    )
    assert channel.every == 6 * 3_600_000 and channel.at is None
    assert load_settings(None, {}).threads == ()


THREAD = '[[threads]]\nplatform = "telegram"\nchat_id = "-100"\nsymbol = "BTC"\n'


def test_threads_values_are_normalised(tmp_path: Path) -> None:
    text = '[[threads]]\nplatform = "discord"\nchat_id = 123456789012345678\nsymbol = "eth"\n'
    settings = load_settings(write(tmp_path, text + 'at = ["20:00", "8:05"]\n'), {})
    (channel,) = settings.threads
    assert channel.chat_id == "123456789012345678" and channel.symbol == "ETH"
    assert channel.at == ((8 * 60 + 5) * 60_000, 20 * 3_600_000)  # sorted, ms after midnight
    assert (channel.only_on_change, channel.min_change, channel.min_level_move) == (
        False,
        0.25,
        0.01,
    )


def test_threads_problems_name_the_entry(tmp_path: Path) -> None:
    assert problems(tmp_path, THREAD) == [
        'threads[0].every: neither every nor at set, give exactly one: every = "6h" or at = ["08:00"]'
    ]
    found = problems(tmp_path, THREAD + 'every = "6h"\nat = ["08:00"]\n')
    assert found == [
        'threads[0].every: both every and at set, give exactly one: every = "6h" or at = ["08:00"]'
    ]
    found = problems(
        tmp_path,
        '[[threads]]\nplatform = "slack"\nchat_id = "-1"\nsymbol = "BTC"\nevery = "1m"\n'
        'evry = 1\n[[threads]]\nplatform = "telegram"\nchat_id = "-1"\nsymbol = "BTC"\n'
        'at = ["25:00", "08:00", "08:00"]\nmin_change = 0\n',
    )
    assert found == [
        "threads[0].platform: 'slack' is not a chat platform, use one of telegram, discord",
        "threads[0].every: '1m' is out of range, use between 15m and 7d",
        "threads[0].evry: unknown key, allowed keys here: platform, chat_id, symbol, exchange, "
        "every, at, only_on_change, min_change, min_level_move; did you mean every?",
        "threads[1].at[0]: '25:00' is not a time of day, use HH:MM in UTC (e.g. '08:00')",
        "threads[1].min_change: must be greater than 0, got 0",
    ]
    [problem] = problems(tmp_path, THREAD + 'at = ["08:00", "8:00"]\n')
    assert problem == "threads[0].at: '08:00' is listed twice, list each once"


def test_threads_cross_checks(tmp_path: Path) -> None:
    twice = THREAD + 'every = "6h"\n' + THREAD.replace('"BTC"', '"btc"') + 'at = ["08:00"]\n'
    [problem] = problems(tmp_path, twice)
    assert problem == (
        "threads[1]: BTC for telegram chat -100 is already in threads[0], "
        "configure each channel and symbol once"
    )
    [problem] = problems(tmp_path, THREAD + 'every = "6h"\nexchange = "okx"\n')
    assert (
        problem
        == "threads[0].exchange: 'okx' is not watched, use one of market.exchanges: binanceusdm"
    )
