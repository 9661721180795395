"""The researcher side of the bot: ``/link``, ``/participants`` and recording uploads.

The rules (link codes, who may see which participants, rule 1 before a download) are the
domain's (``domain/researcher_links.py``); these handlers parse, call it and answer in English,
the language of the researcher commands. A Telegram account is known to the domain only by
its HMAC (``BotKeys.user_key``).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import BinaryIO

from telegram import Update

from fieldvault.bot.chat import sender_of
from fieldvault.bot.context import BotContext, FieldvaultApplication
from fieldvault.bot.handlers.enrolment import help_
from fieldvault.bot.texts import RESEARCHER_LANGUAGE, Gettext, gettext_for
from fieldvault.domain import researcher_links
from fieldvault.domain.errors import DomainError
from fieldvault.domain.recordings import RecordingRefused

CODE_IN_CAPTION = re.compile(r"\bP-[0-9A-HJKMNP-TV-Z]{6}\b", re.IGNORECASE)
# What the hosted Bot API lets a bot download.
HOSTED_DOWNLOAD_LIMIT = 20 * 1024 * 1024


# The caption carries the participant code; without one there is nothing to check or store.
NO_CODE = "put the participant code (such as P-7K3QXM) in the caption of the file"


def refusal(_: Gettext, reason: object) -> str:
    """Why an upload was not accepted (a domain refusal says it in plain words, no commands)."""
    return _("Not accepted: {reason}").format(reason=reason)


async def link(update: Update, context: BotContext) -> None:
    """``/link <code>``: link this Telegram account to a study as a researcher."""
    sender = sender_of(update)
    if sender is None:
        return
    _ = gettext_for(RESEARCHER_LANGUAGE)
    code = context.args[0] if context.args else ""
    fv = context.fv
    try:
        study_id = await fv.run(
            researcher_links.link_researcher,
            fv.services,
            code,
            fv.keys.user_key(sender.user_id),
            sender.chat_id,
            fv.clock(),
        )
    except DomainError:
        # A wrong code answers like any unknown message: it tells a stranger nothing.
        await help_(update, context)
        return
    text = _("Linked as a researcher of {study}. /participants lists its participants.")
    await context.bot.send_message(sender.chat_id, text.format(study=study_id))


async def _is_researcher(context: BotContext, user_id: int) -> bool:
    fv = context.fv
    studies = await fv.run(researcher_links.linked_studies, fv.services, fv.keys.user_key(user_id))
    return bool(studies)


async def participants(update: Update, context: BotContext) -> None:
    """``/participants``: codes and states (researchers only; others get the help text)."""
    sender = sender_of(update)
    if sender is None:
        return
    if not await _is_researcher(context, sender.user_id):
        await help_(update, context)
        return
    _ = gettext_for(RESEARCHER_LANGUAGE)
    fv = context.fv
    lines = await fv.run(
        researcher_links.participants_of, fv.services, fv.keys.user_key(sender.user_id)
    )
    text = "\n".join(f"{p.study_id}  {p.code}  {p.state}" for p in lines)
    await context.bot.send_message(sender.chat_id, text or _("No participants yet."))


async def upload(update: Update, context: BotContext) -> None:
    """A file with a participant code in its caption: a recording upload (researchers only).

    Over the usual length: the checks before the download, the download (local file or into
    memory, never plaintext on our disk) and the clean-up read best in one place, in order.
    """
    sender, message = sender_of(update), update.effective_message
    if sender is None or message is None:
        return
    if not await _is_researcher(context, sender.user_id):
        await help_(update, context)
        return
    _ = gettext_for(RESEARCHER_LANGUAGE)
    attachment = message.audio or message.voice or message.video or message.document
    if attachment is None:
        return
    fv = context.fv
    match = CODE_IN_CAPTION.search(message.caption or "")
    if match is None:
        await context.bot.send_message(sender.chat_id, refusal(_, NO_CODE))
        return
    account = fv.keys.user_key(sender.user_id)
    try:
        target = await fv.run(
            researcher_links.upload_target, fv.services, account, match.group(0).upper()
        )
    except DomainError as exc:
        await context.bot.send_message(sender.chat_id, refusal(_, exc))
        return
    size = attachment.file_size or 0
    if size > HOSTED_DOWNLOAD_LIMIT and not fv.services.settings.telegram_local_mode:
        await context.bot.send_message(
            sender.chat_id,
            _(
                "This file is larger than 20 MB, the most a bot may download from Telegram. "
                "Upload it through the web page instead, or run a local Bot API server "
                "(see the README)."
            ),
        )
        return
    telegram_file = await attachment.get_file()
    name = Path(telegram_file.file_path or "recording").name
    local = _local_path(fv, telegram_file.file_path)
    source: BinaryIO
    if local is not None:
        source = local.open("rb")
    else:
        # Held in memory only (at most 20 MB here); never written to disk in plaintext.
        source = io.BytesIO(bytes(await telegram_file.download_as_bytearray()))
    try:
        recording_id = await fv.run(_store, fv, target, name, source)
    except (RecordingRefused, DomainError) as exc:
        await context.bot.send_message(sender.chat_id, refusal(_, exc))
        return
    finally:
        source.close()
        if local is not None:
            # The local Bot API server keeps plaintext on its disk: remove it once stored.
            local.unlink(missing_ok=True)
    await context.bot.send_message(
        sender.chat_id,
        _("Recording {id} for {code} is stored encrypted and queued for transcription.").format(
            id=recording_id, code=target.code
        ),
    )


def _store(
    fv: FieldvaultApplication,
    target: researcher_links.UploadTarget,
    name: str,
    source: BinaryIO,
) -> int:
    return researcher_links.store_upload(
        fv.services, target, [(name, source)], fv.clock(), source="telegram"
    )


def _local_path(fv: FieldvaultApplication, file_path: str | None) -> Path | None:
    if not fv.services.settings.telegram_local_mode or not file_path:
        return None
    path = Path(file_path)
    return path if path.is_absolute() and path.is_file() else None
