"""Texts of logging in: passwords, set-password links, the second factor, OIDC, study security."""

from __future__ import annotations

T: dict[str, tuple[str, str]] = {
    "Too many failed logins. Wait 15 minutes and try again; logging in from a browser you "
    "have used before works sooner.": (
        "For mange mislykte innlogginger. Vent 15 minutter og prøv igjen; innlogging fra en "
        "nettleser du har brukt før, går raskere.",
        "For mange mislukka innloggingar. Vent 15 minutt og prøv igjen; innlogging frå ein "
        "nettlesar du har brukt før, går raskare.",
    ),
    "Your login has expired. Start again with your password.": (
        "Innloggingen er utløpt. Begynn på nytt med passordet ditt.",
        "Innlogginga har gått ut. Byrja på nytt med passordet ditt.",
    ),
    "Log in with {provider}": ("Logg inn med {provider}", "Logg inn med {provider}"),
    "Enter your code": ("Skriv inn koden", "Skriv inn koden"),
    "That code is not right. Check the time on your phone and try again.": (
        "Koden er ikke riktig. Sjekk klokka på telefonen og prøv igjen.",
        "Koden er ikkje rett. Sjekk klokka på telefonen og prøv igjen.",
    ),
    "The six-digit code from your authenticator app": (
        "Den sekssifrede koden fra autentiseringsappen din",
        "Den sekssifra koden frå autentiseringsappen din",
    ),
    "Logged in": ("Logget inn", "Logga inn"),
    "Login refused": ("Innlogging avvist", "Innlogging avvist"),
    "There is no fieldvault account for the e-mail address your login provider gave. Ask the "
    "study's owner to add you (fieldvault researcher add).": (
        "Det finnes ingen fieldvault-konto for e-postadressen innloggingstjenesten oppga. Be "
        "studiens eier om å legge deg til (fieldvault researcher add).",
        "Det finst ingen fieldvault-konto for e-postadressa innloggingstenesta gav. Be "
        "eigaren av studien om å leggja deg til (fieldvault researcher add).",
    ),
    "Your login provider did not give a verified e-mail address, so fieldvault cannot tell "
    "which account is yours.": (
        "Innloggingstjenesten oppga ingen bekreftet e-postadresse, så fieldvault kan ikke vite "
        "hvilken konto som er din.",
        "Innloggingstenesta gav inga stadfesta e-postadresse, så fieldvault kan ikkje vita "
        "kva konto som er din.",
    ),
    "The login provider did not answer. Try again in a moment, or log in with your password.": (
        "Innloggingstjenesten svarte ikke. Prøv igjen om litt, eller logg inn med passordet.",
        "Innloggingstenesta svara ikkje. Prøv igjen om litt, eller logg inn med passordet.",
    ),
    "The answer from the login provider could not be verified. Start the login again.": (
        "Svaret fra innloggingstjenesten kunne ikke bekreftes. Start innloggingen på nytt.",
        "Svaret frå innloggingstenesta kunne ikkje stadfestast. Start innlogginga på nytt.",
    ),
    "Back to the login page": ("Tilbake til innloggingen", "Tilbake til innlogginga"),
    "Second factor": ("Andre faktor", "Andre faktor"),
    "A second factor is set up: each login asks for a code from your authenticator app.": (
        "En andre faktor er satt opp: hver innlogging ber om en kode fra autentiseringsappen.",
        "Ein andre faktor er sett opp: kvar innlogging ber om ein kode frå autentiseringsappen.",
    ),
    "Scan this code with an authenticator app (for example one from your university), or type "
    "the key below into it. It is shown only now.": (
        "Skann denne koden med en autentiseringsapp (for eksempel en fra universitetet ditt), "
        "eller skriv inn nøkkelen nedenfor. Den vises bare nå.",
        "Skann denne koden med ein autentiseringsapp (til dømes ein frå universitetet ditt), "
        "eller skriv inn nøkkelen nedanfor. Han blir vist berre no.",
    ),
    "QR code with the key written below": (
        "QR-kode med nøkkelen som står skrevet nedenfor",
        "QR-kode med nøkkelen som står skriven nedanfor",
    ),
    "Key:": ("Nøkkel:", "Nøkkel:"),
    "The six-digit code the app shows now": (
        "Den sekssifrede koden appen viser nå",
        "Den sekssifra koden appen viser no",
    ),
    "Turn on the second factor": ("Slå på andre faktor", "Slå på andre faktor"),
    "Choose a password": ("Velg et passord", "Vel eit passord"),
    "This link does not work any more: it has been used, or it has expired. Ask the study's "
    "owner for a new one.": (
        "Denne lenken virker ikke lenger: den er brukt, eller den er utløpt. Be studiens eier "
        "om en ny.",
        "Denne lenkja verkar ikkje lenger: ho er brukt, eller ho har gått ut. Be eigaren av "
        "studien om ei ny.",
    ),
    "The two passwords are not the same.": (
        "De to passordene er ikke like.",
        "Dei to passorda er ikkje like.",
    ),
    "A password needs at least {least} characters.": (
        "Et passord må ha minst {least} tegn.",
        "Eit passord må ha minst {least} teikn.",
    ),
    "That password is too long.": ("Passordet er for langt.", "Passordet er for langt."),
    "New password (at least {least} characters)": (
        "Nytt passord (minst {least} tegn)",
        "Nytt passord (minst {least} teikn)",
    ),
    "The same password again": (
        "Det samme passordet en gang til",
        "Det same passordet ein gong til",
    ),
    "Set the password and log in": ("Lagre passordet og logg inn", "Lagra passordet og logg inn"),
    "Login security": ("Innloggingssikkerhet", "Innloggingstryggleik"),
    "Every member of this study must log in with a second factor.": (
        "Alle medlemmer av denne studien må logge inn med andre faktor.",
        "Alle medlemer av denne studien må logga inn med andre faktor.",
    ),
    "Members of this study may log in with a password alone.": (
        "Medlemmer av denne studien kan logge inn med bare passord.",
        "Medlemer av denne studien kan logga inn med berre passord.",
    ),
    "A second factor (a code from an authenticator app)": (
        "Andre faktor (en kode fra en autentiseringsapp)",
        "Andre faktor (ein kode frå ein autentiseringsapp)",
    ),
    "Required of every member": ("Påkrevd for alle medlemmer", "Påkravd for alle medlemer"),
    "Not required": ("Ikke påkrevd", "Ikkje påkravd"),
    "Save the requirement": ("Lagre kravet", "Lagra kravet"),
}
