"""Backtest folders: real candles, open interest and real liquidations, read and checked.

A folder (``../shared/data/real-btc-1h/`` is one) holds:

``meta.json`` — ``exchange``, ``symbol``, ``timeframe`` (required), ``description`` and
provenance strings per file (``candles``, ``open_interest``, ``liquidations``, ``prints``,
``recorded_by`` or a ``provenance`` object); other keys are ignored (and noted)::

    {"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT", "timeframe": "1h", ...}

``candles.csv`` — one row per candle, volume in base units; ``taker_buy_volume`` may be
left empty on every row::

    open_time_ms,open,high,low,close,volume,taker_buy_volume
    1764828000000,92932.4,93333.0,92800.1,93103.1,5104.689,
    1764831600000,93103.0,93386.6,92852.4,93358.6,3283.133,

``open_interest.csv`` — the snapshot *at* ``time_ms``, so the candle opened at T ends with
the value stamped T + timeframe; ``open_interest`` in base units or ``open_interest_usd``
(converted with the close of the candle ending at the stamp)::

    time_ms,open_interest_usd
    1764828000000,8206829667.0
    1764831600000,8248989576.0

``liquidations.csv`` — real liquidated USD per bar (any length ≥ a candle, on the candle
grid); ``long_usd`` = long positions liquidated::

    open_time_ms,close_time_ms,long_usd,short_usd
    1764828000000,1764831600000,42620.54,1499665.49

``prints.csv`` (optional) — individual liquidations, side = the liquidated position's::

    time_ms,side,price,notional_usd
    1764828012345,long,92801.5,15230.0

:func:`read_backtest_folder` checks units and alignment and raises
:class:`BacktestFolderError` listing the first problem of each file as
``file:line: what is wrong — what to do``; what it did to the data (unit conversion, how
coarser open interest was filled, gaps) is in :attr:`BacktestFolder.notes`.
:func:`write_backtest_folder` writes the same layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, ParamSpec, TypeVar

import numpy as np

from bot.market import _backtest_checks as checks
from bot.market._backtest_checks import BacktestFolderError, Problem
from bot.market._backtest_oi import with_open_interest
from core.models import TIMEFRAME_MS, LiquidationPrints, MarketSeries, Side, timeframe_ms
from core.scoring import RealLiquidations

__all__ = [
    "BacktestFolder",
    "BacktestFolderError",
    "BacktestMeta",
    "OIFill",
    "read_backtest_folder",
    "write_backtest_folder",
]

OIFill = Literal["step", "interpolate"]
_P = ParamSpec("_P")
_T = TypeVar("_T")
_PROVENANCE_KEYS = ("candles", "open_interest", "liquidations", "prints", "recorded_by")
_KNOWN_KEYS = {"exchange", "symbol", "timeframe", "description", "provenance", *_PROVENANCE_KEYS}


@dataclass(frozen=True)
class BacktestMeta:
    """``meta.json``: the market and where each file came from."""

    exchange: str
    symbol: str
    timeframe: str
    description: str = ""
    provenance: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class BacktestFolder:
    """A checked backtest folder.

    ``series.open_interest`` is in base units at each candle close (NaN where unknown);
    ``real`` the real liquidations per bar; ``notes`` what was converted, filled or found.
    """

    path: Path
    meta: BacktestMeta
    series: MarketSeries
    real: RealLiquidations
    prints: LiquidationPrints | None
    notes: tuple[str, ...]

    @property
    def candle_ms(self) -> int:
        return timeframe_ms(self.meta.timeframe)


def _read_meta(folder: Path, notes: list[str]) -> BacktestMeta:
    path = folder / "meta.json"
    if not path.is_file():
        raise Problem(
            "meta.json: file not found — add it with exchange, symbol and timeframe "
            '(e.g. {"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT", "timeframe": "1h"})'
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        where = f"meta.json:{e.lineno}"
        raise Problem(f"{where}: not valid JSON ({e.msg}) — fix the syntax") from None
    if not isinstance(raw, dict):
        raise Problem('meta.json:1: expected a JSON object — write {"exchange": …, …}')
    for key in ("exchange", "symbol", "timeframe"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise Problem(f"meta.json: missing key {key!r} — add it as a non-empty string")
    if raw["timeframe"] not in TIMEFRAME_MS:
        raise Problem(
            f"meta.json: timeframe {raw['timeframe']!r} is not supported — use one of "
            + ", ".join(TIMEFRAME_MS)
        )
    provenance = {k: str(raw[k]) for k in _PROVENANCE_KEYS if k in raw}
    nested = raw.get("provenance", {})
    if isinstance(nested, dict):
        provenance.update({str(k): str(v) for k, v in nested.items()})
    else:
        provenance["provenance"] = str(nested)
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        notes.append(f"meta.json: ignored unknown keys {', '.join(unknown)}")
    return BacktestMeta(
        exchange=raw["exchange"],
        symbol=raw["symbol"],
        timeframe=raw["timeframe"],
        description=str(raw.get("description", "")),
        provenance=provenance,
    )


_FILES = ("meta.json", "candles.csv", "open_interest.csv", "liquidations.csv", "prints.csv")


def _file_order(problem: str) -> int:
    name = problem.split(":", 1)[0]
    return _FILES.index(name) if name in _FILES else len(_FILES)


def read_backtest_folder(
    path: Path | str, *, oi_fill: OIFill = "step", check_units: bool = True
) -> BacktestFolder:
    """Read and check the backtest folder at ``path``.

    ``oi_fill`` decides how open interest coarser than the candles reaches the closes in
    between: ``"step"`` holds the last value (point in time), ``"interpolate"`` draws a
    line to the next one (looks ahead by up to one open-interest interval). Either way it
    never bridges a gap longer than the open interest's own interval. ``check_units=False``
    skips the USD-vs-base-units plausibility check.

    Raises :class:`BacktestFolderError` with the first problem of each file.
    """
    if oi_fill not in ("step", "interpolate"):
        raise ValueError(f"oi_fill must be 'step' or 'interpolate'; got {oi_fill!r}")
    folder = Path(path)
    if not folder.is_dir():
        raise BacktestFolderError(
            [f"{folder}: not a folder — give the backtest folder holding meta.json and the CSVs"]
        )
    problems: list[str] = []
    notes: list[str] = []

    def attempt(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
        try:
            return fn(*args, **kwargs)
        except Problem as p:
            problems.append(str(p))
            return None

    meta = attempt(_read_meta, folder, notes)
    candles = attempt(checks.read_table, folder, "candles.csv", checks.CANDLE_COLS[:6])
    oi = attempt(checks.read_table, folder, "open_interest.csv", ("time_ms",))
    liq = attempt(checks.read_table, folder, "liquidations.csv", checks.LIQ_COLS)
    has_prints = (folder / "prints.csv").is_file()
    table = None
    if has_prints:
        table = attempt(checks.read_table, folder, "prints.csv", checks.PRINT_COLS)
    series: MarketSeries | None = None
    real: RealLiquidations | None = None
    if meta is not None and candles is not None:
        tf = timeframe_ms(meta.timeframe)
        series = attempt(checks.candle_series, candles, tf, notes)
        if series is not None and oi is not None:
            series = attempt(with_open_interest, series, oi, tf, oi_fill, check_units, notes)
        if series is not None and liq is not None:
            real = attempt(checks.real_bars, liq, series, tf, notes)
    liq_prints = None if table is None else attempt(checks.print_rows, table, notes)
    if not has_prints:
        notes.append("prints.csv: absent (optional)")
    if problems:
        raise BacktestFolderError(sorted(problems, key=_file_order))
    assert meta is not None and series is not None and real is not None
    return BacktestFolder(folder, meta, series, real, liq_prints, tuple(notes))


def _num(x: float) -> str:
    return repr(float(x))


def write_backtest_folder(
    path: Path | str,
    *,
    meta: BacktestMeta,
    series: MarketSeries,
    real: RealLiquidations,
    prints: LiquidationPrints | None = None,
    oi_unit: Literal["base", "usd"] = "base",
) -> Path:
    """Write a backtest folder :func:`read_backtest_folder` reads back unchanged.

    Open interest is written at each candle close (open + timeframe), in base units or in
    USD (× that candle's close); candles without a value are left out.
    """
    if series.open_interest is None:
        raise ValueError("series has no open interest — a backtest folder needs it")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tf = timeframe_ms(meta.timeframe)
    doc: dict[str, object] = {
        "exchange": meta.exchange,
        "symbol": meta.symbol,
        "timeframe": meta.timeframe,
        "description": meta.description,
    }
    extra = {k: v for k, v in meta.provenance.items() if k not in _PROVENANCE_KEYS}
    doc.update({k: v for k, v in meta.provenance.items() if k in _PROVENANCE_KEYS})
    if extra:
        doc["provenance"] = extra
    (folder / "meta.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    s = series
    taker = s.taker_buy_volume
    lines = [",".join(checks.CANDLE_COLS)]
    for i in range(len(s)):
        tb = "" if taker is None else _num(taker[i])
        cells = (s.open[i], s.high[i], s.low[i], s.close[i], s.volume[i])
        lines.append(f"{int(s.timestamps[i])},{','.join(map(_num, cells))},{tb}")
    (folder / "candles.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    col = "open_interest_usd" if oi_unit == "usd" else "open_interest"
    oi = series.open_interest * s.close if oi_unit == "usd" else series.open_interest
    lines = [f"time_ms,{col}"]
    lines += [
        f"{int(t) + tf},{_num(v)}" for t, v in zip(s.timestamps, oi, strict=True) if np.isfinite(v)
    ]
    (folder / "open_interest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = [",".join(checks.LIQ_COLS)]
    lines += [
        f"{int(o)},{int(c)},{_num(lo)},{_num(sh)}"
        for o, c, lo, sh in zip(
            real.open_ms, real.close_ms, real.long_usd, real.short_usd, strict=True
        )
    ]
    (folder / "liquidations.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if prints is not None:
        lines = [",".join(checks.PRINT_COLS)]
        lines += [
            f"{int(t)},{'long' if sd == Side.LONG else 'short'},{_num(p)},{_num(q)}"
            for t, sd, p, q in zip(
                prints.times, prints.sides, prints.prices, prints.notionals, strict=True
            )
        ]
        (folder / "prints.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
