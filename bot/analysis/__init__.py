"""The one path to an Analysis and its PNGs: the market service, the CPU-bound engine behind it, the render cache."""
