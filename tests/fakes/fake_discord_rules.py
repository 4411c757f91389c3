"""What real Discord refuses, checked by the fake Discord (API v10, as documented at
discord.com/developers/docs): message bodies (content, embeds, components, attachment
references) and application command registrations.

Each check returns :class:`Problem` s — a path into the JSON body (``components.0.
components.1.custom_id``), Discord's error code and message — and :func:`form_error` turns
them into the answer Discord gives: 400 with code 50035 ("Invalid Form Body") and an
``errors`` object nested along those paths, which discord.py flattens into its
``HTTPException`` text.

Limits (Discord's documented values): content ≤ 2000; ≤ 10 embeds; title ≤ 256,
description ≤ 4096, ≤ 25 fields (name ≤ 256, value ≤ 1024), footer ≤ 2048, author ≤ 256,
≤ 6000 characters over all embeds; ≤ 5 action rows of 1–5 buttons; custom_id 1–100 and
unique within the message; label ≤ 80; ``attachment://name`` must name a file uploaded
with the request. Commands: name ``^[-_\\p{L}\\p{N}]{1,32}$`` in lowercase, description
1–100, ≤ 25 options (same name rule, description 1–100, unique names), ≤ 25 choices
(name 1–100, string value ≤ 100), required options before optional ones, choices and
autocomplete not together, command names unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_CONTENT",
    "Problem",
    "Violation",
    "check_commands",
    "check_message",
    "form_error",
]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
MAX_FIELDS = 25
MAX_ROWS = 5
MAX_PER_ROW = 5
MAX_CUSTOM_ID = 100
MAX_LABEL = 80
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_NAME = 32
MAX_DESCRIPTION = 100

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One refused part of a request body."""

    path: Path
    code: str
    message: str

    @property
    def where(self) -> str:
        return ".".join(str(p) for p in self.path)


@dataclass(frozen=True)
class Violation:
    """A request the fake refused as Discord would (kept so that a test fails on it)."""

    method: str
    path: str
    status: int
    #: what was wrong: ``components.0.components.1.custom_id COMPONENT_CUSTOM_ID_DUPLICATED``
    detail: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}: {self.detail}"


def form_error(problems: Iterable[Problem]) -> dict[str, Any]:
    """Discord's 50035 answer: ``errors`` nested along each problem's path."""
    errors: dict[str, Any] = {}
    for problem in problems:
        node = errors
        for part in problem.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}


def _too_long(path: Path, limit: int) -> Problem:
    return Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_length(path: Path, low: int, high: int) -> Problem:
    return Problem(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


# --- messages --------------------------------------------------------------------------------


def _embed_text(embed: Mapping[str, Any]) -> int:
    """The characters Discord counts towards the 6000 per message."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        total += len(f.get("name") or "") + len(f.get("value") or "")
    return total


def _check_embed(
    i: int, embed: Mapping[str, Any], filenames: set[str], problems: list[Problem]
) -> None:
    for key, limit in EMBED_LIMITS.items():
        value = embed.get(key)
        if value is not None and len(value) > limit:
            problems.append(_too_long(("embeds", i, key), limit))
    fields = embed.get("fields") or []
    if len(fields) > MAX_FIELDS:
        problems.append(_too_long(("embeds", i, "fields"), MAX_FIELDS))
    for j, f in enumerate(fields):
        if not f.get("name") or len(f["name"]) > 256:
            problems.append(_bad_length(("embeds", i, "fields", j, "name"), 1, 256))
        if not f.get("value") or len(f["value"]) > 1024:
            problems.append(_bad_length(("embeds", i, "fields", j, "value"), 1, 1024))
    if len((embed.get("footer") or {}).get("text") or "") > 2048:
        problems.append(_too_long(("embeds", i, "footer", "text"), 2048))
    if len((embed.get("author") or {}).get("name") or "") > 256:
        problems.append(_too_long(("embeds", i, "author", "name"), 256))
    for key in ("image", "thumbnail"):
        url = str((embed.get(key) or {}).get("url") or "")
        if url.startswith("attachment://") and url.removeprefix("attachment://") not in filenames:
            message = (
                "Scheme \"attachment\" is not supported. Scheme must be one of ('http', 'https')."
            )
            problems.append(Problem(("embeds", i, key, "url"), "URL_TYPE_INVALID_SCHEME", message))


def _check_components(rows: Sequence[Any], problems: list[Problem]) -> None:
    if len(rows) > MAX_ROWS:
        problems.append(_too_long(("components",), MAX_ROWS))
    seen: set[str] = set()
    for r, row in enumerate(rows):
        if row.get("type") != 1:
            problems.append(
                Problem(("components", r, "type"), "UNION_TYPE_CHOICES", "Value must be 1.")
            )
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= MAX_PER_ROW:
            problems.append(_bad_length(("components", r, "components"), 1, MAX_PER_ROW))
        for c, child in enumerate(children):
            path: Path = ("components", r, "components", c)
            if child.get("type") != 2:
                continue  # selects and the like: the bot sends none
            label = child.get("label")
            if label is not None and len(label) > MAX_LABEL:
                problems.append(_too_long((*path, "label"), MAX_LABEL))
            if child.get("style") == 5:  # link button: url, no custom_id
                if not child.get("url"):
                    problems.append(
                        Problem((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
                    )
                continue
            custom_id = child.get("custom_id")
            if not custom_id:
                problems.append(
                    Problem((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
                )
                continue
            if len(custom_id) > MAX_CUSTOM_ID:
                problems.append(_too_long((*path, "custom_id"), MAX_CUSTOM_ID))
            if custom_id in seen:
                problems.append(
                    Problem(
                        (*path, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                )
            seen.add(custom_id)


def uploaded_filenames(body: Mapping[str, Any], files: Mapping[str, bytes]) -> set[str]:
    """The filenames of the attachments this request uploads (``files[<id>]`` parts)."""
    names: set[str] = set()
    for i, meta in enumerate(body.get("attachments") or []):
        if f"files[{meta.get('id', i)}]" in files and meta.get("filename"):
            names.add(str(meta["filename"]))
    return names


def check_message(
    body: Mapping[str, Any] | None, files: Mapping[str, bytes], *, edit: bool = False
) -> list[Problem]:
    """What Discord refuses in a message create / edit / interaction message body."""
    body = body or {}
    problems: list[Problem] = []
    content = body.get("content")
    if content is not None and len(content) > MAX_CONTENT:
        problems.append(_too_long(("content",), MAX_CONTENT))
    for i, meta in enumerate(body.get("attachments") or []):
        new = "filename" in meta
        if new and f"files[{meta.get('id', i)}]" not in files:
            problems.append(
                Problem(
                    ("attachments", i),
                    "ATTACHMENT_NOT_FOUND",
                    "Attachment data not found",
                )
            )
    embeds = body.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        problems.append(_too_long(("embeds",), MAX_EMBEDS))
    filenames = uploaded_filenames(body, files)
    for i, embed in enumerate(embeds):
        _check_embed(i, embed, filenames, problems)
    if sum(_embed_text(e) for e in embeds) > MAX_EMBED_TOTAL:
        problems.append(
            Problem(
                ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )
        )
    _check_components(body.get("components") or [], problems)
    empty = not (content or embeds or files or body.get("components") or body.get("sticker_ids"))
    if empty and not edit:
        problems.append(Problem((), "MESSAGE_EMPTY", "Cannot send an empty message"))
    return problems


# --- application commands --------------------------------------------------------------------


def _valid_name(name: object) -> bool:
    """``^[-_\\p{L}\\p{N}]{1,32}$``, and lowercase where a letter has a lowercase form."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        return False
    return all(ch in "-_" or ch.isalnum() for ch in name) and name == name.lower()


def _check_described(path: Path, item: Mapping[str, Any], problems: list[Problem]) -> None:
    if not _valid_name(item.get("name")):
        problems.append(
            Problem((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        )
    description = item.get("description")
    if not isinstance(description, str) or not 1 <= len(description) <= MAX_DESCRIPTION:
        problems.append(_bad_length((*path, "description"), 1, MAX_DESCRIPTION))


def _check_options(path: Path, options: Sequence[Any], problems: list[Problem]) -> None:
    if len(options) > MAX_OPTIONS:
        problems.append(_too_long((*path, "options"), MAX_OPTIONS))
    names: set[str] = set()
    optional_seen = False
    for i, option in enumerate(options):
        opath: Path = (*path, "options", i)
        _check_described(opath, option, problems)
        name = str(option.get("name"))
        if name in names:
            problems.append(
                Problem(
                    (*opath, "name"),
                    "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            )
        names.add(name)
        if option.get("required"):
            if optional_seen:
                problems.append(
                    Problem(
                        (*opath, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > MAX_CHOICES:
            problems.append(_too_long((*opath, "choices"), MAX_CHOICES))
        if choices and option.get("autocomplete"):
            problems.append(
                Problem(
                    (*opath, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                    "Autocomplete cannot be set with choices",
                )
            )
        for j, choice in enumerate(choices):
            cname = choice.get("name")
            if not isinstance(cname, str) or not 1 <= len(cname) <= 100:
                problems.append(_bad_length((*opath, "choices", j, "name"), 1, 100))
            value = choice.get("value")
            if isinstance(value, str) and not 1 <= len(value) <= 100:
                problems.append(_bad_length((*opath, "choices", j, "value"), 1, 100))
        if option.get("type") in (1, 2):  # sub-command (group): options of its own
            _check_options(opath, option.get("options") or [], problems)


def check_commands(commands: Any) -> list[Problem]:
    """What Discord refuses in a bulk overwrite of global commands (``PUT …/commands``)."""
    if not isinstance(commands, list):
        return [Problem((), "BASE_TYPE_ARRAY", "Must be an array.")]
    problems: list[Problem] = []
    if len(commands) > 100:
        problems.append(_too_long((), 100))
    seen: set[str] = set()
    for i, command in enumerate(commands):
        _check_described((i,), command, problems)
        name = str(command.get("name"))
        if name in seen:
            problems.append(
                Problem(
                    (i, "name"),
                    "APPLICATION_COMMAND_ALREADY_EXISTS",
                    "Application command names must be unique",
                )
            )
        seen.add(name)
        _check_options((i,), command.get("options") or [], problems)
        permissions = command.get("default_member_permissions")
        if permissions is not None and not str(permissions).isdigit():
            problems.append(
                Problem(
                    (i, "default_member_permissions"),
                    "NUMBER_TYPE_COERCE",
                    f'Value "{permissions}" is not snowflake.',
                )
            )
    return problems
