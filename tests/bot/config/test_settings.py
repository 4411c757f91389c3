"""bot.config.settings: TOML + environment secrets → frozen settings, with readable problems."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.config.settings import (
    ENV_SECRETS,
    ConfigError,
    ExchangeSettings,
    Secret,
    Settings,
    check_config,
    format_duration,
    load_settings,
    parse_duration,
)
from core.models import TIMEFRAME_MS
from tests.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "config.example.toml"
TG_TOKEN = "123456789:AAF-telegram-secret-value_xyz"
DC_TOKEN = "discord.bot-token.secret-value"
WEBHOOK_SECRET = "webhook-token-secret-abcdefgh" + "_0123456789" * 4
WEBHOOK = f"https://discord.com/api/webhooks/420000000000000042/{WEBHOOK_SECRET}"
ALL_SECRETS = {
    "LIQWATCH__TELEGRAM__TOKEN": TG_TOKEN,
    "LIQWATCH__DISCORD__TOKEN": DC_TOKEN,
    "LIQWATCH__DISCORD__WEBHOOK_URL": WEBHOOK,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    return check_config(write(tmp_path, text), env or {})


# --- the example file ------------------------------------------------------------------------


def test_example_config_is_valid_and_states_the_code_defaults() -> None:
    assert check_config(EXAMPLE, {}) == []
    example, defaults = load_settings(EXAMPLE, {}), load_settings(None, {})
    for section in Settings.model_fields:
        if section != "exchanges":
            assert getattr(example, section) == getattr(defaults, section), section
    assert example.exchanges["binanceusdm"] == ExchangeSettings()


def _tables(model: type[BaseModel], prefix: str) -> dict[str, type[BaseModel]]:
    tables = {prefix: model}
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            tables |= _tables(field.annotation, f"{prefix}.{name}".strip("."))
    return tables


def _documented_keys() -> dict[str, list[str]]:
    """``table.key`` → the comment lines right above it, for every key line (commented or not)."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    documented: dict[str, list[str]] = {}
    table, comment = "", list[str]()
    for line in lines:
        header = re.fullmatch(r"\[([a-z_.]+)\]", line)
        key = re.fullmatch(r"#? ?([a-z_]+) = .*", line)
        if header:
            table = header.group(1)
        if key:
            documented[f"{table}.{key.group(1)}"] = comment
        comment = [*comment, line] if line.startswith("# ") and not key else []
    return documented


def test_example_config_documents_every_key_with_its_default() -> None:
    tables = _tables(Settings, "") | {"exchanges.binanceusdm": ExchangeSettings}
    secrets = {key for _, key in ENV_SECRETS.values()}
    expected = {
        f"{table}.{field.alias or name}"
        for table, model in tables.items()
        if table
        for name, field in model.model_fields.items()
        if name not in secrets and f"{table}.{name}" not in tables
    }
    documented = _documented_keys()
    assert expected - set(documented) == set()
    for key in expected:
        assert any("Default" in line for line in documented[key]), key


def test_no_file_means_all_defaults() -> None:
    settings = load_settings(None, {})
    assert settings.market.source == "sim"
    assert settings.market.lookback == 7 * 86_400_000
    assert settings.market.refresh.candles_every == 60_000
    assert settings.alerts.prints_window == 15 * 60_000
    assert settings.telegram.token is None
    assert settings.redactions() == []


# --- problems, each "dotted.key: what is wrong, what is allowed" ----------------------------


def test_unknown_key_lists_allowed_keys_and_suggests_the_close_one(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, '[market]\nsymbolz = ["BTC"]\n')
    assert problem.startswith("market.symbolz: unknown key, allowed keys here: source, exchanges")
    assert problem.endswith("did you mean symbols?")
    [problem] = problems(tmp_path, "[exchanges.okx]\ntimeout = 3\n")
    assert problem.startswith("exchanges.okx.timeout: unknown key, allowed keys here: api_base_url")
    assert "token" not in problems(tmp_path, "[telegram]\nenabld = true\n")[0].split("here:")[1]
    [problem] = problems(tmp_path, "[alertz]\n")
    assert problem.startswith("alertz: unknown key") and problem.endswith("did you mean alerts?")


def test_wrong_types_are_named_in_toml_terms(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[model]\nbins = "many"\nwindow = "wide"\n[telegram]\nadmin_ids = [1, "two"]\n'
        "[logging]\njson = 1\n[market]\nrefresh = 5\nlookback = 7\n",
    )
    assert found == [
        "market.lookback: expected a duration like '5m' or '7d', got 7",
        "market.refresh: expected a table, got 5",
        "model.bins: expected an integer, got 'many'",
        "model.window: expected a number, got 'wide'",
        "telegram.admin_ids[1]: expected an integer, got 'two'",
        "logging.json: expected true or false, got 1",
    ]


def test_choices_list_what_is_allowed(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[market]\ntimeframe = "7m"\nsource = "live"\nexchanges = ["binance"]\n'
        '[exchanges.kraken]\n[logging]\nlevel = "loud"\n',
    )
    assert found == [
        "market.source: 'live' is not a market source, use one of sim, ccxt, replay",
        "market.exchanges[0]: 'binance' is not a supported exchange, use one of binanceusdm, "
        "bybit, okx; did you mean binanceusdm?",
        f"market.timeframe: '7m' is not a timeframe, use one of {', '.join(TIMEFRAME_MS)}",
        "exchanges.kraken: 'kraken' is not a supported exchange, use one of binanceusdm, "
        "bybit, okx",
        "logging.level: 'LOUD' is not a log level, use one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ]


def test_ranges_and_cross_field_rules(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[market]\nsource = "replay"\nlookback = "2h"\nsymbols = []\n'
        "[market.refresh]\njitter = 0.7\n"
        "[model]\nleverage_weights = [0.5, 0.5]\n"
        '[discord]\ngateway_url = "https://gateway.discord.gg"\n',
    )
    assert "market.lookback: '2h' is out of range, use between 12h and 400d" in found
    assert "market.symbols: is empty, list at least one" in found
    assert "market.refresh.jitter: must be at most 0.5, got 0.7" in found
    assert "model.leverage_weights: has 2 weights for 6 leverage_tiers, give one per tier" in found
    assert any(
        p.startswith("discord.gateway_url: 'https://gateway.discord.gg' is not a URL")
        for p in found
    )
    assert not any(p.startswith("market.replay_dir") for p in found)  # the section had errors
    [problem] = problems(tmp_path, '[market]\nsource = "replay"\n')
    assert problem.startswith("market.replay_dir: required when source = 'replay'")
    [problem] = problems(
        tmp_path, f'[market]\nsource = "replay"\nreplay_dir = "{tmp_path / "nope"}"\n'
    )
    assert problem.startswith("market.replay_dir: ") and "is not a directory" in problem
    replay = load_settings(
        write(tmp_path, f'[market]\nsource = "replay"\nreplay_dir = "{tmp_path}"\n'), {}
    )
    assert replay.market.replay_dir == tmp_path


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = '[market]\ntimeframe = "7m"\nsymbolz = 1\n[model]\nbins = "many"\n[telegram]\nenabled = true\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {"LIQWATCH__TELEGRAM__TOKN": "x"})
    keys = [p.split(":")[0] for p in caught.value.problems]
    assert keys == [
        "LIQWATCH__TELEGRAM__TOKN",
        "market.timeframe",
        "market.symbolz",
        "model.bins",
        "telegram.enabled",
    ]
    assert "did you mean LIQWATCH__TELEGRAM__TOKEN?" in caught.value.problems[0]
    assert all(f"  - {p}" in str(caught.value) for p in caught.value.problems)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, '[market]\nsource = "sim"\nsymbols = [BTC]\n')
    assert problem.startswith("config.toml: line 3: ")
    assert "pydantic" not in problem


def test_missing_file(tmp_path: Path) -> None:
    [problem] = check_config(tmp_path / "absent.toml", {})
    assert problem.endswith("absent.toml: file not found")


def test_pydantic_text_never_leaks(tmp_path: Path) -> None:
    found = problems(tmp_path, '[model]\nbins = 5\nwindow = 1.5\n[alerts]\ncooldown = "8d"\n')
    assert found == [
        "model.bins: must be at least 10, got 5",
        "model.window: must be less than 1, got 1.5",
        "alerts.cooldown: '8d' is out of range, use between 0s and 7d",
    ]
    assert not any("Input should" in p or "errors.pydantic.dev" in p for p in found)


# --- secrets -----------------------------------------------------------------------------------


def test_enabled_platform_without_its_secret(tmp_path: Path) -> None:
    found = problems(tmp_path, "[telegram]\nenabled = true\n[discord]\nenabled = true\n")
    assert found == [
        "telegram.enabled: true but LIQWATCH__TELEGRAM__TOKEN is not set in the environment",
        "discord.enabled: true but neither LIQWATCH__DISCORD__TOKEN nor "
        "LIQWATCH__DISCORD__WEBHOOK_URL is set in the environment",
    ]
    webhook_only = {"LIQWATCH__DISCORD__WEBHOOK_URL": WEBHOOK, "LIQWATCH__TELEGRAM__TOKEN": "  "}
    assert problems(tmp_path, "[discord]\nenabled = true\n", webhook_only) == []


def test_secret_in_the_file_is_rejected(tmp_path: Path) -> None:
    found = problems(
        tmp_path, f'[telegram]\ntoken = "{TG_TOKEN}"\n[discord]\nwebhook_url = "{WEBHOOK}"\n'
    )
    assert found == [
        "telegram.token: secrets are not read from the file, remove it and set "
        "LIQWATCH__TELEGRAM__TOKEN in the environment",
        "discord.webhook_url: secrets are not read from the file, remove it and set "
        "LIQWATCH__DISCORD__WEBHOOK_URL in the environment",
    ]
    assert not any(TG_TOKEN in p or WEBHOOK in p for p in found)


def test_malformed_secrets(tmp_path: Path) -> None:
    env = {"LIQWATCH__TELEGRAM__TOKEN": "not a token", "LIQWATCH__DISCORD__WEBHOOK_URL": "nope"}
    found = problems(tmp_path, "", env)
    assert [p.split(":")[0] for p in found] == ["telegram.token", "discord.webhook_url"]
    assert not any(
        "not a token" in p.split(":", 1)[1].replace("is not a bot token", "") for p in found
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/42/webhook-token",  # id and token too short
        "https://discord.com/api/v10/webhooks/420000000000000042/" + "t" * 68,  # a version
        "https://example.com/api/webhooks/420000000000000042/" + "t" * 68,  # not Discord
        "ftp://discord.com/api/webhooks/420000000000000042/" + "t" * 68,
        "https://discord.com/channels/420000000000000042/" + "t" * 68,
    ],
)
def test_a_webhook_url_discord_py_would_refuse_is_refused_here(tmp_path: Path, url: str) -> None:
    (found,) = problems(tmp_path, "", {"LIQWATCH__DISCORD__WEBHOOK_URL": url})
    assert found.startswith(
        "discord.webhook_url: LIQWATCH__DISCORD__WEBHOOK_URL is not a Discord webhook URL, "
        "use https://discord.com/api/webhooks/<id>/<token>"
    )
    assert url not in found and "t" * 60 not in found  # the secret is not echoed


def test_the_webhook_url_discord_shows_is_accepted(tmp_path: Path) -> None:
    for host in ("discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"):
        url = f"https://{host}/api/webhooks/1234567890123456789/{WEBHOOK_SECRET}"
        assert problems(tmp_path, "", {"LIQWATCH__DISCORD__WEBHOOK_URL": url}) == []


def test_secrets_never_print(tmp_path: Path) -> None:
    path = write(tmp_path, "[telegram]\nenabled = true\n[discord]\nenabled = true\n")
    settings = load_settings(path, ALL_SECRETS)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == TG_TOKEN
    shown = " ".join(
        [
            repr(settings),
            str(settings),
            repr(settings.telegram),
            repr(settings.discord),
            str(settings.telegram.token),
            repr(settings.discord.webhook_url),
            f"{settings.discord.token}",
            str(settings.model_dump()),
            settings.model_dump_json(),
        ]
    )
    for secret in ALL_SECRETS.values():
        assert secret not in shown
    assert "webhook-token-secret-abcdefgh" not in shown
    assert str(Secret("x")) == "***" and repr(Secret("x")) == "Secret('***')"
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_redactions_list_every_secret_longest_first() -> None:
    redactions = load_settings(None, ALL_SECRETS).redactions()
    assert set(redactions) == {*ALL_SECRETS.values(), WEBHOOK_SECRET}
    assert [len(r) for r in redactions] == sorted((len(r) for r in redactions), reverse=True)


# --- immutability and lookups --------------------------------------------------------------------


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[exchanges.bybit]\ntimeout_s = 3\n"), {})
    with pytest.raises(ValidationError):
        settings.market.timeframe = "1m"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.market = settings.market  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.exchanges["okx"] = ExchangeSettings()  # type: ignore[index]
    assert isinstance(settings.market.symbols, tuple)
    assert isinstance(settings.model.leverage_tiers, tuple)


def test_exchange_lookup_and_normalised_values(tmp_path: Path) -> None:
    text = (
        '[market]\nsymbols = ["btc", "eth/usdt:usdt"]\n[logging]\nlevel = "debug"\njson = true\n'
        '[exchanges.bybit]\napi_base_url = "http://127.0.0.1:8080"\ntimeout_s = 3\n'
    )
    settings = load_settings(write(tmp_path, text), {})
    assert settings.market.symbols == ("BTC", "ETH/USDT:USDT")
    assert settings.logging.level == "DEBUG" and settings.logging.json_lines is True
    assert settings.exchange("bybit").api_base_url == "http://127.0.0.1:8080"
    assert settings.exchange("bybit").timeout_s == 3.0
    assert settings.exchange("okx") == ExchangeSettings()
    assert settings.model_dump()["exchanges"]["bybit"]["timeout_s"] == 3.0


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [("90s", 90_000), ("5m", 300_000), ("12h", 43_200_000), ("7d", 604_800_000),
     ("30d", 2_592_000_000), ("2w", 1_209_600_000), ("1h30m", 5_400_000), (" 15M ", 900_000)],
)  # fmt: skip
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "5", "m", "5 m", "1.5h", "-5m", "5x", "5mm", "h5"])
def test_parse_duration_rejects_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration, use a whole number with a unit"):
        parse_duration(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10**7))
def test_format_duration_reads_back(seconds: int) -> None:
    text = format_duration(seconds * 1000)
    assert parse_duration(text) == seconds * 1000
    assert "w" not in text


def test_example_is_plain_toml() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(data) <= set(Settings.model_fields)


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
