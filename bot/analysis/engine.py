"""The heavy, CPU-bound half of the service: analysis and chart rendering.

:class:`Engine` is what :class:`bot.analysis.service.MarketService` calls from worker threads;
:class:`CoreEngine` is the real one (:func:`core.analysis.analyze` and :mod:`core.charts`).
Tests put a counting stand-in behind the same protocol.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot.reply import ChartKind
from core.brackets import Brackets
from core.models import OrderBook, Snapshot
from core.results import Analysis

__all__ = ["CoreEngine", "Engine"]


class Engine(Protocol):
    """Analysis and chart rendering (CPU-bound, called from worker threads)."""

    def analyze(
        self, snapshots: Sequence[Snapshot], *, brackets: Mapping[str, Brackets] | None = None
    ) -> Analysis:
        """The analysis of one market; ``brackets``: each exchange's own table, where known."""

    def with_window(self, analysis: Analysis, window: float) -> Analysis: ...

    def with_cascade(
        self, analysis: Analysis, push_price: float, book: OrderBook | None
    ) -> Analysis: ...

    def render(
        self, kind: ChartKind, analysis: Analysis, *, style: str, size: tuple[int, int]
    ) -> bytes: ...


class CoreEngine:
    """The real engine: :func:`core.analysis.analyze` and the :mod:`core.charts` renderers."""

    def __init__(self, params: Any = None) -> None:
        from core.analysis import AnalysisParams

        self.params = params if params is not None else AnalysisParams()

    def analyze(
        self, snapshots: Sequence[Snapshot], *, brackets: Mapping[str, Brackets] | None = None
    ) -> Analysis:
        from core.analysis import analyze

        return analyze(snapshots, self.params, brackets=brackets)

    def with_window(self, analysis: Analysis, window: float) -> Analysis:
        """``analysis`` with its imbalance recomputed inside ±``window``."""
        from core.imbalance import compute_imbalance

        return dataclasses.replace(
            analysis, imbalance=compute_imbalance(analysis.map, window=window)
        )

    def with_cascade(
        self, analysis: Analysis, push_price: float, book: OrderBook | None
    ) -> Analysis:
        """``analysis`` with the cascade of a push to ``push_price`` in place of its default."""
        from core.cascade import simulate_cascade

        result = simulate_cascade(analysis.map, push_price, book=book)
        if result.direction > 0:
            return dataclasses.replace(analysis, cascade_up=result)
        return dataclasses.replace(analysis, cascade_down=result)

    def render(
        self, kind: ChartKind, analysis: Analysis, *, style: str, size: tuple[int, int]
    ) -> bytes:
        from core import charts

        if kind == "heatmap":
            return charts.render_heatmap(analysis, style=style, size=size)
        if kind == "map":
            return charts.render_map(analysis, style=style, size=size)
        if kind == "card":
            return charts.render_card(analysis, style=style, size=size)
        up = analysis.cascade_up is not None and (
            analysis.cascade_down is None or analysis.cascade_up.push_price > analysis.price
        )
        return charts.render_cascade(analysis, direction=1 if up else -1, style=style, size=size)
