"""What a posted thread told: its :class:`Fingerprint`, what changes it materially, its record.

:class:`~bot.notify.autopost.AutoPoster` records each thread with the fingerprint of its
structure (:func:`encode_record`: JSON in the record's ``title`` column) and, with
``only_on_change``, posts the next one only on a material change since it
(:func:`material_change`): the heavy side flipped; the imbalance ratio moved by
≥ ``min_change`` (relative: 0.25 = from 4:1 to 5:1 or 3:1; an empty thin side counts as a
ratio of ∞, and going from finite to ∞ or back is material); the top cluster (largest
notional) or the main danger zone (largest notional on the heavy side; either bound) moved
by ≥ ``min_level_move`` of price, or appeared or vanished.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from core.models import Side
from core.results import Analysis

__all__ = [
    "Fingerprint",
    "ThreadRecord",
    "decode_record",
    "encode_record",
    "fingerprint",
    "material_change",
]


@dataclass(frozen=True)
class Fingerprint:
    """The structure a thread told, to compare the next one against."""

    as_of: int  # ms of the analysis's last candle
    price: float
    ratio: float  # heavy over thin side, >= 1, inf when the thin side is empty
    heavy: str  # "short" (squeeze-up setup) or "long"
    top_cluster: float | None  # price of the largest-notional cluster
    zone_low: float | None  # bounds of the largest-notional danger zone on the heavy side
    zone_high: float | None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ratio"] = None if math.isinf(self.ratio) else self.ratio  # strict JSON
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fingerprint:
        ratio = data["ratio"]
        return cls(
            as_of=int(data["as_of"]),
            price=float(data["price"]),
            ratio=math.inf if ratio is None else float(ratio),
            heavy=str(data["heavy"]),
            top_cluster=_optional(data.get("top_cluster")),
            zone_low=_optional(data.get("zone_low")),
            zone_high=_optional(data.get("zone_high")),
        )


def _optional(value: object) -> float | None:
    return None if value is None else float(cast(float, value))


def fingerprint(analysis: Analysis) -> Fingerprint:
    """The :class:`Fingerprint` of ``analysis``."""
    imb = analysis.imbalance
    heavy = imb.heavy_side
    top = max(analysis.clusters, key=lambda c: c.notional, default=None)
    zones = [z for z in analysis.zones if z.side is heavy]
    zone = max(zones, key=lambda z: z.notional, default=None)
    return Fingerprint(
        as_of=int(analysis.as_of),
        price=float(analysis.price),
        ratio=float(imb.ratio),
        heavy="short" if heavy is Side.SHORT else "long",
        top_cluster=None if top is None else float(top.price),
        zone_low=None if zone is None else float(zone.low),
        zone_high=None if zone is None else float(zone.high),
    )


def _level_moved(old: float | None, new: float | None, tolerance: float) -> bool:
    if old is None or new is None:
        return old is not new
    return abs(new - old) >= tolerance


def material_change(
    old: Fingerprint, new: Fingerprint, *, min_change: float, min_level_move: float
) -> str | None:
    """Why ``new`` differs materially from ``old`` (see the module docstring), or None."""
    if new.heavy != old.heavy:
        return f"heavy side flipped to {new.heavy}s"
    if math.isinf(old.ratio) != math.isinf(new.ratio):
        return "thin side emptied" if math.isinf(new.ratio) else "thin side refilled"
    if not math.isinf(old.ratio) and abs(new.ratio / old.ratio - 1) >= min_change:
        return f"imbalance ratio {old.ratio:.2f} → {new.ratio:.2f}"
    tolerance = min_level_move * new.price
    if _level_moved(old.top_cluster, new.top_cluster, tolerance):
        return "top cluster moved"
    if _level_moved(old.zone_low, new.zone_low, tolerance) or _level_moved(
        old.zone_high, new.zone_high, tolerance
    ):
        return "main danger zone moved"
    return None


@dataclass(frozen=True)
class ThreadRecord:
    """The last thread recorded for a channel and symbol."""

    posted_at: int
    title: str
    fingerprint: Fingerprint | None  # None: recorded by something that kept no fingerprint


def encode_record(title: str, print_: Fingerprint) -> str:
    """The stored ``title`` column: the thread's title and its fingerprint, as JSON."""
    return json.dumps({"title": title, "fingerprint": print_.to_json()}, allow_nan=False)


def decode_record(posted_at: int, stored: str) -> ThreadRecord:
    """The record from its stored ``title`` column (a plain title: no fingerprint)."""
    try:
        data = json.loads(stored)
        return ThreadRecord(
            posted_at, str(data["title"]), Fingerprint.from_json(data["fingerprint"])
        )
    except (ValueError, KeyError, TypeError):
        return ThreadRecord(posted_at, stored, None)
