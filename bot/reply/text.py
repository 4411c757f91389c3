"""Reply text from Jinja2 templates, per platform.

A :class:`~bot.reply.Reply` names a template (``"heatmap"``); the file is
``templates/<platform>/heatmap.j2`` when that variant exists, else the neutral
``templates/heatmap.j2``. Includes resolve the same way, so a platform variant can reuse
neutral partials (``_caveat.j2``).

Escaping, so that no user- or market-provided string can change the formatting:

* **telegram** — HTML parse mode; autoescape is on, every ``{{ value }}`` is HTML-escaped.
* **discord** — Markdown; every ``{{ value }}`` has Markdown control characters escaped
  (and ``@everyone``/``@here`` defused).
* **console** — plain text, nothing escaped.

``{{ bold(x) }}`` / ``{{ code(x) }}`` emphasise a value in the platform's own markup.
Numbers go through the filters ``usd``, ``price``, ``ratio``, ``imbalance``, ``pct``,
``signed_pct``, ``fixed``, ``count``, ``ago`` and ``side`` (:mod:`core.charts.format`), never
through ``str``. An imbalance is always shown with ``imbalance`` (``9.3:1 longs over
shorts``), the one convention of every reply, card, chart, alert and thread; ``ratio`` is
for thresholds only. A market goes through ``market`` (``BTC/USDT:USDT`` → ``BTC``). Undefined names
are errors (``StrictUndefined``); any template problem becomes :class:`TemplateError`
naming the file.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from bot.reply import Platform, Reply
from core.charts.format import (
    human_duration,
    human_price,
    human_ratio,
    human_usd,
    imbalance_ratio,
    market_name,
)
from core.models import Side

__all__ = [
    "PLATFORMS",
    "TEMPLATE_DIR",
    "TemplateError",
    "Templates",
    "check_templates",
    "escape_markdown",
    "render_reply",
]

#: The templates shipped with liqwatch (top-level ``templates/`` of the checkout).
TEMPLATE_DIR: Final = Path(__file__).resolve().parents[2] / "templates"
PLATFORMS: Final[tuple[Platform, ...]] = ("telegram", "discord", "console")


class TemplateError(Exception):
    """A template is missing, does not parse, or failed to render; names the file."""

    def __init__(self, template: str, problem: str) -> None:
        super().__init__(f"template {template}: {problem}")
        self.template = template
        self.problem = problem


_MARKDOWN_SPECIAL: Final = re.compile(r"([\\*_~`|<\[\]])")
#: quote, heading and list markers only act at the start of a line
#: a list, heading, quote or subtext marker: only these make a line start special
_MARKDOWN_LINE_START: Final = re.compile(r"(^|\n)([>#-])(?=[ #>])")
_MASS_MENTION: Final = re.compile(r"@(everyone|here)", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """Discord Markdown control characters backslash-escaped; mass mentions defused."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    escaped = _MARKDOWN_LINE_START.sub(r"\1\\\2", escaped)
    return _MASS_MENTION.sub("@\u200b\\1", escaped)


class _PlatformLoader(jinja2.BaseLoader):
    """``name`` → ``<root>/<platform>/<name>`` if present, else ``<root>/<name>``."""

    def __init__(self, root: Path, platform: Platform) -> None:
        self.root = root
        self.platform = platform

    def locate(self, name: str) -> Path | None:
        for candidate in (self.root / self.platform / name, self.root / name):
            if candidate.is_file():
                return candidate
        return None

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self.locate(template)
        if path is None:
            raise jinja2.TemplateNotFound(template)
        mtime = path.stat().st_mtime
        return path.read_text(encoding="utf-8"), str(path), lambda: path.stat().st_mtime == mtime

    def list_templates(self) -> list[str]:
        return sorted(p.name for p in self.root.glob("*.j2"))


def _pct(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def _signed_pct(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value * 100:+.{digits}f}%"


def _ago(age_ms: float | None) -> str:
    """``240000`` → ``4m ago``; under a minute → ``just now``; ``None`` → ``never``."""
    if age_ms is None or math.isnan(age_ms):
        return "never"
    if age_ms < 60_000:
        return "just now"
    return f"{human_duration(age_ms)} ago"


def _fixed(value: float, digits: int = 2) -> str:
    """A plain decimal (``1.37``) for unit-less model figures such as R; ``n/a`` for nan."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}f}"


def _count(value: int) -> str:
    return f"{value:,}"


def _imbalance(value: object) -> str:
    """``9.3:1 longs over shorts`` from an Imbalance or a mapping with the two totals."""
    source: Any = value
    if isinstance(value, Mapping):
        short, long_ = value["short_above"], value["long_below"]
    else:
        short, long_ = source.short_above, source.long_below
    return imbalance_ratio(float(short), float(long_))


def _side(value: Side | int) -> str:
    return "long" if int(value) == Side.LONG else "short"


def _markup(platform: Platform) -> tuple[Callable[[object], str], Callable[[object], str]]:
    """``bold`` and ``code`` helpers producing safe markup for ``platform``."""
    if platform == "telegram":
        return (lambda v: Markup("<b>{}</b>").format(v)), (
            lambda v: Markup("<code>{}</code>").format(v)
        )
    if platform == "discord":
        return (lambda v: Markup(f"**{escape_markdown(str(v))}**")), (
            lambda v: Markup(f"`{str(v).replace('`', 'ˋ')}`")
        )
    return (lambda v: str(v)), (lambda v: str(v))


def _discord_finalize(value: object) -> object:
    """Escape every expression's value unless a helper already made it safe markup."""
    return value if isinstance(value, Markup) else escape_markdown(str(value))


class Templates:
    """The template set of one folder, one Jinja environment per platform."""

    def __init__(self, root: Path = TEMPLATE_DIR) -> None:
        self.root = Path(root)
        self._envs = {platform: self._environment(platform) for platform in PLATFORMS}

    def _environment(self, platform: Platform) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=_PlatformLoader(self.root, platform),
            autoescape=platform == "telegram",
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_discord_finalize if platform == "discord" else None,
        )
        bold, code = _markup(platform)
        env.filters.update(
            usd=human_usd,
            price=human_price,
            ratio=human_ratio,
            imbalance=_imbalance,
            market=market_name,
            pct=_pct,
            signed_pct=_signed_pct,
            ago=_ago,
            duration=human_duration,
            side=_side,
            fixed=_fixed,
            count=_count,
        )
        env.globals.update(bold=bold, code=code, platform=platform)
        return env

    def path_of(self, name: str, platform: Platform) -> Path | None:
        """The file that serves ``name`` (``"heatmap"``) on ``platform``, or ``None``."""
        loader = self._envs[platform].loader
        assert isinstance(loader, _PlatformLoader)
        return loader.locate(f"{name}.j2")

    def render(self, name: str, context: dict[str, Any], platform: Platform) -> str:
        """Render template ``name`` for ``platform``; raises :class:`TemplateError`."""
        env = self._envs[platform]
        filename = f"{name}.j2"
        try:
            template = env.get_template(filename)
            text = template.render(context)
        except jinja2.TemplateNotFound as exc:
            missing = exc.name or filename
            raise TemplateError(str(self.root / str(missing)), "not found") from exc
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or str(self.root / filename)
            raise TemplateError(where, f"line {exc.lineno}: {exc.message}") from exc
        except jinja2.UndefinedError as exc:
            where = str(self.path_of(name, platform) or filename)
            raise TemplateError(where, f"undefined value: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            where = str(self.path_of(name, platform) or filename)
            raise TemplateError(where, str(exc)) from exc
        return _tidy(text)

    def check(self, required: Iterable[str] = ()) -> list[str]:
        """Every problem: a required neutral template missing, any ``.j2`` that fails to parse."""
        problems = [
            f"template {self.root / name}.j2: not found"
            for name in required
            if not (self.root / f"{name}.j2").is_file()
        ]
        for path in sorted(self.root.rglob("*.j2")):
            relative = path.relative_to(self.root)
            folder = relative.parts[0] if len(relative.parts) > 1 else ""
            platform = folder if folder in PLATFORMS else "console"
            if folder and folder not in PLATFORMS and folder not in NAMESPACES:
                allowed = ", ".join((*PLATFORMS, *NAMESPACES))
                problems.append(f"template {path}: unknown folder {folder!r} (use {allowed})")
                continue
            env = self._envs[platform]
            try:
                env.parse(path.read_text(encoding="utf-8"), path.name, str(path))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"template {path}: line {exc.lineno}: {exc.message}")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"template {path}: cannot read ({exc})")
        return problems


#: Folders of neutral templates that belong together (``thread/hook.j2``); platform
#: variants of them live under the platform folder (``telegram/thread/hook.j2``).
NAMESPACES: tuple[str, ...] = ("thread",)


def _tidy(text: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines left by skipped blocks."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)


@functools.cache
def _default_templates() -> Templates:
    return Templates(TEMPLATE_DIR)


def render_reply(reply: Reply, platform: Platform, *, templates: Templates | None = None) -> str:
    """The text of ``reply`` for ``platform`` (HTML for Telegram, Markdown for Discord);
    its ``notice``, if any, comes first, a blank line before the reply's own text."""
    chosen = templates or _default_templates()
    text = chosen.render(reply.template, dict(reply.context), platform)
    if reply.notice is not None:
        text = f"{render_reply(reply.notice, platform, templates=chosen)}\n\n{text}"
    return text


def check_templates(root: Path = TEMPLATE_DIR, required: Iterable[str] = ()) -> list[str]:
    """Load every template under ``root`` at start-up; the list of problems (empty: OK)."""
    if not root.is_dir():
        return [f"templates folder {root}: not found"]
    return Templates(root).check(required)
