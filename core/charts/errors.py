"""The chart layer's one error type."""

from __future__ import annotations

__all__ = ["ChartError"]


class ChartError(ValueError):
    """A chart cannot be drawn as asked (unknown style, impossible size, bad direction)."""
