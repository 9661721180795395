"""Texts of the transcript list and the review editor (web/researcher/review.py)."""

from __future__ import annotations

T: dict[str, tuple[str, str]] = {
    # The transcript list.
    "Waiting for pseudonymisation": ("Venter på pseudonymisering", "Ventar på pseudonymisering"),
    "Under review": ("Til gjennomgang", "Til gjennomgang"),
    "Approved": ("Godkjent", "Godkjend"),
    "Transcripts of this study": (
        "Transkripsjoner i denne studien",
        "Transkripsjonar i denne studien",
    ),
    "Participant": ("Deltaker", "Deltakar"),
    "Recorded": ("Tatt opp", "Teke opp"),
    "Length": ("Lengde", "Lengd"),
    "Segments": ("Segmenter", "Segment"),
    "Segments to check": ("Segmenter å sjekke", "Segment å sjekke"),
    "Replacements": ("Erstatninger", "Erstatningar"),
    "State": ("Status", "Status"),
    "No transcript yet. Upload a recording; its transcript appears here when the job is done.": (
        "Ingen transkripsjon ennå. Last opp et opptak; transkripsjonen kommer her når jobben er "
        "ferdig.",
        "Ingen transkripsjon enno. Last opp eit opptak; transkripsjonen kjem her når jobben er "
        "ferdig.",
    ),
    # Categories of a replacement.
    "own name": ("eget navn", "eige namn"),
    "person": ("person", "person"),
    "workplace": ("arbeidsplass", "arbeidsplass"),
    "place": ("sted", "stad"),
    "e-mail": ("e-post", "e-post"),
    "phone": ("telefon", "telefon"),
    "user name": ("brukernavn", "brukarnamn"),
    "web address": ("nettadresse", "nettadresse"),
    "address": ("adresse", "adresse"),
    "national ID number": ("fødselsnummer", "fødselsnummer"),
    "organisation number": ("organisasjonsnummer", "organisasjonsnummer"),
    "date of birth": ("fødselsdato", "fødselsdato"),
    "other": ("annet", "anna"),
    # The status of a review item.
    "replaced, not checked": ("erstattet, ikke sjekket", "erstatta, ikkje sjekka"),
    "not checked": ("ikke sjekket", "ikkje sjekka"),
    "checked": ("sjekket", "sjekka"),
    "original kept": ("originalen beholdt", "originalen halden på"),
    "edited": ("redigert", "redigert"),
    # Roles of a speaker.
    "interviewer": ("intervjuer", "intervjuar"),
    "informant": ("informant", "informant"),
    # The editor.
    "Transcript of {code}": ("Transkripsjon av {code}", "Transkripsjon av {code}"),
    "Approved: this text is research data and can no longer be edited here.": (
        "Godkjent: denne teksten er forskningsdata og kan ikke lenger redigeres her.",
        "Godkjend: denne teksten er forskingsdata og kan ikkje lenger redigerast her.",
    ),
    "Under review: {items} items, {unchecked} suspects not checked yet.": (
        "Til gjennomgang: {items} punkter, {unchecked} mistenkelige ikke sjekket ennå.",
        "Til gjennomgang: {items} punkt, {unchecked} mistenkelege ikkje sjekka enno.",
    ),
    "Recording": ("Opptak", "Opptak"),
    "Track": ("Spor", "Spor"),
    "Track {n}": ("Spor {n}", "Spor {n}"),
    "Your browser cannot play this recording.": (
        "Nettleseren din kan ikke spille av dette opptaket.",
        "Nettlesaren din kan ikkje spele av dette opptaket.",
    ),
    "Play / pause": ("Spill av / pause", "Spel av / pause"),
    "Rewind on resume": ("Spol tilbake ved fortsettelse", "Spol tilbake når du held fram"),
    "{n} s": ("{n} s", "{n} s"),
    "Speed": ("Hastighet", "Fart"),
    "The recording has been deleted; the text remains.": (
        "Opptaket er slettet; teksten er igjen.",
        "Opptaket er sletta; teksten er att.",
    ),
    "Not saved yet…": ("Ikke lagret ennå …", "Ikkje lagra enno …"),
    "Saving…": ("Lagrer …", "Lagrar …"),
    "All changes saved.": ("Alle endringer er lagret.", "Alle endringar er lagra."),
    "Not saved: try again.": ("Ikke lagret: prøv igjen.", "Ikkje lagra: prøv igjen."),
    "Someone else saved this transcript since you opened it. Your change was not saved: reload "
    "the page to see theirs, then make it again.": (
        "Noen andre har lagret denne transkripsjonen etter at du åpnet den. Endringen din ble "
        "ikke lagret: last inn siden på nytt for å se deres, og gjør den så igjen.",
        "Nokon andre har lagra denne transkripsjonen etter at du opna han. Endringa di vart "
        "ikkje lagra: last inn sida på nytt for å sjå deira, og gjer ho så igjen.",
    ),
    "Keyboard shortcuts": ("Hurtigtaster", "Snøggtastar"),
    "play or pause (also while typing)": (
        "spill av eller pause (også mens du skriver)",
        "spel av eller pause (også medan du skriv)",
    ),
    "play or pause": ("spill av eller pause", "spel av eller pause"),
    "5 seconds back / forward": ("5 sekunder tilbake / fram", "5 sekund tilbake / fram"),
    "slower / faster": ("saktere / raskere", "seinare / raskare"),
    "previous / next segment": ("forrige / neste segment", "førre / neste segment"),
    "play from the segment in focus": (
        "spill av fra segmentet i fokus",
        "spel av frå segmentet i fokus",
    ),
    "Letters and arrows work when the cursor is not in a text field.": (
        "Bokstaver og piler virker når markøren ikke står i et tekstfelt.",
        "Bokstavar og piler verkar når markøren ikkje står i eit tekstfelt.",
    ),
    "Speakers": ("Talere", "Talarar"),
    "Name shown": ("Navn som vises", "Namn som blir vist"),
    "Role": ("Rolle", "Rolle"),
    "Save": ("Lagre", "Lagre"),
    "guessed": ("gjettet", "gjetta"),
    "Text": ("Tekst", "Tekst"),
    "Check:": ("Sjekk:", "Sjekk:"),
    "suspect": ("mistenkelig", "mistenkeleg"),
    "Text in place of item {n}": ("Tekst i stedet for punkt {n}", "Tekst i staden for punkt {n}"),
    "Accept": ("Godta", "Godta"),
    "Save text": ("Lagre teksten", "Lagre teksten"),
    "Keep original": ("Behold originalen", "Behald originalen"),
    "Approve": ("Godkjenn", "Godkjenn"),
    "Approving makes the reviewed text of {code} research data: all {n} of their transcripts "
    "under review are approved together, as with “fieldvault transcript approve”.": (
        "Godkjenning gjør den gjennomgåtte teksten til {code} til forskningsdata: alle {n} "
        "transkripsjonene deres som er til gjennomgang, godkjennes samlet, som med «fieldvault "
        "transcript approve».",
        "Godkjenning gjer den gjennomgåtte teksten til {code} til forskingsdata: alle {n} "
        "transkripsjonane deira som er til gjennomgang, blir godkjende samla, som med "
        "«fieldvault transcript approve».",
    ),
    "{n} suspects have not been checked; approving records that.": (
        "{n} mistenkelige er ikke sjekket; godkjenningen registrerer det.",
        "{n} mistenkelege er ikkje sjekka; godkjenninga registrerer det.",
    ),
}
