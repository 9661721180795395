"""What the conversation answers, independent of Telegram: texts, buttons, documents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Telegram refuses messages over 4096 characters; stay clear of it after HTML escaping.
MAX_MESSAGE = 3900


@dataclass(frozen=True)
class Choice:
    """One inline button: its label and the action it stands for (signed when sent)."""

    label: str
    action: str


@dataclass(frozen=True)
class Document:
    """A file sent to the user."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    """One message to the chat; ``edit`` replaces the message whose button was pressed."""

    text: str
    buttons: tuple[tuple[Choice, ...], ...] = ()
    document: Document | None = None
    edit: bool = False
    html: bool = False
    # False for a message carrying a capability URL: no preview, so Telegram never fetches it.
    preview: bool = True


@dataclass
class Outcome:
    """Everything one update leads to."""

    replies: list[Reply] = field(default_factory=list)
    # The conversation step the buttons in ``replies`` are bound to.
    seq: int = 0
    # Text of the answer to a pressed button (a small notice in the client).
    notice: str | None = None
    # Work that must follow once this outcome's transaction committed and its replies are
    # out (a withdrawal and its purge): run in the database thread, it may ``announce`` an
    # outcome at once (e.g. "deleting now…") and returns the one that ends the update.
    follow_up: FollowUp | None = None


# Sends an outcome to the chat right away, from the database thread (blocks until sent).
Announce = Callable[[Outcome], None]
FollowUp = Callable[[Announce], Outcome]


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split ``text`` into messages under ``limit`` characters, at paragraph or line breaks."""
    chunks: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        pieces = [paragraph]
        if len(paragraph) > limit:
            pieces = _hard_split(paragraph, limit)
        for piece in pieces:
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def _hard_split(text: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            out.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = line
    if current:
        out.append(current)
    return out
