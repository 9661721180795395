"""The consent receipt as a PDF (fpdf2), text for text what the receipt page shows.

fpdf2's built-in Helvetica covers Latin-1, so Norwegian æ, ø and å render without shipping a
font file; the few typographic characters outside Latin-1 (curly quotes, dashes, ellipsis) are
written as their plain equivalents. The PDF names the receipt's SHA-256, which is computed over
the exact canonical text, so the proof never depends on the PDF's rendering. Creation time is
the consent's own, so the same record gives the same PDF.
"""

from __future__ import annotations

from collections.abc import Callable

from fpdf import FPDF

from fieldvault.domain.receipts import Receipt

PLAIN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)


def latin1(text: str) -> str:
    """``text`` as Helvetica can draw it (anything else outside Latin-1 becomes ``?``)."""
    return text.translate(PLAIN).encode("latin-1", errors="replace").decode("latin-1")


def receipt_lines(receipt: Receipt, gettext: Callable[[str], str]) -> list[tuple[str, str]]:
    """The receipt as (kind, text) lines: ``h`` heading, ``p`` paragraph, ``m`` monospaced."""
    _ = gettext
    lines: list[tuple[str, str]] = [
        ("h", _("Consent receipt")),
        ("p", _("Study: {title} ({id})").format(title=receipt.study_title, id=receipt.study_id)),
        ("p", _("Participant code: {code}").format(code=receipt.participant_code)),
        ("p", _("Recorded: {utc} (UTC)").format(utc=receipt.recorded_at.isoformat())),
        (
            "p",
            _("Local time: {local} ({zone})").format(
                local=receipt.local_time.isoformat(), zone=receipt.timezone
            ),
        ),
        ("p", _("Channel: {channel}").format(channel=receipt.channel)),
        ("p", _("Letter version (SHA-256 of the exact letter text):")),
        ("m", receipt.letter_version),
        ("h", _("You agreed to")),
    ]
    lines += [("p", "- " + i.text) for i in receipt.granted] or [("p", _("nothing"))]
    lines.append(("h", _("You refused")))
    lines += [("p", "- " + i.text) for i in receipt.refused] or [("p", _("nothing"))]
    lines += [("h", _("SHA-256 of this receipt's canonical text")), ("m", receipt.sha256)]
    return lines


def receipt_pdf(receipt: Receipt, gettext: Callable[[str], str]) -> bytes:
    """The PDF of ``receipt`` in the language of ``gettext``."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(receipt.recorded_at)
    pdf.set_title(latin1(gettext("Consent receipt")))
    pdf.set_creator("fieldvault")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for kind, text in receipt_lines(receipt, gettext):
        if kind == "h":
            pdf.set_font("Helvetica", "B", 14)
            pdf.ln(3)
            pdf.multi_cell(width, 8, latin1(text), new_x="LMARGIN", new_y="NEXT")
        elif kind == "m":
            pdf.set_font("Courier", "", 9)
            pdf.multi_cell(width, 5, latin1(text), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(width, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
