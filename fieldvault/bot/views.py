"""The informant's texts and buttons that more than one room of the conversation shows.

Each function renders plain data (a study definition, a domain answer) into ``Reply`` objects
in one language, from the Babel catalogs; none touches the database or Telegram.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from fieldvault.bot.replies import Choice, Outcome, Reply, split_text
from fieldvault.bot.texts import Gettext, gettext_for
from fieldvault.config.languages import LANGUAGE_NAMES
from fieldvault.config.study import Contact, StudyDefinition
from fieldvault.domain.consent import State
from fieldvault.domain.withdrawal import PurgeReport
from fieldvault.errors import FieldvaultError
from fieldvault.storage.content import BlobKind


def invite_refused(_: Gettext) -> str:
    """For an invite that is unknown, expired or used."""
    return _(
        "Sorry, this invitation link does not work: it is unknown, expired or already used. "
        "Please ask the researcher for a new link. Nothing has been stored about you."
    )


def no_consent_to_withdraw(_: Gettext) -> str:
    """For a withdrawal when nothing is left to withdraw."""
    return _("You have no consent to withdraw.")


# Domain errors an informant can meet, by code: the words the bot shows for each (written as
# ``_()`` calls so that the catalog check finds them). Never the CLI's advice.
ERROR_TEXTS: dict[str, Callable[[Gettext], str]] = {
    "invite.unknown": invite_refused,
    "invite.used": invite_refused,
    "invite.expired": invite_refused,
    "consent.withdrawn": no_consent_to_withdraw,
    "consent.nothing_to_withdraw": no_consent_to_withdraw,
}


def error_text(_: Gettext, error: FieldvaultError, fallback: Callable[[Gettext], str]) -> str:
    """The informant's words for ``error``, by its code (``fallback`` for other codes)."""
    return ERROR_TEXTS.get(error.code, fallback)(_)


def language_buttons(definition: StudyDefinition) -> tuple[tuple[Choice, ...], ...]:
    """One button per language of the study, in the study's order."""
    return tuple(
        (Choice(LANGUAGE_NAMES.get(code, code), f"l.{code}"),) for code in definition.languages
    )


def language_chosen(code: str) -> Reply:
    """The edit that says which language was chosen, in that language."""
    _ = gettext_for(code)
    return Reply(
        _("Language: {language}").format(language=LANGUAGE_NAMES.get(code, code)), edit=True
    )


def ask_language(definition: StudyDefinition, lang: str, seq: int) -> Outcome:
    """Welcome to the study and ask which language to read the letter in."""
    _ = gettext_for(lang)
    text = _("Welcome! This is the study “{title}”.").format(title=definition.title)
    text += "\n\n" + _("Which language do you want to read the information in?")
    return Outcome([Reply(text, language_buttons(definition))], seq=seq)


def ask_reconsent(definition: StudyDefinition, lang: str, seq: int) -> Outcome:
    """The letter changed since the consent: ask to read it again."""
    _ = gettext_for(lang)
    text = _(
        "The information letter of “{title}” has changed since you consented. "
        "Please read the new version and answer again."
    ).format(title=definition.title)
    return Outcome([Reply(text, ((Choice(_("Read the new letter"), "rc"),),))], seq=seq)


def item_question(definition: StudyDefinition, lang: str, index: int, *, held: bool) -> Reply:
    """Consent item ``index`` as a Yes/No question, saying what a No means."""
    _ = gettext_for(lang)
    item = definition.consent_items[index]
    head = _("Question {n} of {total}").format(n=index + 1, total=len(definition.consent_items))
    if item.required and held:
        note = _(
            "This one is needed to take part: if you answer no, you leave the study and "
            "your recordings and the link to you are deleted."
        )
    elif item.required:
        note = _("This one is needed to take part: if you answer no, you will not be interviewed.")
    else:
        note = _("This one is optional: you can take part whatever you answer.")
    text = f"{head}\n\n{item.text[lang]}\n\n{note}"
    return Reply(text, ((Choice(_("Yes"), "y"), Choice(_("No"), "n")),))


def summary(
    definition: StudyDefinition, lang: str, answers: dict[str, bool], seq: int, *, held: bool
) -> Outcome:
    """The answers so far, to confirm or change (with a warning when that means leaving)."""
    _ = gettext_for(lang)
    lines = [_("Your answers:")]
    lines += [f"{mark(answers.get(i.id, False))} {i.text[lang]}" for i in definition.consent_items]
    if held and any(not answers.get(i) for i in definition.required_item_ids):
        lines += [
            "",
            _(
                "You answered no to a question that is needed to take part. If you confirm, "
                "you leave the study: your recordings, raw transcripts and the link between "
                "you and your code will be deleted. This cannot be undone."
            ),
        ]
    lines += ["", _("Confirm to give your consent, or change your answers.")]
    buttons = ((Choice(_("Confirm"), "ok"), Choice(_("Change"), "chg")),)
    return Outcome([Reply("\n".join(lines), buttons)], seq=seq)


def purge_done(lang: str, report: PurgeReport) -> Reply:
    """Tell the informant what the purge deleted."""
    _ = gettext_for(lang)
    lines = [_("Done. This is what was deleted:")]
    lines.append(
        "• " + _("recordings: {n}").format(n=report.shredded.get(BlobKind.RECORDING, 0)),
    )
    lines.append(
        "• " + _("raw transcripts: {n}").format(n=report.shredded.get(BlobKind.RAW_TRANSCRIPT, 0)),
    )
    other = report.total - report.shredded.get(BlobKind.RECORDING, 0)
    other -= report.shredded.get(BlobKind.RAW_TRANSCRIPT, 0)
    if other:
        lines.append("• " + _("other files about you: {n}").format(n=other))
    if report.identity_deleted:
        lines.append("• " + _("your name, Telegram ids and the link between you and your code"))
        lines += ["", _("We no longer know who you are. Thank you for your time.")]
    elif not report.total:
        lines = [_("Done. There was nothing to delete for this consent.")]
    return Reply("\n".join(lines))


def letter_messages(definition: StudyDefinition, lang: str, _: Gettext) -> list[str]:
    """The information letter as HTML messages under Telegram's limit, contacts last."""
    text = definition.letter_text(lang).strip()
    title, _sep, body = text.partition("\n")
    parts = [f"<b>{html.escape(title.strip())}</b>", html.escape(body.strip())]
    parts.append(html.escape(definition.legal_basis_sentence(lang)))
    parts.append(contacts_text(definition, _))
    # Split at paragraph breaks, which never fall inside a tag.
    return split_text("\n\n".join(parts))


def contacts_text(definition: StudyDefinition, _: Gettext) -> str:
    """Whom an informant can contact, as HTML."""
    c = definition.contacts
    rows: list[tuple[str, Contact]] = [(_("Researcher"), r) for r in c.researchers]
    if c.supervisor is not None:
        rows.append((_("Supervisor"), c.supervisor))
    rows.append((_("Data protection officer"), c.data_protection_officer))
    if c.assessment_body is not None:
        rows.append((_("Assessment"), c.assessment_body))
    rows.append((_("Complaints"), c.complaint_authority))
    heading = _("Contacts")
    lines = [f"<b>{html.escape(heading)}</b>"]
    for role, person in rows:
        reach = ", ".join(x for x in (person.email, person.phone) if x)
        lines.append(f"{html.escape(role)}: {html.escape(person.name)} ({html.escape(reach)})")
    return "\n".join(lines)


def letter_document(definition: StudyDefinition, lang: str, version: str, _: Gettext) -> str:
    """The letter as a text file to keep, with its version hash."""
    label = _("Letter version")
    return (
        f"{definition.letter_text(lang).strip()}\n\n"
        f"{definition.legal_basis_sentence(lang)}\n\n"
        f"{label}: {version}\n"
    )


def not_enrolled(_: Gettext) -> str:
    """For a chat that never redeemed an invite."""
    return _(
        "This bot collects consent for research interviews. To take part, open the invitation "
        "link the researcher sent you."
    )


def nothing_held(_: Gettext) -> str:
    """For a chat about which nothing is stored."""
    return _("We hold nothing about you in this chat.")


def idle_help(_: Gettext) -> str:
    """The informant's commands."""
    return _(
        "You can use these commands:\n"
        "/status – what we hold about you and until when\n"
        "/copy – a copy of all data about you\n"
        "/withdraw – withdraw your consent, wholly or in part\n"
        "/contact – whom to contact, and where to complain\n"
        "/language – change the language\n"
        "/help – this list"
    )


def yes_no(_: Gettext, value: bool) -> str:
    """Yes or No in the informant's language."""
    return _("Yes") if value else _("No")


def mark(value: bool) -> str:
    """A tick or a cross."""
    return "✅" if value else "❌"


def short(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def state_name(_: Gettext, state: State) -> str:
    """A participant state in plain words."""
    names = {
        State.INVITED: _("invited"),
        State.INFORMED: _("informed, not yet answered"),
        State.CONSENTED: _("consented"),
        State.DECLINED: _("declined"),
        State.WITHDRAWN: _("withdrawn"),
        State.INTERVIEWED: _("interviewed"),
        State.TRANSCRIBED: _("interview transcribed"),
        State.APPROVED: _("transcript approved"),
    }
    return names[state]
