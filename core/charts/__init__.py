"""Charts: an :class:`~core.results.Analysis` in, PNG bytes out.

* :func:`render_heatmap` — estimated liquidation levels over time × price, with price,
  clusters and danger zones.
* :func:`render_map` — liquidation notional per price bin now, cumulative curves, and the
  short-above / long-below headline.
* :func:`render_card` — a 1200×675 imbalance summary card for chat previews.
* :func:`render_cascade` — a simulated squeeze: forced notional against price, and R.

Every renderer takes ``style`` (one of :func:`available_styles`) and ``size`` in pixels,
builds its own matplotlib Figure (never pyplot, never global rcParams) and is safe to call
from worker threads. An empty analysis renders a chart that says "no data".
"""

from __future__ import annotations

from core.charts.card import render_card
from core.charts.cascade import render_cascade
from core.charts.errors import ChartError
from core.charts.format import human_price, human_ratio, human_usd
from core.charts.heatmap import render_heatmap
from core.charts.liqmap import render_map
from core.charts.style import available_styles

__all__ = [
    "ChartError",
    "available_styles",
    "human_price",
    "human_ratio",
    "human_usd",
    "render_card",
    "render_cascade",
    "render_heatmap",
    "render_map",
]
