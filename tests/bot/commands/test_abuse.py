"""Abuse suite: hostile argument lines for every command, through ``Commands.run``.

For each spec of a fully built command set (info, market and alert commands, the alert
commands on a :class:`~bot.state.subscriptions.Subscriptions` over an in-memory store),
hypothesis generates 1,000 lines mixing huge and non-finite numbers, hostile unicode (emoji,
RTL marks, zero-width and combining characters, NUL), HTML and Markdown injection, mass
mentions, empty and whitespace-only arguments, 5,000-character tokens, hundreds of
arguments, ``@bot`` suffixes and mixed-case command names, from private and group chats,
admins and not. Properties checked on every line:

* ``run`` returns a Reply (``None`` only for a line addressed to another bot), never raises,
  and never falls through to the "something went wrong" apology (an unexpected exception);
* an error reply has a non-empty message and renders to at most 4,096 characters;
* the Telegram text is valid Telegram HTML (the fake server's validator), every ``<`` opens
  or closes an allowed tag and every ``&`` starts an entity;
* the Discord text has every user-typed Markdown control character escaped (outside the
  templates' own ``**bold**`` and code spans) and no live ``@everyone``/``@here``;
* a non-admin in a group never changes the group's alert subscriptions or settings.

Speed: the market service is the real :class:`~bot.analysis.service.MarketService` over the
stand-ins of ``tests.fakes.market_service`` (``FakeEngine`` answers with a fixed analysis
and does not render real charts; the real engine takes ~1 s per uncached chart, far too
slow for 12,000 lines). An example costs ~2.5 ms (run plus two renders and the checks); the
file runs in ~33 s on the 2-core CI machine. ``derandomize=True`` keeps CI reproducible.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.analysis.service import MarketService
from bot.commands.alert_cmds import GROUP_ADMIN_ONLY, MANAGE_SERVER_ONLY
from bot.commands.catalog import build_commands
from bot.commands.market_cmds import CommandDefaults
from bot.commands.registry import ADMIN_ONLY, APOLOGY, Commands
from bot.commands.registry import MANAGE_SERVER_ONLY as MANAGE_SERVER_COMMAND
from bot.commands.spec import CommandSpec
from bot.notify.alerts import RULE_NAMES
from bot.reply import RANGES, CallContext, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.fake_telegram import visible_html
from tests.fakes.market_service import FIVE_MIN, T0, FakeEngine, FakeSource

NOW: Final = T0 + 288 * FIVE_MIN + 30_000
BOT: Final = "liqwatch_bot"
EXCHANGES: Final = ("binanceusdm", "bybit")
EXAMPLES_PER_COMMAND: Final = 1_000
MAX_ERROR_TEXT: Final = 4_096

# --- the command set under attack ------------------------------------------------------------


@dataclass
class Bench:
    commands: Commands
    subs: Subscriptions
    store: Store


@contextmanager
def bench() -> Iterator[Bench]:
    store = Store(":memory:")
    sources = {name: FakeSource(name, candles=288) for name in EXCHANGES}
    service = MarketService(sources, store, engine=FakeEngine(render_seconds=0), clock=lambda: NOW)
    subs = Subscriptions(store)
    commands = build_commands(service, CommandDefaults(range=RANGES[1]), subscriptions=subs)
    try:
        yield Bench(commands, subs, store)
    finally:
        store.close()


def _all_specs() -> tuple[CommandSpec, ...]:
    with bench() as b:
        return b.commands.specs


SPECS: Final = _all_specs()
NAMES: Final = tuple(spec.name for spec in SPECS)

# --- hostile input ------------------------------------------------------------------------------

HUGE_NUMBERS: Final = (
    "1e308", "-1e308", "1e309", "9" * 400, "-" + "9" * 400, "0." + "0" * 400 + "1",
    "-0", "0", "00000", "nan", "NaN%", "inf", "-inf", "Infinity", "1e-320", "0x1p3",
    "1_000", "٣", "١٠٠%", "²", "½", "$" + "9" * 300 + "k", "9" * 50 + ",000", "5" * 30 + "x",
    "1e3%", "1.5.5", ".", "%", "$", "$.", ",,,", "1,00", "98,000.5m", "-5%", "+5", "5e",
)  # fmt: skip
INJECTIONS: Final = (
    "<b>", "</b>", "</code>", "<pre>", "<i>x</i>", "<a href='http://evil'>x</a>",
    '<a href="tg://user?id=1">', "<script>alert(1)</script>", "<", ">", "&", "&amp;",
    "&lt;b&gt;", "&#60;", "*", "**bold**", "_", "__u__", "~~s~~", "`", "```", "```py",
    "||spoiler||", "[x](http://evil)", "[x]", "\\", "\\*", "> quote", "# head", "- item",
    "@everyone", "@here", "@EveryOne", "<@123>", "<@&456>", "<#789>", "{{ x }}", "{% if %}",
    "%s", "{0}", "'; DROP TABLE subscriptions; --", "\"", "'",
)  # fmt: skip
UNICODE: Final = (
    "😀", "🇺🇸", "👨‍👩‍👧", "\u202eRTL\u202c", "\u200f", "\u200b", "\ufeff", "\u2060",
    "e\u0301\u0301\u0301", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "\x00", "a\x00b", "\x1b[31m", "\r",
    "ＢＴＣ", "ＢＴＣ/ＵＳＤＴ", "bTc", "İ", "ß", "ﬀ", "\u0130stanbul", "中文", "العربية",
)  # fmt: skip
GOOD_TOKENS: Final = (
    "BTC", "btc", "ETH", "sol", "BTCUSDT", "ETH/USDT:USDT", "BTCC", "DOGE", "all", "ALL",
    *EXCHANGES, "BYBIT", "kraken", *(r.label for r in RANGES), "1d", "1w", "7D", "5x",
    "5%", "10", "0.1", "50%", "0.5%", "98k", "$98.5K", "98,000", "105k", "1.2m", "2m",
    *RULE_NAMES, "imbalanse", "on", "silent", "off", "OFF", "8", "5", "1%", "$2.5M",
)  # fmt: skip
WHITESPACE: Final = (" ", "  ", "\t", "\n", " \u3000 ", "\u00a0", "\u2003", "\x1c")


def _long_tokens() -> st.SearchStrategy[str]:
    pieces = st.sampled_from(("9", "a", "<", "*", "😀", "ab_", "&", "\u200b", "BTC"))
    return st.builds(lambda p, n: p * n, pieces, st.integers(1_000, 5_000))


TOKEN: Final = st.one_of(
    st.sampled_from(GOOD_TOKENS),
    st.sampled_from(HUGE_NUMBERS),
    st.sampled_from(INJECTIONS),
    st.sampled_from(UNICODE),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=24),
    st.builds(
        "".join, st.lists(st.sampled_from((*INJECTIONS, *UNICODE, *GOOD_TOKENS)), max_size=4)
    ),
    _long_tokens(),
)
ARGS: Final = st.one_of(
    st.lists(TOKEN, max_size=4),
    st.lists(TOKEN, min_size=5, max_size=300),
)
#: plausible values per parameter kind, so that lines also get past parsing into handlers
KIND_TOKENS: Final[dict[str, tuple[str, ...]]] = {
    "symbol": ("BTC", "eth", "SOL", "BTCUSDT", "ETH/USDT:USDT", "btcc", "XRP"),
    "range": (*(r.label for r in RANGES), "1d", "1W"),
    "exchange": (*EXCHANGES, "all", "ALL"),
    "window": ("5%", "10", "0.1", "50%", "1%", "0.5%", "51%"),
    "price": ("98k", "105k", "$98,500", "80000", "95K", "1.2m", "90,000.5", "200k"),
    "choice": (*RULE_NAMES, "all", "on", "silent", "off", "Imbalance", "loud"),
    "text": (
        *RULE_NAMES, "all", "BTC", "eth", "on", "silent", "off", "8", "1%", "$2.5M", "0.01",
    ),
}  # fmt: skip


@st.composite
def shaped_args(draw: st.DrawFn, spec: CommandSpec) -> list[str]:
    """A line shaped like the spec — a plausible or hostile token per parameter, in any order."""
    tokens: list[str] = []
    for param in spec.params:
        count = draw(st.integers(0, 3)) if param.kind == "text" else draw(st.integers(0, 1))
        if param.required:
            count = max(count, draw(st.sampled_from((0, 1, 1, 1, 1))))
        for _ in range(count):
            hostile = draw(st.sampled_from((False, False, False, True)))
            tokens.append(draw(TOKEN if hostile else st.sampled_from(KIND_TOKENS[param.kind])))
    tokens += draw(st.lists(TOKEN, max_size=1))
    return list(draw(st.permutations(tokens))) if draw(st.booleans()) else tokens


@dataclass(frozen=True)
class Case:
    line: str
    tokens: tuple[str, ...]
    ctx: CallContext
    for_other_bot: bool


GROUP_MEMBER_CHAT: Final = "-100"


def _contexts() -> st.SearchStrategy[CallContext]:
    return st.builds(
        lambda platform, where, admin: CallContext(
            platform,
            {"private": "42", "group": GROUP_MEMBER_CHAT if not admin else "-200"}[where],
            "7",
            is_group=where == "group",
            is_admin=admin,
            user_name="<b>@everyone</b>",
        ),
        st.sampled_from(("telegram", "discord")),
        st.sampled_from(("private", "group")),
        st.booleans(),
    )


@st.composite
def cases(draw: st.DrawFn, spec: CommandSpec) -> Case:
    name = spec.name
    casing = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    head = "".join(c.upper() if up else c for c, up in zip(name, casing, strict=True))
    suffixes = ("", "", "", "", "", "", "@" + BOT, "@" + BOT, "@LiqWatch_Bot", "@other_bot")
    suffix = draw(st.sampled_from(suffixes))
    shaped = draw(st.sampled_from((True, True, True, False)))
    tokens = tuple(draw(shaped_args(spec) if shaped else ARGS))
    seps = draw(st.lists(st.sampled_from(WHITESPACE), min_size=len(tokens), max_size=len(tokens)))
    body = "".join(sep + token for sep, token in zip(seps, tokens, strict=True))
    lead = draw(st.sampled_from(("", " ", "\n")))
    trail = draw(st.sampled_from(("", " ", "\t\n")))
    line = f"{lead}/{head}{suffix}{body}{trail}"
    return Case(line, tokens, draw(_contexts()), suffix == "@other_bot")


# --- what safe output looks like ------------------------------------------------------------

_TELEGRAM_TAG: Final = re.compile(r"</?(?:b|i|code|pre)>|<a href=\"[^\"<>]*\">|</a>")
_ENTITY: Final = re.compile(r"&(?:amp|lt|gt|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")


def check_telegram(text: str) -> None:
    visible_html(text)  # raises like Telegram's "can't parse entities"
    for m in re.finditer("<", text):
        assert _TELEGRAM_TAG.match(text, m.start()), f"bare '<' at {m.start()}: {text!r}"
    for m in re.finditer("&", text):
        assert _ENTITY.match(text, m.start()), f"bare '&' at {m.start()}: {text!r}"


#: left to right, as Discord reads it: an escaped character, or a whole code span
_INERT: Final = re.compile(r"\\.|`[^`\n]*`", re.DOTALL)
_LIVE_MARKDOWN: Final = re.compile(r"[*_~|`\[\]<]")
_MASS_MENTION: Final = re.compile(r"@(?:everyone|here)", re.IGNORECASE)


def check_discord(text: str, typed: str) -> None:
    """No Markdown control character typed by the user is live in ``text``."""
    assert not _MASS_MENTION.search(text), text
    plain = _INERT.sub("", text).replace("**", "")
    live = set(_LIVE_MARKDOWN.findall(plain)) & set(typed)
    assert not live, f"unescaped {sorted(live)} in {text!r}"


def check_reply(reply: Reply, case: Case) -> None:
    if reply.is_error:
        message = reply.context.get("message")
        assert isinstance(message, str) and message.strip(), reply
        assert message != APOLOGY, f"unexpected exception for {case.line!r}"
    telegram = render_reply(reply, "telegram")
    discord = render_reply(reply, "discord")
    check_telegram(telegram)
    check_discord(discord, "".join(case.tokens))
    if reply.is_error:
        assert len(telegram) <= MAX_ERROR_TEXT, (len(telegram), case.line[:80])
        assert len(discord) <= MAX_ERROR_TEXT, (len(discord), case.line[:80])


def _group_state(b: Bench, platform: str) -> tuple[object, object]:
    return b.subs.for_chat(platform, GROUP_MEMBER_CHAT), b.subs.settings(
        platform, GROUP_MEMBER_CHAT
    )


# --- the properties --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_hostile_arguments_never_break_a_command(spec: CommandSpec) -> None:
    with bench() as b, asyncio.Runner() as runner:

        async def one(case: Case) -> None:
            reply = await b.commands.run(case.line, case.ctx, bot_username=BOT)
            if case.for_other_bot:
                assert reply is None
                return
            assert isinstance(reply, Reply), case.line
            check_reply(reply, case)
            if case.ctx.is_group and not case.ctx.is_admin:
                assert _group_state(b, case.ctx.platform) == ([], {}), case.line

        @settings(
            max_examples=EXAMPLES_PER_COMMAND,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case=cases(spec))
        def check(case: Case) -> None:
            runner.run(one(case))

        check()


def _changing_lines(spec: CommandSpec) -> list[str]:
    """The spec's examples that change something (a bare ``/settings`` only reads)."""
    return [f"/{e}" for e in spec.examples if len(e.split()) > 1]


PRIVILEGED: Final = tuple(s for s in SPECS if s.admin or s.group_admin)


def test_there_are_privileged_commands_to_check() -> None:
    assert {s.name for s in PRIVILEGED} >= {"subscribe", "unsubscribe", "settings"}
    assert all(_changing_lines(s) for s in PRIVILEGED)


@pytest.mark.parametrize("spec", PRIVILEGED, ids=lambda s: s.name)
@pytest.mark.parametrize("platform", ["telegram", "discord"])
async def test_group_members_are_refused_and_admins_are_not(
    spec: CommandSpec, platform: str
) -> None:
    member = CallContext(platform, "-100", "7", is_group=True)  # type: ignore[arg-type]
    admin = CallContext(platform, "-100", "8", is_group=True, is_admin=True)  # type: ignore[arg-type]
    with bench() as b:
        for line in _changing_lines(spec):
            refused = await b.commands.run(line, member)
            assert refused is not None and refused.is_error, line
            expected = (
                (MANAGE_SERVER_COMMAND, MANAGE_SERVER_ONLY)
                if platform == "discord"
                else (ADMIN_ONLY, GROUP_ADMIN_ONLY)
            )
            assert refused.context["message"] in expected, line
            assert not refused.context["usage"], line  # a refusal: no "Usage:" line
            allowed = await b.commands.run(line, admin)
            assert allowed is not None and not allowed.is_error, (line, allowed)


# --- the checks themselves, and the fixes the suite led to -----------------------------------


def test_the_checks_catch_what_they_are_for() -> None:
    check_telegram("<b>ok</b> &lt;b&gt; &amp; <code>x</code>")
    for bad in ("a <x> b", "a < b", "<b>open", "AT&T", "<a href='x'>y</a>"):
        with pytest.raises(Exception):  # noqa: B017 - validator error or assertion
            check_telegram(bad)
    check_discord("a \\*b\\* `c*d` **e**", "*")
    for bad, typed in (("a *b*", "*"), ("[x](y)", "[x](y)"), ("hi @everyone", "")):
        with pytest.raises(AssertionError):
            check_discord(bad, typed)


async def test_a_huge_argument_is_refused_without_echoing_it() -> None:
    user = CallContext("telegram", "42", "7")
    with bench() as b:
        reply = await b.commands.run("/levels " + "<" * 5_000, user)
    assert reply is not None and reply.is_error
    assert "too long (5,000 characters)" in reply.context["message"]
    assert len(render_reply(reply, "telegram")) < 300
