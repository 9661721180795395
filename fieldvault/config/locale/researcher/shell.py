"""Texts of the researcher pages' frame: navigation, login, error pages."""

from __future__ import annotations

T: dict[str, tuple[str, str]] = {
    "Skip to content": ("Hopp til innholdet", "Hopp til innhaldet"),
    "Main": ("Hovedmeny", "Hovudmeny"),
    "Studies": ("Studier", "Studiar"),
    "Log out": ("Logg ut", "Logg ut"),
    "Log in": ("Logg inn", "Logg inn"),
    "Wrong e-mail or password.": ("Feil e-post eller passord.", "Feil e-post eller passord."),
    "E-mail": ("E-post", "E-post"),
    "Password": ("Passord", "Passord"),
    "Not found": ("Ikke funnet", "Ikkje funne"),
    "There is nothing here, or it is not yours to see.": (
        "Det finnes ingenting her, eller det er ikke ditt å se.",
        "Det finst ingenting her, eller det er ikkje ditt å sjå.",
    ),
    "Back to your studies": ("Tilbake til studiene dine", "Tilbake til studiane dine"),
    "Not allowed": ("Ikke tillatt", "Ikkje tillate"),
    "Your role in this study does not allow this, or the form was out of date. Reload the page "
    "and try again, or ask the study's owner.": (
        "Rollen din i denne studien tillater ikke dette, eller skjemaet var utdatert. Last inn "
        "siden på nytt og prøv igjen, eller spør studiens eier.",
        "Rolla di i denne studien tillèt ikkje dette, eller skjemaet var utdatert. Last inn "
        "sida på nytt og prøv igjen, eller spør eigaren av studien.",
    ),
    "Something went wrong": ("Noe gikk galt", "Noko gjekk gale"),
    "The request could not be completed. Nothing was changed. Try again in a moment.": (
        "Forespørselen kunne ikke fullføres. Ingenting ble endret. Prøv igjen om litt.",
        "Førespurnaden kunne ikkje fullførast. Ingenting vart endra. Prøv igjen om litt.",
    ),
}
T.update(
    {
        "Overview": ("Oversikt", "Oversikt"),
        "Participants": ("Deltakere", "Deltakarar"),
        "Upload": ("Last opp", "Last opp"),
        "Jobs": ("Jobber", "Jobbar"),
        "Transcripts": ("Transkripsjoner", "Transkripsjonar"),
        "Exports": ("Eksport", "Eksport"),
        "Retention": ("Lagringstid", "Lagringstid"),
        "Audit": ("Revisjonslogg", "Revisjonslogg"),
    }
)
