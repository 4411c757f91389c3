"""Squeeze cascades on hand-built depth where the fixed point is known exactly.

Unless a test says otherwise: price 100, a linear grid of $1-wide bins from 50 to 150,
and model depth of $1M per 1 % of move (``A = 1e8``, ``β = 1``), so pushing to 101 uses
$1M of depth and a forced flow of $X M then carries price X more dollars.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.cascade import DepthModel, simulate_cascade
from core.imbalance import long_notional_below, short_notional_above
from core.models import FloatArray, ModelError, OrderBook
from core.results import LiquidationMap, PriceGrid

FLAT = DepthModel(A=1e8, beta=1.0)
M = 1e6
SHARED = Path(__file__).parents[2].parent / "shared"
BTC_BOOK = SHARED / "data" / "binance-usdm" / "depth-BTCUSDT-limit1000-2024-08-08.json"


def _grid_map(
    short: dict[int, float] | None = None, long: dict[int, float] | None = None
) -> LiquidationMap:
    """Bins [k, k+1) for k = 50 … 149; ``short={100: 3e6}`` puts $3M in [100, 101)."""
    grid = PriceGrid.around(50.0, 150.0, 100, log=False)
    s, lg = np.zeros(100), np.zeros(100)
    for k, v in (short or {}).items():
        s[k - 50] = v
    for k, v in (long or {}).items():
        lg[k - 50] = v
    return LiquidationMap(grid, 100.0, 0, lg, s)


def test_single_short_wall_moves_price_by_its_notional() -> None:
    res = simulate_cascade(_grid_map(short={100: 3 * M}), 101.0, depth_model=FLAT)
    # the push ate $1M of depth; the $3M forced buy eats 3 more dollars: 101 → 104
    assert res.direction == 1
    assert res.final_price == pytest.approx(104.0)
    assert res.forced_notional == pytest.approx(3 * M)
    assert res.rounds == 1
    assert res.path_prices.tolist() == pytest.approx([101.0, 104.0])
    assert res.path_forced.tolist() == pytest.approx([3 * M, 3 * M])
    assert res.r_ratio == pytest.approx(3.0)
    assert res.extra_move == pytest.approx(104 / 101 - 1)
    assert (res.depth_source, res.outcome) == ("model", "converged")


def test_second_wall_crossed_in_the_next_round() -> None:
    res = simulate_cascade(_grid_map(short={100: 3 * M, 102: 2 * M}), 101.0, depth_model=FLAT)
    # 101 → 104 crosses the $2M at 102-103 → 106
    assert res.path_prices.tolist() == pytest.approx([101.0, 104.0, 106.0])
    assert res.rounds == 2
    assert res.forced_notional == pytest.approx(5 * M)


def test_wall_just_out_of_reach_is_not_crossed() -> None:
    res = simulate_cascade(_grid_map(short={100: 3 * M, 104: 9 * M}), 101.0, depth_model=FLAT)
    assert res.final_price == pytest.approx(104.0)  # stops exactly at the next wall's edge
    assert res.forced_notional == pytest.approx(3 * M)


def test_partially_crossed_band_converges_geometrically() -> None:
    # $0.5M per $1 from 103 to 107: F(p) = 3 + 0.5·(p − 103) there, so the fixed point
    # p = 101 + F(p) solves to p = 105 (half the band crossed, $4M forced)
    band = {k: 0.5 * M for k in range(103, 107)}
    res = simulate_cascade(_grid_map(short={100: 3 * M, **band}), 101.0, depth_model=FLAT)
    assert res.final_price == pytest.approx(105.0, abs=1e-4)
    assert res.forced_notional == pytest.approx(4 * M, rel=1e-5)
    assert 10 < res.rounds < 60
    assert np.all(np.diff(res.path_prices) > 0)
    assert np.all(np.diff(res.path_forced) >= 0)
    assert res.outcome == "converged"


def test_no_liquidations_means_no_cascade() -> None:
    res = simulate_cascade(_grid_map(short={90: 5 * M}, long={110: 5 * M}), 101.0, depth_model=FLAT)
    assert res.final_price == 101.0
    assert (res.rounds, res.forced_notional, res.r_ratio) == (0, 0.0, 0.0)
    assert res.path_prices.tolist() == [101.0]


def test_down_move_mirrors_the_up_move() -> None:
    res = simulate_cascade(_grid_map(long={99: 3 * M, 97: 2 * M}), 99.0, depth_model=FLAT)
    assert res.direction == -1
    # the push to 99 crosses [99, 100); 99 → 96 crosses [97, 98) → 94
    assert res.path_prices.tolist() == pytest.approx([99.0, 96.0, 94.0])
    assert res.forced_notional == pytest.approx(5 * M)
    assert res.r_ratio == pytest.approx(3.0)


def test_runaway_stops_at_the_map_edge() -> None:
    # $3M per $1 of move against $1M of depth: every round crosses more than it eats
    everywhere = {k: 3 * M for k in range(100, 150)}
    res = simulate_cascade(_grid_map(short=everywhere), 101.0, depth_model=FLAT)
    assert res.outcome == "map_edge"
    assert res.forced_notional == pytest.approx(150 * M)  # every mapped short
    # price = 101 + F: 101 → 104 → 113 → 140 → 221 → (all $150M crossed) 251
    assert res.path_prices.tolist() == pytest.approx([101.0, 104.0, 113.0, 140.0, 221.0, 251.0])
    assert res.final_price > res.start_price * 1.5
    capped = simulate_cascade(_grid_map(short=everywhere), 101.0, depth_model=FLAT, max_rounds=2)
    assert (capped.outcome, capped.rounds) == ("max_rounds", 2)
    assert capped.final_price == pytest.approx(113.0)


def _book(ask_notional: list[float]) -> OrderBook:
    """Mid 100; asks every 0.1 from 100.1 holding the given notionals; one bid at 99.9."""
    prices: FloatArray = 100.0 + 0.1 * np.arange(1, len(ask_notional) + 1.0)
    return OrderBook(
        timestamp=0,
        bid_prices=np.array([99.9]),
        bid_sizes=np.array([10.0]),
        ask_prices=prices,
        ask_sizes=np.array(ask_notional) / prices,
    )


def _fine_map(short: dict[float, float]) -> LiquidationMap:
    """Linear grid of 0.1-wide bins from 90 to 110; keys are bin lower edges."""
    grid = PriceGrid.around(90.0, 110.0, 200, log=False)
    s = np.zeros(200)
    for lo, v in short.items():
        s[round((lo - 90.0) * 10)] = v
    return LiquidationMap(grid, 100.0, 0, np.zeros(200), s)


def test_book_walk_inside_the_book() -> None:
    book = _book([M] * 10)  # $1M per 0.1 % up to 101: D(v) = 1e9·v
    res = simulate_cascade(_fine_map({100.1: 2 * M}), 100.2, book=book)
    # D(push) = 2M; 2M + 2M of forced flow → v = 0.4 %
    assert res.final_price == pytest.approx(100.4)
    assert res.r_ratio == pytest.approx(1.0)
    assert res.depth_source == "book"


def test_book_runs_out_then_the_model_takes_over() -> None:
    book = _book([M] * 10)
    wall = _fine_map({100.1: 20 * M})
    anchored = simulate_cascade(wall, 100.2, book=book)
    # anchored tail (β = 1) continues the book's $10M per 1 %: 22M → v = 2.2 %
    assert anchored.final_price == pytest.approx(102.2)
    assert anchored.depth_source == "model"
    loose = simulate_cascade(
        wall, 100.2, book=book, depth_model=DepthModel(1.5e10, 1.0), anchor_model_to_book=False
    )
    # $10M in the book up to 1 %, then $150M per 100 %: 12M more → v = 1 % + 0.08 %
    assert loose.final_price == pytest.approx(101.08)
    no_book = simulate_cascade(wall, 100.2, depth_model=FLAT)
    assert no_book.depth_source == "model"
    assert no_book.final_price == pytest.approx(100.2 + 20.0)


def test_invalid_arguments() -> None:
    m = _grid_map(short={100: M})
    with pytest.raises(ModelError):
        simulate_cascade(m, 100.0)
    with pytest.raises(ModelError):
        simulate_cascade(m, -5.0)
    with pytest.raises(ModelError):
        simulate_cascade(m, 101.0, max_rounds=-1)
    with pytest.raises(ModelError):
        DepthModel(A=0.0)
    with pytest.raises(ModelError):
        DepthModel(beta=-1.0)


def test_depth_model_round_trip() -> None:
    model = DepthModel.through(0.01, 150e6, beta=1.3)
    assert model.depth(0.01) == pytest.approx(150e6)
    assert model.distance(model.depth(0.037)) == pytest.approx(0.037)
    assert DepthModel().depth(0.01) == pytest.approx(150e6)


def _btc_book() -> OrderBook:
    if not BTC_BOOK.exists():
        pytest.skip(f"recorded BTCUSDT book not found at {BTC_BOOK} (../shared is absent)")
    raw = json.loads(BTC_BOOK.read_text())
    bids: FloatArray = np.array(raw["bids"], dtype=np.float64)
    asks: FloatArray = np.array(raw["asks"], dtype=np.float64)
    return OrderBook(int(raw["T"]), bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1])


def test_real_btc_book_walk() -> None:
    """Shorts spread evenly (log-price) over +0.05 … +2 % above a real BTCUSDT book's mid."""
    book = _btc_book()
    mid = book.mid
    grid = PriceGrid.around(mid * 0.9, mid * 1.1, 400)
    centers = grid.centers
    short = np.where((centers > mid * 1.0005) & (centers < mid * 1.02), 1.0, 0.0)
    m = LiquidationMap(grid, mid, 0, np.zeros(400), short * 2e6)
    ask_notional = book.ask_prices * book.ask_sizes

    def consumed(price: float) -> tuple[float, float]:
        """Ask notional at or below ``price``, and that plus the next level."""
        i = int(np.searchsorted(book.ask_prices, price, side="right"))
        low = float(ask_notional[:i].sum())
        return low, low + float(ask_notional[i]) if i < len(ask_notional) else math.inf

    small = simulate_cascade(m, mid * 1.0008, book=book)
    assert small.depth_source == "book"
    assert small.final_price >= small.push_price
    assert small.forced_notional >= small.path_forced[0] > 0
    lo_push, hi_push = consumed(small.push_price)
    lo_final, hi_final = consumed(small.final_price)
    # the forced flow ate the book between the push and the final price
    assert lo_final <= hi_push + small.forced_notional
    assert hi_final >= lo_push + small.forced_notional

    large = simulate_cascade(m, mid * 1.01, book=book)
    assert large.depth_source == "model"
    assert large.final_price > large.push_price
    assert np.all(np.diff(large.path_prices) > 0)
    down = simulate_cascade(m, mid * 0.99, book=book)
    assert (down.direction, down.forced_notional, down.rounds) == (-1, 0.0, 0)


@settings(max_examples=60, deadline=None)
@given(
    notionals=st.lists(st.floats(0.0, 5e7), min_size=40, max_size=40),
    push=st.floats(0.002, 0.08),
    up=st.booleans(),
    beta=st.floats(0.5, 2.0),
)
def test_fixed_point_property(notionals: list[float], push: float, up: bool, beta: float) -> None:
    """Wherever it converges, the walk ends where the depth eaten beyond the push equals
    the forced flow, and the forced flow is exactly the notional crossed on the way."""
    grid = PriceGrid.around(80.0, 125.0, 40)
    values = np.array(notionals)
    m = LiquidationMap(grid, 100.0, 0, values, values)
    model = DepthModel.through(0.01, 1e8, beta)
    res = simulate_cascade(m, 100.0 * (1 + push if up else 1 - push), depth_model=model)
    v_push = abs(res.push_price / 100.0 - 1)
    v_final = abs(res.final_price / 100.0 - 1)
    assert v_final >= v_push
    crossed = short_notional_above(m, 0.0, v_final) if up else long_notional_below(m, 0.0, v_final)
    assert res.forced_notional == pytest.approx(crossed, rel=1e-9, abs=1e-3)
    assert np.all(np.diff(res.path_prices) * res.direction > 0)
    if res.outcome != "max_rounds" and res.rounds > 0:
        # converged: what is left of the flow would move price by less than 1e-7
        eaten = model.depth(v_final) - model.depth(v_push)
        slack = model.depth(v_final + 1e-7) - model.depth(v_final)
        assert -1e-6 * eaten <= res.forced_notional - eaten <= slack * (1 + 1e-6)
