"""Alert commands: /subscribe, /unsubscribe, /alerts and /settings.

Who may change what a chat receives (/subscribe, /unsubscribe, /settings with arguments):

* in a **private chat**, the person talking to the bot — they own the chat;
* in a **group or channel**, only a caller the adapter marked ``is_admin`` (a configured
  admin id, a Telegram group administrator, a Discord member with Manage Server).

The specs are therefore ``group_admin=True``, not ``admin=True`` (the registry would refuse
private chats, and menus would hide them): adapters look up group-admin rights for them,
and the handlers check ``ctx.is_group and not ctx.is_admin``. A refusal is a
:class:`~bot.commands.spec.Refusal` (shown without a usage line); when the adapter could not
look the rights up (``ctx.rights_unknown``) it says so and asks to try again. ``/alerts`` and a bare ``/settings`` only read, for anyone.

Rule names are validated with a "did you mean" hint; ``all`` means every rule.
"""

from __future__ import annotations

import asyncio
import difflib
from typing import Any, Final

from bot.analysis.service import MarketService
from bot.commands.spec import RIGHTS_UNCHECKED, ArgumentError, Call, CommandSpec, Param, Refusal
from bot.commands.values import parse_price, parse_symbol
from bot.config.settings import AlertSettings
from bot.notify.alerts import RULE_NAMES, RULES, rule_params
from bot.reply import Reply
from bot.state.followups import FOLLOWUP_SETTING
from bot.state.subscriptions import ALL_RULES, ChatSetting, Mode, Subscriptions

__all__ = [
    "ALERT_TEMPLATE_NAMES",
    "GROUP_ADMIN_ONLY",
    "MANAGE_SERVER_ONLY",
    "AlertCommands",
    "parse_rule",
    "typed_threshold",
]

#: Templates the replies and pushed alerts of this module name.
ALERT_TEMPLATE_NAMES: Final = ("subscribe", "alerts", "settings", "alert", "comeback", "followup")
GROUP_ADMIN_ONLY: Final = "Only admins of this group can change its alerts."
#: the same refusal on Discord, where the right is the Manage Server permission
MANAGE_SERVER_ONLY: Final = "Only members with Manage Server can change this server's alerts."
_MODES: Final[tuple[Mode, ...]] = ("on", "silent", "off")
#: how each rule's threshold is typed and shown (template filter)
_THRESHOLD_KIND: Final = {"ratio": "ratio", "proximity": "pct", "r": "fixed", "burst_usd": "usd"}
_THRESHOLD_KIND_DEFAULT: Final = "pct"


def _suggest(word: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f" Did you mean {close[0]}?" if close else ""


def parse_rule(token: str, *, allow_all: bool = True) -> str:
    """A rule name (case-insensitive) or ``all``; an :class:`ArgumentError` with a hint."""
    word = token.strip().lower()
    options = (*RULE_NAMES, ALL_RULES) if allow_all else RULE_NAMES
    if word in options:
        return word
    raise ArgumentError(
        f"Unknown alert rule '{token}'.{_suggest(word, options)} Rules: {', '.join(options)}."
    )


def _threshold_kind(rule: str) -> str:
    return _THRESHOLD_KIND.get(RULES[rule].threshold, _THRESHOLD_KIND_DEFAULT)


def typed_threshold(rule: str, value: float) -> str:
    """``value`` as a user would type it for ``rule`` (what :func:`parse_threshold` reads back):
    ``8``, ``0.5%``, ``2500000``."""
    kind = _threshold_kind(rule)
    if kind == "pct":
        return f"{value * 100:g}%"
    if kind == "usd":
        return f"{value:.0f}"
    return f"{value:g}"


def parse_threshold(rule: str, token: str) -> float:
    """A rule's threshold as typed: ``5`` / ``5x`` (ratio, R), ``1%`` / ``0.01`` (proximity,
    OI change), ``5m`` / ``$2.5M`` (a dollar burst)."""
    kind = _threshold_kind(rule)
    text = token.strip().lower()
    if kind == "usd":
        return parse_price(text)
    if kind == "pct":
        return _parse_fraction(token)
    value = float_or_none(text.removesuffix("x"))
    if value is None or value <= (1.0 if kind == "ratio" else 0.0):
        raise ArgumentError(f"Threshold '{token}' for {rule}: use a number above 1, e.g. 5.")
    return value


def float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _parse_fraction(token: str) -> float:
    """``0.5%`` → 0.005; a bare number below 1 is a fraction, from 1 up a percentage."""
    text = token.strip()
    number = float_or_none(text.removesuffix("%"))
    if number is not None and (text.endswith("%") or number >= 1):
        number /= 100
    if number is None or not 0 < number <= 1:
        raise ArgumentError(f"Threshold '{token}' is not a percentage. Use e.g. 1% or 0.01.")
    return number


class AlertCommands:
    """The alert command handlers, bound to a service, the subscriptions and the defaults."""

    def __init__(
        self,
        service: MarketService,
        subscriptions: Subscriptions,
        defaults: AlertSettings | None = None,
    ) -> None:
        self.service = service
        self.subs = subscriptions
        self.defaults = defaults or AlertSettings()

    def specs(self) -> tuple[CommandSpec, ...]:
        every = (*RULE_NAMES, ALL_RULES)
        rules = ", ".join(every)
        symbol = Param("symbol", "symbol", required=True, help="market, e.g. BTC")
        rule = Param(
            "rule", "choice", default=ALL_RULES, choices=every, help=f"{rules} (default all)"
        )
        return (
            CommandSpec(
                "subscribe",
                "Get alerts for a market in this chat",
                (symbol, rule),
                examples=("subscribe BTC", "subscribe ETH imbalance"),
                group_admin=True,
                handler=self.subscribe,
            ),
            CommandSpec(
                "unsubscribe",
                "Stop alerts for a market (or all) in this chat",
                (
                    Param(
                        "symbol",
                        "symbol",
                        required=True,
                        choices=(ALL_RULES,),
                        help="market, e.g. BTC, or all",
                    ),
                    rule,
                ),
                examples=("unsubscribe BTC", "unsubscribe all"),
                group_admin=True,
                handler=self.unsubscribe,
            ),
            CommandSpec(
                "alerts",
                "The alerts this chat receives",
                examples=("alerts",),
                handler=self.alerts,
            ),
            CommandSpec(
                "settings",
                "Alert rules of this chat: on, silent or off, and thresholds",
                (
                    Param(
                        "rule",
                        "choice",
                        choices=(*RULE_NAMES, FOLLOWUP_SETTING),
                        help="the rule to change, or followups (replies to cluster alerts)",
                    ),
                    Param("mode", "choice", choices=_MODES, help="on, silent or off"),
                    Param("threshold", "text", help="its threshold, e.g. 8, 0.5% or $2.5M"),
                ),
                examples=(  # the first is the one /help and error replies show
                    "settings imbalance silent",
                    "settings imbalance on 8",
                    "settings followups off",
                    "settings",
                ),
                group_admin=True,
                handler=self.settings,
            ),
        )

    # --- handlers ----------------------------------------------------------------------------

    @staticmethod
    def _check_rights(call: Call) -> None:
        ctx = call.ctx
        if ctx.is_group and not ctx.is_admin:
            if ctx.rights_unknown:  # the lookup failed: not a "no"
                raise Refusal(RIGHTS_UNCHECKED)
            raise Refusal(MANAGE_SERVER_ONLY if ctx.platform == "discord" else GROUP_ADMIN_ONLY)

    async def subscribe(self, call: Call) -> Reply:
        self._check_rights(call)
        rule = parse_rule(str(call.args["rule"]))
        symbol, _ = await self.service.resolve(call.args["symbol"], self.service.exchanges)
        rules = RULE_NAMES if rule == ALL_RULES else (rule,)
        ctx = call.ctx
        added = await asyncio.to_thread(
            self.subs.subscribe, ctx.platform, ctx.chat_id, symbol, rules
        )
        context = {"action": "subscribed", "symbol": symbol, "rules": list(rules), "count": added}
        return Reply("subscribe", context)

    async def unsubscribe(self, call: Call) -> Reply:
        self._check_rights(call)
        rule = parse_rule(str(call.args["rule"]))
        symbol: str | None = None
        if str(call.args["symbol"]).lower() != ALL_RULES:
            query = parse_symbol(str(call.args["symbol"]))
            symbol, _ = await self.service.resolve(query, self.service.exchanges)
        ctx = call.ctx
        removed = await asyncio.to_thread(
            self.subs.unsubscribe,
            ctx.platform,
            ctx.chat_id,
            symbol,
            None if rule == ALL_RULES else rule,
        )
        rules = list(RULE_NAMES) if rule == ALL_RULES else [rule]
        context = {
            "action": "unsubscribed",
            "symbol": symbol or "every market",
            "rules": rules,
            "count": removed,
        }
        return Reply("subscribe", context)

    async def alerts(self, call: Call) -> Reply:
        ctx = call.ctx
        subs = await asyncio.to_thread(self.subs.for_chat, ctx.platform, ctx.chat_id)
        settings = await asyncio.to_thread(self.subs.settings, ctx.platform, ctx.chat_id)
        by_symbol: dict[str, list[str]] = {}
        for sub in subs:
            by_symbol.setdefault(sub.symbol, []).append(sub.rule)
        markets = [
            {
                "symbol": symbol,
                "rules": [
                    {"name": r, "mode": settings.get(r, ChatSetting(r)).mode}
                    for r in RULE_NAMES
                    if r in rules
                ],
            }
            for symbol, rules in by_symbol.items()
        ]
        return Reply("alerts", {"markets": markets, "rules": self._rule_rows(settings)})

    async def settings(self, call: Call) -> Reply:
        ctx = call.ctx
        rule: str | None = call.args.get("rule")
        given_mode: str | None = call.args.get("mode")
        words = str(call.args.get("threshold") or "").split()
        changed: str | None = None
        if rule is not None and given_mode is None and not words:
            rule = None  # "/settings imbalance": nothing to change, show the rules
        if rule or given_mode or words:
            self._check_rights(call)
            if rule is None:
                if words:  # "/settings bogus on": the first word was meant as the rule
                    parse_rule(words[0], allow_all=False)
                raise ArgumentError("Which rule? Use /settings <rule> [on|silent|off] [value].")
            changed = rule
            current = await asyncio.to_thread(self.subs.setting, ctx.platform, ctx.chat_id, changed)
            mode: Mode = _as_mode(given_mode) if given_mode else current.mode
            threshold: float | None = None
            for word in words:  # typed lines may put the mode after the threshold
                if word.lower() in _MODES and given_mode is None:
                    given_mode = word.lower()
                    mode = _as_mode(given_mode)
                elif changed == FOLLOWUP_SETTING:
                    raise ArgumentError(
                        "followups takes on, silent or off: /settings followups off."
                    )
                elif threshold is None:
                    threshold = parse_threshold(changed, word)
                else:
                    raise ArgumentError(
                        "Too many words. Use /settings [rule] [on|silent|off] [value]."
                    )
            await asyncio.to_thread(
                self.subs.set_setting, ctx.platform, ctx.chat_id, changed, mode, threshold
            )
        settings = await asyncio.to_thread(self.subs.settings, ctx.platform, ctx.chat_id)
        followups = settings.get(FOLLOWUP_SETTING, ChatSetting(FOLLOWUP_SETTING)).mode
        context = {"rules": self._rule_rows(settings), "changed": changed, "followups": followups}
        return Reply("settings", {**context, "horizon_ms": self.defaults.followup_horizon})

    def _rule_rows(self, settings: dict[str, ChatSetting]) -> list[dict[str, Any]]:
        rows = []
        for name, rule in RULES.items():
            setting = settings.get(name, ChatSetting(name))
            default = rule_params(rule, self.defaults)[rule.threshold]
            rows.append(
                {
                    "name": name,
                    "summary": rule.summary,
                    "mode": setting.mode,
                    "threshold": setting.threshold if setting.threshold is not None else default,
                    "custom": setting.threshold is not None,
                    "kind": _threshold_kind(name),
                }
            )
        return rows


def _as_mode(word: str) -> Mode:
    for mode in _MODES:
        if mode == word:
            return mode
    raise ArgumentError(f"Mode '{word}': use on, silent or off.")
