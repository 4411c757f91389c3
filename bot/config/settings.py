"""Settings: one TOML file plus secrets from the environment → frozen, validated settings.

The file (see ``config.example.toml``) holds everything that is not a secret. Every key has a
default, so an empty file — or no file — is a working offline setup (simulated market, no chat
platforms). Secrets come only from the environment (:data:`ENV_SECRETS`):

* ``LIQWATCH__TELEGRAM__TOKEN`` — the Telegram bot token,
* ``LIQWATCH__DISCORD__TOKEN`` — the Discord bot token,
* ``LIQWATCH__DISCORD__WEBHOOK_URL`` — a Discord webhook URL (it embeds a token).

Validation happens once, at start-up, and reports *every* problem at once, each as
``dotted.key: what is wrong, what is allowed``. Unknown keys are errors with a "did you mean"
hint, so a typo never silently falls back to a default; so is an unknown ``LIQWATCH__*``
variable. Durations are written as text (``"90s"``, ``"5m"``, ``"12h"``, ``"7d"``, ``"1h30m"``)
and held as integer milliseconds. Relative paths are relative to the working directory.

Usage::

    settings = load_settings(Path("config.toml"))      # raises ConfigError
    settings.market.lookback                            # 604_800_000 (7 days in ms)
    settings.telegram.token                             # Secret('***') or None
    settings.telegram.token.get_secret_value()          # the only way to read a secret
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    WrapSerializer,
    model_validator,
)

from bot.config.fields import (
    EXCHANGE_IDS,
    AsTuple,
    DurationRange,
    ExchangeId,
    FieldProblems,
    Fraction,
    HttpUrl,
    Loc,
    Secret,
    Section,
    Symbol,
    Timeframe,
    Unique,
    describe_errors,
    did_you_mean,
    format_duration,
    parse_duration,
)
from bot.config.model import ModelSettings
from bot.config.platforms import DiscordSettings, TelegramSettings
from bot.config.threads import ThreadChannelSettings

__all__ = [
    "ENV_SECRETS",
    "EXCHANGE_IDS",
    "AlertSettings",
    "ArchiveSettings",
    "ConfigError",
    "DiscordSettings",
    "ExchangeId",
    "ExchangeSettings",
    "LoggingSettings",
    "MarketSettings",
    "ModelSettings",
    "RefreshSettings",
    "Secret",
    "Settings",
    "StorageSettings",
    "TelegramSettings",
    "ThreadChannelSettings",
    "check_config",
    "format_duration",
    "load_settings",
    "parse_duration",
]

#: Environment variable → (section, key) of the secret it provides.
ENV_SECRETS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "LIQWATCH__TELEGRAM__TOKEN": ("telegram", "token"),
        "LIQWATCH__DISCORD__TOKEN": ("discord", "token"),
        "LIQWATCH__DISCORD__WEBHOOK_URL": ("discord", "webhook_url"),
    }
)
_ENV_PREFIX: Final = "LIQWATCH__"
_S, _M, _H, _D = 1_000, 60_000, 3_600_000, 86_400_000


class ConfigError(Exception):
    """Invalid configuration; ``problems`` holds ``key: what is wrong, what is allowed`` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _frozen_mapping(value: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(value)


def _mapping_as_dict(value: Mapping[str, Any], handler: SerializerFunctionWrapHandler) -> Any:
    return handler(dict(value))


class RefreshSettings(Section):
    """How often the scheduler re-fetches each kind of market data ([market.refresh])."""

    candles_every: Annotated[int, DurationRange(_S)] = _M
    book_every: Annotated[int, DurationRange(_S)] = _M
    prints_every: Annotated[int, DurationRange(_S)] = _M
    #: each wait is stretched by a random factor in [1 - jitter, 1 + jitter]
    jitter: Annotated[float, Field(ge=0, le=0.5)] = 0.1


class MarketSettings(Section):
    """Which markets to watch and where their data comes from ([market])."""

    source: Literal["sim", "ccxt", "replay"] = "sim"
    exchanges: Annotated[tuple[ExchangeId, ...], AsTuple, Unique] = ("binanceusdm",)
    symbols: Annotated[tuple[Symbol, ...], AsTuple, Unique] = ("BTC", "ETH", "SOL")
    timeframe: Timeframe = "5m"
    lookback: Annotated[int, DurationRange(12 * _H, 400 * _D)] = 7 * _D
    replay_dir: Annotated[Path | None, Field(strict=False)] = None
    sim_scenario: Annotated[str, Field(min_length=1)] = "seed"
    sim_seed: int = 7
    #: live synthetic market: real seconds per 5m candle (0: the market stands still)
    sim_step: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 10.0
    refresh: RefreshSettings = Field(default_factory=RefreshSettings)

    @model_validator(mode="after")
    def _replay_needs_dir(self) -> MarketSettings:
        if self.source == "replay" and self.replay_dir is None:
            raise FieldProblems.one(
                "replay_dir", "required when source = 'replay', set it to the recorded-data folder"
            )
        if self.source == "replay" and self.replay_dir and not self.replay_dir.is_dir():
            raise FieldProblems.one(
                "replay_dir",
                f"{str(self.replay_dir)!r} is not a directory, use the recorded-data folder",
            )
        return self


class ExchangeSettings(Section):
    """Connection options of one exchange ([exchanges.<id>])."""

    #: overrides the exchange's REST base URL (a proxy, or a server of recorded data)
    api_base_url: HttpUrl | None = None
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    rate_limit: bool = True


class StorageSettings(Section):
    """Where the SQLite cache and bot state live ([storage])."""

    path: Annotated[Path, Field(strict=False)] = Path("liqwatch.sqlite3")


class ArchiveSettings(Section):
    """The point-in-time map archive and live scorecard ([archive])."""

    #: archive every watched market's map this often (and score the interval after it)
    every: Annotated[int, DurationRange(5 * _M, _D)] = _H
    #: drop archived maps older than this (scores are kept at least 30 days)
    keep: Annotated[int, DurationRange(_H, 3650 * _D)] = 30 * _D

    @model_validator(mode="after")
    def _keep_covers_every(self) -> ArchiveSettings:
        if self.keep < 2 * self.every:
            raise FieldProblems.one(
                "keep", "must be at least twice archive.every, or nothing is ever scored"
            )
        return self


class AlertSettings(Section):
    """Default thresholds of the alert rules ([alerts])."""

    imbalance_ratio: Annotated[float, Field(gt=1)] = 5.0
    #: an imbalance alert re-arms once the ratio falls below imbalance_ratio · hysteresis
    imbalance_hysteresis: Annotated[float, Field(gt=0, le=1)] = 0.8
    cluster_proximity: Fraction = 0.01
    cascade_r: Annotated[float, Field(gt=0)] = 1.0
    cascade_proximity: Fraction = 0.03
    prints_burst_usd: Annotated[float, Field(gt=0)] = 5_000_000.0
    prints_window: Annotated[int, DurationRange(_M, _D)] = 15 * _M
    oi_change: Fraction = 0.05
    oi_window: Annotated[int, DurationRange(_M, 7 * _D)] = _H
    cooldown: Annotated[int, DurationRange(0, 7 * _D)] = _H
    #: a refused alert (429, 5xx) is retried on later cycles until it is this old
    retry_for: Annotated[int, DurationRange(_M, _D)] = 15 * _M
    #: a cluster / danger-zone alert's follow-up says "not reached" after this long
    followup_horizon: Annotated[int, DurationRange(_H, 7 * _D)] = 24 * _H


class LoggingSettings(Section):
    """Logging ([logging]); the TOML key ``json`` is ``json_lines`` here."""

    level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)
    ] = "INFO"
    json_lines: bool = Field(default=False, alias="json")


class Settings(Section):
    """All settings of one liqwatch process; build it with :func:`load_settings`."""

    market: MarketSettings = Field(default_factory=MarketSettings)
    exchanges: Annotated[
        Mapping[ExchangeId, ExchangeSettings],
        AfterValidator(_frozen_mapping),
        WrapSerializer(_mapping_as_dict),
    ] = Field(default_factory=lambda: MappingProxyType({}))
    model: ModelSettings = Field(default_factory=ModelSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    threads: Annotated[tuple[ThreadChannelSettings, ...], AsTuple] = ()

    @model_validator(mode="after")
    def _check_threads(self) -> Settings:
        seen: dict[tuple[str, str, str], int] = {}
        problems: list[tuple[str, str]] = []
        for i, channel in enumerate(self.threads):
            key = (channel.platform, channel.chat_id, channel.symbol)
            if key in seen:
                problems.append(
                    (
                        f"threads[{i}]",
                        f"{channel.symbol} for {channel.platform} chat {channel.chat_id} is "
                        f"already in threads[{seen[key]}], configure each channel and symbol once",
                    )
                )
            seen.setdefault(key, i)
            if channel.exchange is not None and channel.exchange not in self.market.exchanges:
                problems.append(
                    (
                        f"threads[{i}].exchange",
                        f"{channel.exchange!r} is not watched, use one of market.exchanges: "
                        + ", ".join(self.market.exchanges),
                    )
                )
        if problems:
            raise FieldProblems(problems)
        return self

    def exchange(self, exchange_id: str) -> ExchangeSettings:
        """Options of one exchange: its ``[exchanges.<id>]`` table, or the defaults."""
        found = self.exchanges.get(exchange_id)  # type: ignore[call-overload]
        return found if isinstance(found, ExchangeSettings) else _DEFAULT_EXCHANGE

    def redactions(self) -> list[str]:
        """Every secret string, longest first — for the log filter that masks them."""
        values: set[str] = set()
        for secret in (self.telegram.token, self.discord.token, self.discord.webhook_url):
            if secret is not None and secret.get_secret_value():
                values.add(secret.get_secret_value())
        if self.discord.webhook_url is not None:
            # the token part of .../webhooks/<id>/<token>, for logs that show only a path
            path = urlsplit(self.discord.webhook_url.get_secret_value()).path.rstrip("/")
            token = path.rsplit("/", 1)[-1]
            if len(token) >= 16:
                values.add(token)
        return sorted(values, key=lambda v: (-len(v), v))


_DEFAULT_EXCHANGE: Final = ExchangeSettings()


# --- loading ---------------------------------------------------------------------------------


def load_settings(path: Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (None: all defaults) and the secrets in ``env`` (default ``os.environ``).

    Raises :class:`ConfigError` listing every problem found.
    """
    problems: list[str] = []
    data = {} if path is None else _read_toml(Path(path))
    data = _with_env_secrets(data, os.environ if env is None else env, problems)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + describe_errors(exc, _allowed_keys)) from None
    if problems:
        raise ConfigError(problems)
    return settings


def check_config(path: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """Every problem of the configuration at ``path`` (``[]`` when it is valid)."""
    try:
        load_settings(path, env)
    except ConfigError as exc:
        return exc.problems
    return []


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the file ({exc})"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
        if where:
            message = f"line {where.group(1)}: {message[: where.start()]}"
        else:
            message = f"end of file: {message.removesuffix('(at end of document)').strip()}"
        raise ConfigError([f"{path.name}: {message}"]) from None


def _with_env_secrets(
    data: dict[str, Any], env: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    """A copy of ``data`` with the environment's secrets in place; secrets in the file are problems."""
    data = dict(data)
    for var, (section, key) in ENV_SECRETS.items():
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            problems.append(
                f"{section}.{key}: secrets are not read from the file, remove it "
                f"and set {var} in the environment"
            )
            data[section] = table = {k: v for k, v in table.items() if k != key}
        value = env.get(var, "").strip()
        if value and (table is None or isinstance(table, dict)):
            data[section] = {**(table or {}), key: value}
    known = list(ENV_SECRETS)
    for var in env:
        if var.startswith(_ENV_PREFIX) and var not in ENV_SECRETS:
            problems.append(
                f"{var}: unknown environment variable, allowed: {', '.join(known)}"
                f"{did_you_mean(var, known)} (other settings belong in the config file)"
            )
    return data


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys a user may write in the table at ``loc`` (secrets excluded)."""
    model: type[BaseModel] = Settings
    if loc[:1] == ("exchanges",):
        model, loc = ExchangeSettings, loc[2:]
    elif loc[:1] == ("threads",):
        model, loc = ThreadChannelSettings, loc[2:]
    for part in loc:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    secrets = {key for _, key in ENV_SECRETS.values()}
    fields = model.model_fields.items()
    return [field.alias or name for name, field in fields if name not in secrets]
