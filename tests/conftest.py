"""Shared test settings: offline, deterministic, headless."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "agg")

from hypothesis import HealthCheck, settings

settings.register_profile(
    "liqwatch",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=100,
)
settings.load_profile("liqwatch")
