"""Where the tests find the repository and the recorded data beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: the checkout's root (``pyproject.toml``, ``config.example.toml``, ``templates/``)
REPO_ROOT: Final = Path(__file__).resolve().parents[1]
#: ``../shared/data``: real recorded exchange data (absent on some machines: tests skip)
SHARED_DATA: Final = REPO_ROOT.parent / "shared" / "data"
