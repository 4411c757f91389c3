"""The capability table is consistent data."""

from __future__ import annotations

import pytest

from bot.market.exchanges import EXCHANGES, profile_for
from core.models import TIMEFRAME_MS


@pytest.mark.parametrize("exchange_id", sorted(EXCHANGES))
def test_profiles_name_only_known_timeframes(exchange_id: str) -> None:
    profile = profile_for(exchange_id)
    assert profile.id == exchange_id
    for endpoint in (profile.candles, profile.open_interest, profile.long_short):
        assert set(endpoint.periods) <= set(TIMEFRAME_MS)
        assert endpoint.page > 0
    assert "5m" in profile.open_interest.periods  # the default candle has OI everywhere


def test_unknown_exchange_names_the_supported_ones() -> None:
    with pytest.raises(KeyError, match="binanceusdm"):
        profile_for("kraken")
