"""The point-in-time map archive: each market's liquidation map as the bot showed it, saved
at a fixed cadence and never recomputed (schema version 3 of :data:`bot.state.schema.MIGRATIONS`).

A row holds the map's time and price, its grid, the notional per bin of each side, the
clusters and danger zones the bot reported, and which exchanges' prints feeds were up then.

**Compact.** Each side is stored as its maximum (float64) and one 16-bit code per bin on a
logarithmic scale spanning six decades below the maximum, zlib-compressed (empty bins cost
next to nothing): every value comes back within 0.03 % of what was shown (values under a
millionth of the side's maximum: within a millionth of the maximum), and ranks of bins never
swap by more than that rounding. A log grid made by :meth:`~core.results.PriceGrid.around`
is stored as (low, high, bins) — 20 bytes; any other grid as its edges. At 400 bins a map is
~1–2 KB; ``bench/archive.py`` measures the bytes per market per day.

Threading: like :class:`~bot.state.store.Store`, every method blocks on SQLite; call it
through :func:`asyncio.to_thread` from asyncio code.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from bot.state.store import Store
from core.models import FloatArray, Side
from core.results import Cluster, DangerZone, LiquidationMap, PriceGrid

__all__ = ["ArchivedMap", "MapArchive", "decode_side", "encode_side", "venues_key"]

#: codes 1..CODE_MAX cover [max · 1e-6, max] logarithmically; 0 is exactly zero
_CODE_MAX: Final = 65_535
_DECADES: Final = 6.0
_SPAN: Final = float(np.log1p(10.0**_DECADES))
_AROUND: Final = struct.Struct("<cddI")
_SCALE: Final = struct.Struct("<d")


def venues_key(exchanges: Sequence[str]) -> str:
    """The exchanges of an (aggregated) map as one key: ``"binanceusdm,bybit"``."""
    return ",".join(exchanges)


def encode_side(values: FloatArray) -> bytes:
    """Quantise one side's notionals: 8 bytes of maximum + zlib(uint16 log codes)."""
    values = np.asarray(values, dtype=np.float64)
    top = float(values.max()) if len(values) else 0.0
    if top <= 0:
        return _SCALE.pack(0.0) + zlib.compress(np.zeros(len(values), "<u2").tobytes(), 9)
    floor = top / 10.0**_DECADES
    codes = np.rint(np.log1p(values / floor) / _SPAN * _CODE_MAX)
    codes = np.where(values > 0, np.maximum(codes, 1), 0).astype("<u2")
    return _SCALE.pack(top) + zlib.compress(codes.tobytes(), 9)


def decode_side(blob: bytes) -> FloatArray:
    """Inverse of :func:`encode_side` (to within the quantisation)."""
    (top,) = _SCALE.unpack_from(blob)
    codes = np.frombuffer(zlib.decompress(blob[_SCALE.size :]), dtype="<u2").astype(np.float64)
    if top <= 0:
        return np.zeros(len(codes))
    floor = top / 10.0**_DECADES
    out: FloatArray = floor * np.expm1(codes / _CODE_MAX * _SPAN)
    out[codes == _CODE_MAX] = top
    return out


def _encode_grid(grid: PriceGrid) -> bytes:
    lo, hi, bins = float(grid.edges[0]), float(grid.edges[-1]), grid.bins
    again = PriceGrid.around(lo, hi, bins, log=grid.log).edges
    if np.allclose(again, grid.edges, rtol=1e-12, atol=0):
        return _AROUND.pack(b"L" if grid.log else b"N", lo, hi, bins)
    tag = b"l" if grid.log else b"n"
    return tag + zlib.compress(np.ascontiguousarray(grid.edges, "<f8").tobytes(), 9)


def _decode_grid(blob: bytes) -> PriceGrid:
    tag = blob[:1]
    if tag in (b"L", b"N"):
        _, lo, hi, bins = _AROUND.unpack(blob)
        return PriceGrid.around(lo, hi, bins, log=tag == b"L")
    edges = np.frombuffer(zlib.decompress(blob[1:]), dtype="<f8").astype(np.float64)
    return PriceGrid(edges, log=tag == b"l")


def _levels_json(clusters: Sequence[Cluster], zones: Sequence[DangerZone]) -> str:
    def plain(obj: Cluster | DangerZone) -> dict[str, Any]:
        d = dataclasses.asdict(obj)
        d["side"] = int(obj.side)
        return d

    doc = {"clusters": [plain(c) for c in clusters], "zones": [plain(z) for z in zones]}
    return json.dumps(doc, separators=(",", ":"))


def _levels(text: str) -> tuple[tuple[Cluster, ...], tuple[DangerZone, ...]]:
    doc = json.loads(text)
    clusters = tuple(Cluster(**{**c, "side": Side(c["side"])}) for c in doc["clusters"])
    zones = tuple(DangerZone(**{**z, "side": Side(z["side"])}) for z in doc["zones"])
    return clusters, zones


@dataclass(frozen=True, eq=False)
class ArchivedMap:
    """One archived map: what the bot showed for ``symbol`` on ``venues`` at ``map.time``."""

    symbol: str
    venues: tuple[str, ...]
    map: LiquidationMap
    clusters: tuple[Cluster, ...]
    zones: tuple[DangerZone, ...]
    #: exchange → was its liquidation-prints feed up when the map was archived
    feeds: Mapping[str, bool]

    @property
    def time(self) -> int:
        return self.map.time

    def cluster_levels(self) -> list[tuple[Side, float]]:
        """(side, price) of the reported clusters — the scorecard's input."""
        return [(c.side, c.price) for c in self.clusters]


_COLUMNS: Final = "symbol, venues, ts, price, grid, long, short, levels, feeds"


class MapArchive:
    """Save, read and prune archived maps in the store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(
        self,
        symbol: str,
        venues: Sequence[str],
        lmap: LiquidationMap,
        clusters: Sequence[Cluster] = (),
        zones: Sequence[DangerZone] = (),
        feeds: Mapping[str, bool] | None = None,
    ) -> int:
        """Archive ``lmap`` (keyed by its time); returns the bytes written, 0 if already there.

        A map already archived for the same market and time is kept: an archive is never
        rewritten.
        """
        row = (
            symbol,
            venues_key(venues),
            int(lmap.time),
            float(lmap.price),
            _encode_grid(lmap.grid),
            encode_side(lmap.long),
            encode_side(lmap.short),
            _levels_json(clusters, zones),
            json.dumps(dict(feeds if feeds is not None else dict.fromkeys(venues, True))),
        )
        with self.store.locked(write=True) as conn:
            cur = conn.execute(
                f"INSERT OR IGNORE INTO archive_maps ({_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            if not cur.rowcount:
                return 0
        return sum(len(v) for v in row[4:]) + 8 + 8  # payload + time + price

    def load(
        self,
        symbol: str,
        venues: Sequence[str] | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[ArchivedMap]:
        """Archived maps of ``symbol`` with ``since <= time <= until``, oldest first.

        ``venues=None``: every venue set of the symbol.
        """
        sql = f"SELECT {_COLUMNS} FROM archive_maps WHERE symbol = ? AND ts >= ? AND ts <= ?"
        args: list[object] = [symbol, -(2**63) if since is None else since]
        args.append(2**63 - 1 if until is None else until)
        if venues is not None:
            sql += " AND venues = ?"
            args.append(venues_key(venues))
        with self.store.locked() as conn:
            rows = conn.execute(sql + " ORDER BY ts, venues", args).fetchall()
        return [_row(r) for r in rows]

    def latest_before(self, symbol: str, venues: Sequence[str], at: int) -> ArchivedMap | None:
        """The newest map of the market archived at or before ``at``."""
        with self.store.locked() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM archive_maps WHERE symbol = ? AND venues = ? "
                "AND ts <= ? ORDER BY ts DESC LIMIT 1",
                (symbol, venues_key(venues), at),
            ).fetchone()
        return None if row is None else _row(row)

    def markets(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every archived (symbol, venues)."""
        with self.store.locked() as conn:
            rows = conn.execute(
                "SELECT DISTINCT symbol, venues FROM archive_maps ORDER BY symbol, venues"
            ).fetchall()
        return [(s, tuple(v.split(","))) for s, v in rows]

    def size_bytes(self, symbol: str | None = None) -> tuple[int, int]:
        """(maps, payload bytes) archived, for one symbol or all."""
        sql = (
            "SELECT count(*), coalesce(sum(length(grid) + length(long) + length(short) "
            "+ length(levels) + length(feeds) + 16), 0) FROM archive_maps"
        )
        with self.store.locked() as conn:
            if symbol is None:
                row = conn.execute(sql).fetchone()
            else:
                row = conn.execute(sql + " WHERE symbol = ?", (symbol,)).fetchone()
        return int(row[0]), int(row[1])

    def prune(self, before: int) -> int:
        """Drop every map archived before ``before`` (Unix ms); returns how many."""
        with self.store.locked(write=True) as conn:
            return conn.execute("DELETE FROM archive_maps WHERE ts < ?", (before,)).rowcount


def _row(row: Sequence[Any]) -> ArchivedMap:
    symbol, venues, ts, price, grid, long, short, levels, feeds = row
    lmap = LiquidationMap(
        _decode_grid(grid), float(price), int(ts), decode_side(long), decode_side(short)
    )
    clusters, zones = _levels(levels)
    return ArchivedMap(
        symbol, tuple(venues.split(",")), lmap, clusters, zones, dict(json.loads(feeds))
    )
