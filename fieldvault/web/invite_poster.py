"""An invite as a QR code (segno) and as a printable A4 poster (fpdf2).

The QR code holds the web consent link (``/join/<code>``), which any phone camera opens; the
poster prints it with the Telegram link beside it. Both are made in memory from the code the
researcher's browser sent back: the server never stores an invite code in the clear.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import segno
from fpdf import FPDF

from fieldvault.web.receipt_pdf import latin1

QR_SCALE = 8  # px per module in the PNG: about 300 px for a link of this length
POSTER_QR_MM = 110


def telegram_link(bot_username: str, code: str) -> str:
    """The deep link that opens the bot with the invite code as start payload."""
    return f"https://t.me/{bot_username}?start={code}"


def web_link(base_url: str, code: str) -> str:
    """The web consent page for informants without Telegram."""
    return f"{base_url.rstrip('/')}/join/{code}"


def qr_png(link: str, scale: int = QR_SCALE) -> bytes:
    """A PNG of the QR code of ``link`` (error correction M, quiet zone of 4)."""
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_data_uri(link: str, scale: int = 5) -> str:
    """The QR code of ``link`` as a ``data:image/png`` URI, to show it without another request."""
    return str(segno.make(link, error="m").png_data_uri(scale=scale, border=4))


def poster_pdf(
    *,
    title: str,
    web: str,
    telegram: str,
    expires: dt.date,
    gettext: Callable[[str], str],
    created: dt.datetime,
) -> bytes:
    """An A4 poster: the study's title, the QR code, both links and the last day it works."""
    _ = gettext
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(latin1(_("Invitation to take part in a study")))
    pdf.set_creator("fieldvault")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Helvetica", "B", 22)
    pdf.multi_cell(width, 11, latin1(title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 14)
    pdf.multi_cell(
        width,
        8,
        latin1(_("Scan the code with your phone's camera to read about the study and answer.")),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    left = (pdf.w - POSTER_QR_MM) / 2
    pdf.image(io.BytesIO(qr_png(web, scale=10)), x=left, y=pdf.get_y(), w=POSTER_QR_MM)
    pdf.set_y(pdf.get_y() + POSTER_QR_MM + 6)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(width, 6, latin1(_("Or open this address:")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 10)
    pdf.multi_cell(width, 5, latin1(web), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(width, 6, latin1(_("In Telegram:")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 10)
    pdf.multi_cell(width, 5, latin1(telegram), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(
        width,
        6,
        latin1(_("This code can be used once, until {date}.").format(date=expires.isoformat())),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
