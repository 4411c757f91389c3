"""Rank metrics for scoring estimated liquidations against real ones (pure numpy).

Every function takes 1-D float arrays of equal length, holding only finite values (the
caller drops bars it cannot score), and returns ``NaN`` — never a warning — when the
metric is undefined: fewer than three values, or an input without any spread.

* :func:`average_ranks` — ranks 1..n, ties share their average rank;
* :func:`pearson`, :func:`spearman` (Pearson of average ranks), :func:`log_pearson`
  (Pearson of ``log1p``: magnitudes matter, but a few huge bars do not dominate);
* :func:`top_precision` — of the bars an estimate puts in its top ``fraction``, the share
  that are also in the real top ``fraction`` (chance level: ``fraction``);
* :func:`partial_spearman` — what an estimate ranks beyond a baseline: Pearson of the
  residuals of rank(estimate) and rank(real) after a least-squares fit of each on
  rank(baseline) with an intercept;
* :func:`cluster_hit_lift` — real liquidations in bars where price reached an estimated
  cluster against bars of similar range and volume without one.

It also holds the result types :class:`SideScore`, :class:`SetScore` and the
:class:`Scorecard` (``score.json`` / ``report.md``) that :func:`core.scoring.score` fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from core.models import FloatArray

__all__ = [
    "BASELINES",
    "MIN_VALUES",
    "SIDES",
    "BoolArray",
    "Lift",
    "Scorecard",
    "SetScore",
    "SideScore",
    "average_ranks",
    "cluster_hit_lift",
    "log_pearson",
    "partial_spearman",
    "pearson",
    "quantile_bins",
    "spearman",
    "top_precision",
]

BoolArray = NDArray[np.bool_]

#: Fewer values than this and every correlation is NaN.
MIN_VALUES: Final = 3
_NAN: Final = float("nan")
SIDES: Final = ("long", "short", "total")
#: Baseline name → label in report.md.
BASELINES: Final[dict[str, str]] = {
    "range": "range (high−low)/open",
    "abs_return": "|return|",
    "volume": "volume",
    "abs_return_x_volume": "|return| × volume",
    "down_move_x_volume": "down-move × volume",
    "up_move_x_volume": "up-move × volume",
}


def _check(*arrays: FloatArray) -> int:
    n = len(arrays[0])
    for a in arrays:
        if a.ndim != 1 or len(a) != n:
            raise ValueError(f"metrics need 1-D arrays of one length; got shapes {a.shape}, {n}")
    return n


def average_ranks(x: FloatArray) -> FloatArray:
    """Ranks 1..n of ``x``; tied values get the mean of the ranks they span."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]]))
    ends = np.concatenate([starts[1:], [n]])  # exclusive
    group_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def pearson(x: FloatArray, y: FloatArray) -> float:
    """Pearson correlation; NaN for fewer than 3 values or a constant input."""
    n = _check(x, y)
    if n < MIN_VALUES or np.ptp(x) == 0 or np.ptp(y) == 0:
        return _NAN
    dx = x - x.mean()
    dy = y - y.mean()
    sxx = float(dx @ dx)
    syy = float(dy @ dy)
    if not (sxx > 0 and syy > 0 and math.isfinite(sxx * syy)):
        return _NAN
    r = float(dx @ dy) / math.sqrt(sxx * syy)
    return min(1.0, max(-1.0, r))


def spearman(x: FloatArray, y: FloatArray) -> float:
    """Spearman rank correlation (Pearson of average ranks)."""
    _check(x, y)
    return pearson(average_ranks(x), average_ranks(y))


def log_pearson(x: FloatArray, y: FloatArray) -> float:
    """Pearson correlation of ``log1p(x)`` and ``log1p(y)`` (inputs must be > -1)."""
    _check(x, y)
    return pearson(np.log1p(x), np.log1p(y))


def _top_set(x: FloatArray, k: int) -> BoolArray:
    """Bars at or above the k-th largest value (ties at the threshold all count)."""
    threshold = np.partition(x, len(x) - k)[len(x) - k]
    top: BoolArray = x >= threshold
    return top


def top_precision(estimate: FloatArray, real: FloatArray, fraction: float = 0.05) -> float:
    """Share of the estimate's top-``fraction`` bars that are among the real top bars.

    ``k = ceil(fraction · n)`` bars make a top set; bars tied with the k-th largest value
    join it, so the result does not depend on the order of the input. NaN when either
    input is constant (no ranking) or has fewer than 3 values.
    """
    n = _check(estimate, real)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction}")
    if n < MIN_VALUES or np.ptp(estimate) == 0 or np.ptp(real) == 0:
        return _NAN
    k = max(1, math.ceil(fraction * n))
    est_top = _top_set(estimate, k)
    real_top = _top_set(real, k)
    return float((est_top & real_top).sum() / est_top.sum())


def _residuals(y: FloatArray, x: FloatArray) -> FloatArray:
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    out: FloatArray = y - design @ coef
    return out


def partial_spearman(estimate: FloatArray, real: FloatArray, control: FloatArray) -> float:
    """Spearman of ``estimate`` with ``real`` controlling for ``control`` (a baseline)."""
    n = _check(estimate, real, control)
    if n < MIN_VALUES + 1 or np.ptp(estimate) == 0 or np.ptp(real) == 0:
        return _NAN
    rc = average_ranks(control)
    re = _residuals(average_ranks(estimate), rc)
    rr = _residuals(average_ranks(real), rc)
    # a rank that is a linear function of the control leaves only rounding noise
    scale = float(n)
    if np.abs(re).max() <= 1e-9 * scale or np.abs(rr).max() <= 1e-9 * scale:
        return _NAN
    return pearson(re, rr)


@dataclass(frozen=True)
class Lift:
    """Cluster-hit lift: mean real liquidations in hit bars / in matched non-hit bars.

    ``value`` is the hit-weighted mean of the per-stratum ratios (NaN with ``reason`` when
    it cannot be measured); ``hits`` counts the hit bars, ``matched`` those in a stratum
    that also had non-hit bars to compare with, ``strata`` the strata used.
    """

    value: float
    hits: int
    matched: int
    strata: int
    reason: str = ""

    def to_dict(self) -> dict[str, float | int | str | None]:
        value = self.value if math.isfinite(self.value) else None
        return {
            "value": value,
            "hits": self.hits,
            "matched": self.matched,
            "strata": self.strata,
            "reason": self.reason,
        }


def quantile_bins(x: FloatArray, quantiles: int) -> NDArray[np.int64]:
    """Bin index 0..quantiles-1 of each value by the empirical quantiles of ``x``."""
    inner = np.quantile(x, np.arange(1, quantiles) / quantiles) if len(x) else np.empty(0)
    out: NDArray[np.int64] = np.searchsorted(inner, x, side="right").astype(np.int64)
    return out


def cluster_hit_lift(
    real: FloatArray,
    hit: BoolArray,
    range_: FloatArray,
    volume: FloatArray,
    *,
    quantiles: int = 3,
    min_hits: int = 5,
) -> Lift:
    """Real liquidations in bars where price reached an estimated top cluster (``hit``)
    against bars of similar range and volume without one.

    Bars are stratified by ``quantiles`` × ``quantiles`` range and volume quantiles; in
    every stratum with both hit and non-hit bars (and non-hit liquidations > 0) the ratio
    mean(real | hit) / mean(real | no hit) is taken, and the ratios are averaged weighted
    by each stratum's hit bars. NaN with a reason when fewer than ``min_hits`` hit bars can
    be matched.
    """
    _check(real, range_, volume)
    hit = np.asarray(hit, dtype=np.bool_)
    if hit.shape != real.shape:
        raise ValueError(f"hit mask shape {hit.shape} does not match {real.shape}")
    if quantiles < 1:
        raise ValueError(f"quantiles must be >= 1; got {quantiles}")
    hits = int(hit.sum())
    if hits < min_hits:
        return Lift(_NAN, hits, 0, 0, f"only {hits} hit bars (need {min_hits})")
    stratum = quantile_bins(range_, quantiles) * quantiles + quantile_bins(volume, quantiles)
    ratios: list[float] = []
    weights: list[int] = []
    for s in np.unique(stratum):
        inside = stratum == s
        h = inside & hit
        m = inside & ~hit
        if not h.any() or not m.any():
            continue
        base = float(real[m].mean())
        if base <= 0:
            continue
        ratios.append(float(real[h].mean()) / base)
        weights.append(int(h.sum()))
    matched = sum(weights)
    if matched < min_hits:
        why = f"only {matched} of {hits} hit bars have similar bars without a hit (need {min_hits})"
        return Lift(_NAN, hits, matched, len(ratios), why)
    value = float(np.average(ratios, weights=weights))
    return Lift(value, hits, matched, len(ratios))


def _json(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


@dataclass(frozen=True)
class SideScore:
    """One estimate (or baseline) against the real liquidations of one side."""

    spearman: float
    log_pearson: float
    top_precision: float
    partial_spearman: float = math.nan  # estimates only: controlling for the best baseline
    lift: Lift | None = None  # estimates with cluster hits only
    total_ratio: float = math.nan  # estimates only: sum(estimate) / sum(real)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spearman": _json(self.spearman),
            "log_pearson": _json(self.log_pearson),
            "top_precision": _json(self.top_precision),
            "partial_spearman": _json(self.partial_spearman),
            "cluster_hit_lift": None if self.lift is None else self.lift.to_dict(),
            "total_ratio": _json(self.total_ratio),
        }


@dataclass(frozen=True)
class SetScore:
    """All sides of one named estimate set or baseline."""

    name: str
    kind: Literal["estimate", "baseline"]
    long: SideScore
    short: SideScore
    total: SideScore

    def side(self, side: str) -> SideScore:
        if side not in SIDES:
            raise KeyError(f"side must be one of {SIDES}; got {side!r}")
        out: SideScore = getattr(self, side)
        return out


def _fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "—"


@dataclass(frozen=True, eq=False)
class Scorecard:
    """Every set's scores on the same ``bars`` bars (of ``real_bars``)."""

    bars: int
    real_bars: int
    top_fraction: float
    best_baseline: dict[str, str]
    sets: tuple[SetScore, ...]
    notes: tuple[str, ...] = ()

    def get(self, name: str) -> SetScore:
        for s in self.sets:
            if s.name == name:
                return s
        raise KeyError(f"no set named {name!r}; have {[s.name for s in self.sets]}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``NaN`` → ``None``): the content of ``score.json``."""
        return {
            "bars": self.bars,
            "real_bars": self.real_bars,
            "top_fraction": self.top_fraction,
            "best_baseline": dict(self.best_baseline),
            "sets": {
                s.name: {"kind": s.kind, **{side: s.side(side).to_dict() for side in SIDES}}
                for s in self.sets
            },
            "notes": list(self.notes),
        }

    def to_markdown(self, title: str = "Estimated vs real liquidations") -> str:
        """The content of ``report.md``: one table per side, then the notes."""
        pct = f"{self.top_fraction * 100:g} %"
        lines = [
            f"# {title}",
            "",
            f"Scored on **{self.bars} bars** (of {self.real_bars} real bars). Spearman and "
            f"log-Pearson against the real liquidations; top-{pct} precision (chance "
            f"≈ {self.top_fraction:.2f}); partial Spearman controlling for the side's best "
            "baseline (marked *); cluster-hit lift = real liquidations in bars where price "
            "reached an estimated top cluster ÷ similar bars without (hit bars in brackets); "
            "est/real = estimated total ÷ real total.",
        ]
        footnotes: list[str] = []
        for side in SIDES:
            lines += [
                "",
                f"## {side} (n = {self.bars})",
                "",
                f"| set | Spearman | log-Pearson | top-{pct} precision | partial Spearman "
                "| cluster-hit lift | est/real |",
                "|---|---:|---:|---:|---:|---:|---:|",
            ]
            for s in self.sets:
                sc = s.side(side)
                label = BASELINES.get(s.name, s.name) if s.kind == "baseline" else s.name
                label = label.replace("|", "\\|")  # a pipe would end the Markdown cell
                if s.name == self.best_baseline.get(side) and s.kind == "baseline":
                    label += " *"
                lift = "—"
                if sc.lift is not None:
                    lift = f"{_fmt(sc.lift.value, 2)} ({sc.lift.hits})"
                    if sc.lift.reason:
                        why = sc.lift.reason
                        footnotes.append(f"{s.name}, {side}: lift not measured — {why}")
                lines.append(
                    f"| {label} | {_fmt(sc.spearman)} | {_fmt(sc.log_pearson)} "
                    f"| {_fmt(sc.top_precision)} | {_fmt(sc.partial_spearman)} | {lift} "
                    f"| {_fmt(sc.total_ratio, 2)} |"
                )
        notes = [*footnotes, *self.notes]
        if notes:
            lines += ["", "## Notes", "", *(f"- {n}" for n in notes)]
        return "\n".join(lines) + "\n"
