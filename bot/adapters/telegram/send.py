"""Bot API calls that put one rendered reply on Telegram: new messages, or an edit in place.

A reply without images is sent as messages (≤ 4096 visible characters each, split on line
boundaries) with its keyboard on the last one. A reply with images is a photo whose caption
(≤ 1024) starts the text, the rest following as messages; several images without buttons go
as albums of up to ten. Editing replaces the pressed message's chart, caption or text and its
keyboard. Each Bot API call goes through ``attempt`` (the caller's retry policy,
:func:`bot.notify.retry.retrying`), so a retry repeats only the call that failed, never the
parts of a reply already sent; what still fails propagates: the caller decides what it means.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol, TypeVar

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ParseMode

from bot.adapters.telegram.text import CAPTION_LIMIT, TEXT_LIMIT, split_html
from bot.reply import Reply

__all__ = ["Attempt", "edit_in_place", "once", "send_new"]

_T = TypeVar("_T")


class Attempt(Protocol):
    """Runs one Bot API call (``op``), retrying it as the caller's policy says."""

    def __call__(self, op: Callable[[], Awaitable[_T]]) -> Awaitable[_T]: ...


def once(op: Callable[[], Awaitable[_T]]) -> Awaitable[_T]:
    """No retry: the call as it is."""
    return op()


_MEDIA_GROUP_MAX = 10
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def _text(
    bot: Bot,
    chat_id: str,
    chunk: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    quiet: bool = False,
    reply_to: ReplyParameters | None = None,
) -> Callable[[], Awaitable[Message]]:
    """One HTML text message as a call for ``attempt`` (no link previews)."""
    return partial(
        bot.send_message,
        chat_id,
        chunk,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        link_preview_options=_NO_PREVIEW,
        disable_notification=quiet,
        reply_parameters=reply_to,
    )


async def send_new(
    bot: Bot,
    chat_id: str,
    reply: Reply,
    text: str,
    markup: InlineKeyboardMarkup | None,
    *,
    reply_to: ReplyParameters | None = None,
    quiet: bool = False,
    attempt: Attempt = once,
) -> list[Message]:
    """Send ``reply`` (rendered as Telegram HTML ``text``, with keyboard ``markup``) to
    ``chat_id`` as new messages, a reply to ``reply_to`` if given; the messages sent."""
    quiet = quiet or reply.silent
    sent: list[Message] = []
    if not reply.images:
        chunks = split_html(text, TEXT_LIMIT)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            keyboard = markup if last else None
            sent.append(
                await attempt(
                    _text(bot, chat_id, chunk, markup=keyboard, quiet=quiet, reply_to=reply_to)
                )
            )
        return sent
    chunks = split_html(text, TEXT_LIMIT, first_limit=CAPTION_LIMIT)
    caption, rest = (chunks[0], chunks[1:]) if chunks else (None, [])
    first, *others = reply.images
    if others and markup is None:
        # an album; the caption goes on its first photo
        for start in range(0, len(reply.images), _MEDIA_GROUP_MAX):
            album = [
                InputMediaPhoto(
                    image.data,
                    filename=image.filename,
                    caption=caption if start + j == 0 else None,
                    parse_mode=ParseMode.HTML,
                )
                for j, image in enumerate(reply.images[start : start + _MEDIA_GROUP_MAX])
            ]
            sent.extend(
                await attempt(
                    partial(
                        bot.send_media_group,
                        chat_id,
                        album,
                        disable_notification=quiet,
                        reply_parameters=reply_to,
                    )
                )
            )
    else:
        # the keyboard belongs to the primary chart, which a button press edits in place
        sent.append(
            await attempt(
                partial(
                    bot.send_photo,
                    chat_id,
                    InputFile(first.data, filename=first.filename),
                    caption=caption,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    disable_notification=quiet,
                    reply_parameters=reply_to,
                )
            )
        )
        for image in others:
            sent.append(
                await attempt(
                    partial(
                        bot.send_photo,
                        chat_id,
                        InputFile(image.data, filename=image.filename),
                        disable_notification=quiet,
                        reply_parameters=reply_to,
                    )
                )
            )
    for chunk in rest:
        sent.append(await attempt(_text(bot, chat_id, chunk, quiet=quiet, reply_to=reply_to)))
    return sent


async def edit_in_place(
    bot: Bot,
    message: Message,
    reply: Reply,
    text: str,
    markup: InlineKeyboardMarkup | None,
    *,
    attempt: Attempt = once,
) -> None:
    """Replace ``message``'s chart/text and keyboard with ``reply`` (rendered as ``text``)."""
    chat_id = str(message.chat.id)
    as_caption = bool(reply.images or message.photo)
    chunks = split_html(text, TEXT_LIMIT, first_limit=CAPTION_LIMIT if as_caption else None)
    head, rest = (chunks[0], chunks[1:]) if chunks else (None, [])
    if reply.images:
        image = reply.images[0]
        media = InputMediaPhoto(
            image.data, filename=image.filename, caption=head, parse_mode=ParseMode.HTML
        )
        await attempt(
            partial(
                bot.edit_message_media,
                media,
                chat_id=chat_id,
                message_id=message.message_id,
                reply_markup=markup,
            )
        )
    elif message.photo:
        await attempt(
            partial(
                bot.edit_message_caption,
                chat_id=chat_id,
                message_id=message.message_id,
                caption=head,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        )
    elif head is not None:
        await attempt(
            partial(
                bot.edit_message_text,
                head,
                chat_id=chat_id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=_NO_PREVIEW,
            )
        )
    for chunk in rest:
        await attempt(_text(bot, chat_id, chunk))
