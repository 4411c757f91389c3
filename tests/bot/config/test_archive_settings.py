"""The [archive] section: cadence and retention, validated."""

from __future__ import annotations

from pathlib import Path

from bot.config.settings import check_config, load_settings


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return check_config(path, env={})


def test_defaults_hourly_for_30_days() -> None:
    archive = load_settings(None, env={}).archive
    assert (archive.every, archive.keep) == (3_600_000, 30 * 86_400_000)


def test_the_example_config_documents_it() -> None:
    example = Path(__file__).parents[3] / "config.example.toml"
    assert "[archive]" in example.read_text()
    archive = load_settings(example, env={}).archive
    assert archive.every == 3_600_000


def test_bad_values_are_named(tmp_path: Path) -> None:
    assert _problems(tmp_path, '[archive]\nevery = "30m"\nkeep = "7d"\n') == []
    assert _problems(tmp_path, '[archive]\nevery = "1m"\n') == [
        "archive.every: '1m' is out of range, use between 5m and 1d"
    ]
    (keep,) = _problems(tmp_path, '[archive]\nevery = "12h"\nkeep = "20h"\n')
    assert keep.startswith("archive.keep: must be at least twice archive.every")
    (typo,) = _problems(tmp_path, '[archive]\nkep = "1d"\n')
    assert "did you mean keep" in typo
