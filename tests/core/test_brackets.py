"""Binance isolated liquidation prices against the worked examples in DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.brackets import DEFAULT_BTCUSDT_BRACKETS, Brackets, liquidation_price
from core.models import ModelError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.parametrize(
    ("leverage", "distance"), [(100, -0.0060241), (25, -0.0361446), (10, -0.0963855)]
)
def test_tier_one_long_distances(leverage: float, distance: float) -> None:
    px = liquidation_price(90_000.0, leverage, 1, 10_000.0)
    assert px / 90_000.0 - 1 == pytest.approx(distance, abs=1e-6)


def test_short_formula_by_hand() -> None:
    # tier 2 (mmr 0.5 %, cum 300): Q = 500_000 / 100 = 5_000
    expected = (100.0 * (1 + 1 / 20) + 300 / 5_000) / (1 + 0.005)
    assert float(liquidation_price(100.0, 20, -1, 500_000.0)) == pytest.approx(expected)


@given(
    entry=st.floats(1e-3, 1e6),
    leverage=st.sampled_from([2.0, 5.0, 10.0, 25.0, 50.0, 100.0]),
    notional=st.floats(10.0, 5e7),
)
def test_long_below_short_above_entry(entry: float, leverage: float, notional: float) -> None:
    tier = int(np.searchsorted(DEFAULT_BTCUSDT_BRACKETS.floors, notional, side="right")) - 1
    assume(leverage <= DEFAULT_BTCUSDT_BRACKETS.max_leverage[tier])  # the exchange allows no more
    long_px = float(liquidation_price(entry, leverage, 1, notional))
    short_px = float(liquidation_price(entry, leverage, -1, notional))
    assert long_px < entry < short_px


def test_cum_makes_maintenance_margin_continuous_across_brackets() -> None:
    b = DEFAULT_BTCUSDT_BRACKETS
    for floor in b.floors[1:]:
        mmr_below, cum_below = b.lookup(np.array([floor * (1 - 1e-12)]))
        mmr_at, cum_at = b.lookup(np.array([floor]))
        assert float(mmr_below[0]) < float(mmr_at[0])
        margin_below = floor * mmr_below[0] - cum_below[0]
        margin_at = floor * mmr_at[0] - cum_at[0]
        assert float(margin_below) == pytest.approx(float(margin_at), rel=1e-9)


def test_from_ccxt_tiers_matches_default_table() -> None:
    path = SHARED / "binance-usdm" / "leverage-tiers-ccxt.json"
    if not path.exists():
        pytest.skip(f"recorded data not present at {path}")
    tiers = json.loads(path.read_text())["BTC/USDT:USDT"]
    got = Brackets.from_ccxt_tiers(tiers)
    np.testing.assert_array_equal(got.mmr, DEFAULT_BTCUSDT_BRACKETS.mmr)
    np.testing.assert_array_equal(got.cum, DEFAULT_BTCUSDT_BRACKETS.cum)
    # without the raw `cum`, it is derived so that prices stay continuous: same numbers
    stripped = [{k: v for k, v in t.items() if k != "info"} for t in tiers]
    np.testing.assert_allclose(Brackets.from_ccxt_tiers(stripped).cum, got.cum)


def test_bad_table_rejected() -> None:
    with pytest.raises(ModelError, match="floors"):
        Brackets.from_rows([(10, 20, 0.01, 0, 10)])
    with pytest.raises(ModelError, match="mmr"):
        Brackets.from_rows([(0, 20, 1.5, 0, 10)])
