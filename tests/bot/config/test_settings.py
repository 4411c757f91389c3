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
    Settings,
    check_config,
    format_duration,
    load_settings,
    parse_duration,
)
from core.models import TIMEFRAME_MS
from tests.bot.config.settings_fixtures import EXAMPLE, problems, write

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
