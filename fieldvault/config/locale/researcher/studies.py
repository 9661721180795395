"""Texts of the studies, participants, invites, paper-consent, retention and audit pages."""

from __future__ import annotations

T: dict[str, tuple[str, str]] = {
    # The studies list and the overview.
    "Your studies": ("Studiene dine", "Studiane dine"),
    "Your studies, with the days left until each one's deletion deadline": (
        "Studiene dine, med dager igjen til slettefristen for hver av dem",
        "Studiane dine, med dagar att til slettefristen for kvar av dei",
    ),
    "Your role": ("Rollen din", "Rolla di"),
    "State": ("Status", "Status"),
    "Processing ends": ("Behandlingen slutter", "Behandlinga sluttar"),
    "Deletion in": ("Sletting om", "Sletting om"),
    "You are not a member of any study yet. Ask a study's owner to add you.": (
        "Du er ikke med i noen studie ennå. Be eieren av en studie om å legge deg til.",
        "Du er ikkje med i nokon studie enno. Be eigaren av ein studie om å leggje deg til.",
    ),
    "Running": ("Pågår", "Pågår"),
    "Deletion due": ("Sletting forfalt", "Sletting forfallen"),
    "Ended: identities and recordings deleted": (
        "Avsluttet: identiteter og opptak er slettet",
        "Avslutta: identitetar og opptak er sletta",
    ),
    "due now": ("forfalt nå", "forfallen no"),
    "1 day": ("1 dag", "1 dag"),
    "{n} days": ("{n} dager", "{n} dagar"),
    "owner": ("eier", "eigar"),
    "researcher": ("forsker", "forskar"),
    "supervisor": ("veileder", "rettleiar"),
    "data protection officer": ("personvernombud", "personvernombod"),
    "informed": ("informert", "informert"),
    "transcribed": ("transkribert", "transkribert"),
    "approved": ("godkjent", "godkjend"),
    "not answered": ("ikke besvart", "ikkje svart på"),
    "yes": ("ja", "ja"),
    "no": ("nei", "nei"),
    "Previous page": ("Forrige side", "Førre side"),
    "Next page": ("Neste side", "Neste side"),
    "Page {n} of {total}": ("Side {n} av {total}", "Side {n} av {total}"),
    "Study id": ("Studie-ID", "Studie-ID"),
    "Deletion deadline": ("Slettefrist", "Slettefrist"),
    "Participants by state": ("Deltakere etter status", "Deltakarar etter status"),
    "Number": ("Antall", "Tal"),
    "All": ("Alle", "Alle"),
    "Open invites: {n}": ("Åpne invitasjoner: {n}", "Opne invitasjonar: {n}"),
    "Recordings: {n}": ("Opptak: {n}", "Opptak: {n}"),
    "Transcripts: {n}": ("Transkripsjoner: {n}", "Transkripsjonar: {n}"),
    "What you can do here": ("Hva du kan gjøre her", "Kva du kan gjere her"),
    "Participants and their consent": (
        "Deltakerne og samtykket deres",
        "Deltakarane og samtykket deira",
    ),
    "Invites: create, print, revoke": (
        "Invitasjoner: lag, skriv ut, trekk tilbake",
        "Invitasjonar: lag, skriv ut, trekk tilbake",
    ),
    "Register a consent given on paper": (
        "Registrer et samtykke gitt på papir",
        "Registrer eit samtykke gitt på papir",
    ),
    "Check the study file": ("Kontroller studiefilen", "Kontroller studiefila"),
    "Deadline, reminders and deletion report": (
        "Frist, påminnelser og sletterapport",
        "Frist, påminningar og sletterapport",
    ),
    "Audit log": ("Revisjonslogg", "Revisjonslogg"),
    # The study file's check.
    "Check of the study file": ("Kontroll av studiefilen", "Kontroll av studiefila"),
    "The stored study file passes every check.": (
        "Den lagrede studiefilen består alle kontrollene.",
        "Den lagra studiefila består alle kontrollane.",
    ),
    "The stored study file has {n} problem(s) with today's limits. The study keeps working; "
    "fix them in the file before its next update.": (
        "Den lagrede studiefilen har {n} problem(er) med dagens grenser. Studien virker "
        "fortsatt; rett dem i filen før neste oppdatering.",
        "Den lagra studiefila har {n} problem med dagens grenser. Studien verkar framleis; "
        "rett dei i fila før neste oppdatering.",
    ),
    "Problems": ("Problemer", "Problem"),
    "Field": ("Felt", "Felt"),
    "Problem": ("Problem", "Problem"),
    "Summary": ("Sammendrag", "Samandrag"),
    "Languages": ("Språk", "Språk"),
    "Starts": ("Starter", "Startar"),
    "Project ends": ("Prosjektet slutter", "Prosjektet sluttar"),
    "reason given": ("begrunnelse gitt", "grunngjeving gitt"),
    "Withdrawal keeps pseudonymised data": (
        "Tilbaketrekking beholder pseudonymiserte data",
        "Tilbaketrekking held på pseudonymiserte data",
    ),
    "Reminders (days before the deadline)": (
        "Påminnelser (dager før fristen)",
        "Påminningar (dagar før fristen)",
    ),
    "SHA-256 of the stored file": ("SHA-256 av den lagrede filen", "SHA-256 av den lagra fila"),
    "Consent items": ("Samtykkepunkter", "Samtykkepunkt"),
    "Item": ("Punkt", "Punkt"),
    "Required": ("Påkrevd", "Påkravd"),
    "Permits": ("Tillater", "Tillèt"),
    "Letter versions": ("Versjoner av skrivet", "Versjonar av skrivet"),
    "SHA-256 of the exact letter text": (
        "SHA-256 av den nøyaktige teksten i skrivet",
        "SHA-256 av den nøyaktige teksten i skrivet",
    ),
    # Participants.
    "{n} participant(s). Codes and pseudonyms only: a real name is shown on a participant's "
    "page, on request, and the look-up is recorded in the audit log.": (
        "{n} deltaker(e). Bare koder og pseudonymer: et ekte navn vises på deltakerens side "
        "når du ber om det, og oppslaget føres i revisjonsloggen.",
        "{n} deltakar(ar). Berre kodar og pseudonym: eit ekte namn blir vist på sida til "
        "deltakaren når du ber om det, og oppslaget blir ført i revisjonsloggen.",
    ),
    "Invites": ("Invitasjoner", "Invitasjonar"),
    "Participants, consent per item and variables": (
        "Deltakere, samtykke per punkt og variabler",
        "Deltakarar, samtykke per punkt og variablar",
    ),
    "Code": ("Kode", "Kode"),
    "Pseudonym": ("Pseudonym", "Pseudonym"),
    "new letter: consent again": (
        "nytt skriv: må samtykke på nytt",
        "nytt skriv: må samtykkje på nytt",
    ),
    "Pages of participants": ("Sider med deltakere", "Sider med deltakarar"),
    "No participants yet. Create invites, or register a participant with the command line.": (
        "Ingen deltakere ennå. Lag invitasjoner, eller registrer en deltaker på kommandolinjen.",
        "Ingen deltakarar enno. Lag invitasjonar, eller registrer ein deltakar på kommandolinja.",
    ),
    "Participant {code}": ("Deltaker {code}", "Deltakar {code}"),
    "The paper consent is registered and its scan stored encrypted.": (
        "Papirsamtykket er registrert, og skanningen er lagret kryptert.",
        "Papirsamtykket er registrert, og skanninga er lagra kryptert.",
    ),
    "Real name": ("Ekte navn", "Ekte namn"),
    "No name is held for this participant (none was given, or it has been deleted).": (
        "Det er ikke lagret noe navn for denne deltakeren (ingen ble oppgitt, eller det er "
        "slettet).",
        "Det er ikkje lagra noko namn for denne deltakaren (ikkje noko vart oppgitt, eller det "
        "er sletta).",
    ),
    "This look-up is recorded in the audit log. The name is shown on this page only; it is "
    "not kept in your browser's address or history.": (
        "Dette oppslaget er ført i revisjonsloggen. Navnet vises bare på denne siden; det "
        "lagres ikke i nettleserens adresse eller historikk.",
        "Dette oppslaget er ført i revisjonsloggen. Namnet blir berre vist på denne sida; det "
        "blir ikkje lagra i adressa eller historikken til nettlesaren.",
    ),
    "since {when}": ("siden {when}", "sidan {when}"),
    "Registered": ("Registrert", "Registrert"),
    "Consent now": ("Samtykke nå", "Samtykke no"),
    "Consent per item": ("Samtykke per punkt", "Samtykke per punkt"),
    "Answer": ("Svar", "Svar"),
    "required": ("påkrevd", "påkravd"),
    "Variables": ("Variabler", "Variablar"),
    "None recorded.": ("Ingen registrert.", "Ingen registrerte."),
    "Consent history": ("Samtykkehistorikk", "Samtykkehistorikk"),
    "Consent records, newest first": (
        "Samtykkeposter, nyeste først",
        "Samtykkepostar, nyaste først",
    ),
    "When": ("Når", "Når"),
    "What": ("Hva", "Kva"),
    "Answers": ("Svar", "Svar"),
    "withdrawal": ("tilbaketrekking", "tilbaketrekking"),
    "consent": ("samtykke", "samtykke"),
    "scan stored": ("skanning lagret", "skanning lagra"),
    "No consent recorded yet.": (
        "Ikke noe samtykke registrert ennå.",
        "Ikkje noko samtykke registrert enno.",
    ),
    "The name is kept apart, in the linkage vault. Showing it is recorded in the audit log "
    "under your account.": (
        "Navnet holdes atskilt, i koblingsnøkkelen. Når det vises, føres det i "
        "revisjonsloggen under kontoen din.",
        "Namnet blir halde åtskilt, i koplingsnøkkelen. Når det blir vist, blir det ført i "
        "revisjonsloggen under kontoen din.",
    ),
    "Show the real name": ("Vis det ekte navnet", "Vis det ekte namnet"),
    "Back to the participants": ("Tilbake til deltakerne", "Tilbake til deltakarane"),
    # Paper consent.
    "Copy the answers from the signed form. The scan names the informant, so it is stored "
    "encrypted; if anything is refused, nothing is stored.": (
        "Skriv av svarene fra det signerte skjemaet. Skanningen navngir informanten og lagres "
        "derfor kryptert; blir noe avvist, lagres ingenting.",
        "Skriv av svara frå det signerte skjemaet. Skanninga namngir informanten og blir difor "
        "lagra kryptert; blir noko avvist, blir ingenting lagra.",
    ),
    "Participant code": ("Deltakerkode", "Deltakarkode"),
    "Language of the form": ("Skjemaets språk", "Språket på skjemaet"),
    "Date on the form": ("Dato på skjemaet", "Dato på skjemaet"),
    "YYYY-MM-DD, e.g. 2021-03-01": ("ÅÅÅÅ-MM-DD, f.eks. 2021-03-01", "ÅÅÅÅ-MM-DD, t.d. 2021-03-01"),
    "Ticked: yes": ("Krysset av: ja", "Kryssa av: ja"),
    "Not ticked: no": ("Ikke krysset av: nei", "Ikkje kryssa av: nei"),
    "Scan of the signed form (PDF, PNG, JPEG or TIFF; at most {mb} MB)": (
        "Skanning av det signerte skjemaet (PDF, PNG, JPEG eller TIFF; høyst {mb} MB)",
        "Skanning av det signerte skjemaet (PDF, PNG, JPEG eller TIFF; høgst {mb} MB)",
    ),
    "Register the consent": ("Registrer samtykket", "Registrer samtykket"),
    "The form or the scan is too large: a scan may have at most {mb} MB.": (
        "Skjemaet eller skanningen er for stor: en skanning kan være høyst {mb} MB.",
        "Skjemaet eller skanninga er for stor: ei skanning kan vere høgst {mb} MB.",
    ),
    "The date on the form is not a date: write it as YYYY-MM-DD, e.g. 2021-03-01.": (
        "Datoen på skjemaet er ikke en dato: skriv den som ÅÅÅÅ-MM-DD, f.eks. 2021-03-01.",
        "Datoen på skjemaet er ikkje ein dato: skriv han som ÅÅÅÅ-MM-DD, t.d. 2021-03-01.",
    ),
    "Choose the scanned, signed form (PDF, PNG, JPEG or TIFF).": (
        "Velg det skannede, signerte skjemaet (PDF, PNG, JPEG eller TIFF).",
        "Vel det skanna, signerte skjemaet (PDF, PNG, JPEG eller TIFF).",
    ),
    # Invites.
    "The invite is revoked: it can no longer be used.": (
        "Invitasjonen er trukket tilbake: den kan ikke lenger brukes.",
        "Invitasjonen er trekt tilbake: han kan ikkje lenger brukast.",
    ),
    "New invites": ("Nye invitasjoner", "Nye invitasjonar"),
    "Each invite can be used once. Its link and QR code are shown once, right after you "
    "create it: only a hash of the code is kept.": (
        "Hver invitasjon kan brukes én gang. Lenken og QR-koden vises én gang, rett etter at "
        "du har laget den: bare en hash av koden lagres.",
        "Kvar invitasjon kan brukast éin gong. Lenka og QR-koden blir viste éin gong, rett "
        "etter at du har laga han: berre ein hash av koden blir lagra.",
    ),
    "How many (1–{n})": ("Hvor mange (1–{n})", "Kor mange (1–{n})"),
    "Valid for how many days (1–{n})": (
        "Gyldig i hvor mange dager (1–{n})",
        "Gyldig i kor mange dagar (1–{n})",
    ),
    "Create invites": ("Lag invitasjoner", "Lag invitasjonar"),
    "Invites so far": ("Invitasjoner så langt", "Invitasjonar så langt"),
    "Invites, newest first": ("Invitasjoner, nyeste først", "Invitasjonar, nyaste først"),
    "Invite": ("Invitasjon", "Invitasjon"),
    "Created": ("Laget", "Laga"),
    "Expires": ("Utløper", "Går ut"),
    "Action": ("Handling", "Handling"),
    "open": ("åpen", "open"),
    "used {when}": ("brukt {when}", "brukt {when}"),
    "revoked {when}": ("trukket tilbake {when}", "trekt tilbake {when}"),
    "expired": ("utløpt", "gått ut"),
    "Revoke invite #{id}": ("Trekk tilbake invitasjon #{id}", "Trekk tilbake invitasjon #{id}"),
    "Revoke": ("Trekk tilbake", "Trekk tilbake"),
    "Pages of invites": ("Sider med invitasjoner", "Sider med invitasjonar"),
    "No invites yet.": ("Ingen invitasjoner ennå.", "Ingen invitasjonar enno."),
    "Give a number of invites from 1 to {count} and a number of days from 1 to {days}.": (
        "Oppgi et antall invitasjoner fra 1 til {count} og et antall dager fra 1 til {days}.",
        "Oppgi eit tal på invitasjonar frå 1 til {count} og eit tal på dagar frå 1 til {days}.",
    ),
    "{n} invite(s), each usable once, until {date}.": (
        "{n} invitasjon(er), hver kan brukes én gang, til {date}.",
        "{n} invitasjon(ar), kvar kan brukast éin gong, til {date}.",
    ),
    "Copy, print or download them now: the codes are not kept and cannot be shown again. "
    "Reloading this page would create new invites.": (
        "Kopier, skriv ut eller last dem ned nå: kodene lagres ikke og kan ikke vises igjen. "
        "Laster du inn siden på nytt, lages nye invitasjoner.",
        "Kopier, skriv ut eller last dei ned no: kodane blir ikkje lagra og kan ikkje visast "
        "igjen. Lastar du inn sida på nytt, blir det laga nye invitasjonar.",
    ),
    "QR code of invite {n}": ("QR-kode for invitasjon {n}", "QR-kode for invitasjon {n}"),
    "Web link:": ("Nettlenke:", "Nettlenkje:"),
    "Telegram:": ("Telegram:", "Telegram:"),
    "Download the QR code of invite {n} (PNG)": (
        "Last ned QR-koden for invitasjon {n} (PNG)",
        "Last ned QR-koden for invitasjon {n} (PNG)",
    ),
    "QR code (PNG)": ("QR-kode (PNG)", "QR-kode (PNG)"),
    "Download the poster of invite {n} (PDF)": (
        "Last ned plakaten for invitasjon {n} (PDF)",
        "Last ned plakaten for invitasjon {n} (PDF)",
    ),
    "Poster (PDF)": ("Plakat (PDF)", "Plakat (PDF)"),
    "Back to the invites": ("Tilbake til invitasjonene", "Tilbake til invitasjonane"),
    # The poster.
    "Invitation to take part in a study": (
        "Invitasjon til å delta i en studie",
        "Invitasjon til å vere med i ein studie",
    ),
    "Scan the code with your phone's camera to read about the study and answer.": (
        "Skann koden med kameraet på telefonen for å lese om studien og svare.",
        "Skann koden med kameraet på telefonen for å lese om studien og svare.",
    ),
    "Or open this address:": ("Eller åpne denne adressen:", "Eller opne denne adressa:"),
    "In Telegram:": ("I Telegram:", "I Telegram:"),
    "This code can be used once, until {date}.": (
        "Denne koden kan brukes én gang, til {date}.",
        "Denne koden kan brukast éin gong, til {date}.",
    ),
    # Retention.
    "Retention and deletion": ("Lagringstid og sletting", "Lagringstid og sletting"),
    "The processing end date is extended. Informants and researchers are told at the next sweep.": (
        "Sluttdatoen for behandlingen er forlenget. Informanter og forskere får beskjed ved "
        "neste gjennomgang.",
        "Sluttdatoen for behandlinga er forlengd. Informantar og forskarar får melding ved "
        "neste gjennomgang.",
    ),
    "At the deadline": ("Ved fristen", "Ved fristen"),
    "recordings, raw transcripts, consent scans and identities are destroyed; codes, "
    "pseudonyms, consent records, approved transcripts and the audit log stay.": (
        "slettes opptak, rå transkripsjoner, skannede samtykker og identiteter; koder, "
        "pseudonymer, samtykkeposter, godkjente transkripsjoner og revisjonsloggen blir "
        "værende.",
        "blir opptak, rå transkripsjonar, skanna samtykke og identitetar sletta; kodar, "
        "pseudonym, samtykkepostar, godkjende transkripsjonar og revisjonsloggen blir verande.",
    ),
    "Reminders": ("Påminnelser", "Påminningar"),
    "Reminders before the deadline": ("Påminnelser før fristen", "Påminningar før fristen"),
    "Days before": ("Dager før", "Dagar før"),
    "Due": ("Forfaller", "Forfell"),
    "Sent": ("Sendt", "Sendt"),
    "No reminders are set in the study file.": (
        "Studiefilen har ingen påminnelser.",
        "Studiefila har ingen påminningar.",
    ),
    "Extensions": ("Forlengelser", "Forlengingar"),
    "Extensions of the processing end date": (
        "Forlengelser av sluttdatoen for behandlingen",
        "Forlengingar av sluttdatoen for behandlinga",
    ),
    "From": ("Fra", "Frå"),
    "To": ("Til", "Til"),
    "Reason": ("Begrunnelse", "Grunngjeving"),
    "The end date has not been extended.": (
        "Sluttdatoen er ikke forlenget.",
        "Sluttdatoen er ikkje forlengd.",
    ),
    "Extend the processing end date": (
        "Forleng sluttdatoen for behandlingen",
        "Forleng sluttdatoen for behandlinga",
    ),
    "Only when a new assessment (e.g. Sikt's) allows keeping the data longer. The reason is "
    "recorded in the audit log and informants are told the new date.": (
        "Bare når en ny vurdering (f.eks. fra Sikt) tillater å lagre dataene lenger. "
        "Begrunnelsen føres i revisjonsloggen, og informantene får vite den nye datoen.",
        "Berre når ei ny vurdering (t.d. frå Sikt) tillèt å lagre dataa lenger. "
        "Grunngjevinga blir ført i revisjonsloggen, og informantane får vite den nye datoen.",
    ),
    "New processing end date": ("Ny sluttdato for behandlingen", "Ny sluttdato for behandlinga"),
    "YYYY-MM-DD, after {date}": ("ÅÅÅÅ-MM-DD, etter {date}", "ÅÅÅÅ-MM-DD, etter {date}"),
    "Assessment reference (optional)": (
        "Referanse til vurderingen (valgfri)",
        "Referanse til vurderinga (valfri)",
    ),
    "Extend": ("Forleng", "Forleng"),
    "The new end date is not a date: write it as YYYY-MM-DD, e.g. 2021-12-31.": (
        "Den nye sluttdatoen er ikke en dato: skriv den som ÅÅÅÅ-MM-DD, f.eks. 2021-12-31.",
        "Den nye sluttdatoen er ikkje ein dato: skriv han som ÅÅÅÅ-MM-DD, t.d. 2021-12-31.",
    ),
    "Give the reason the data must be kept longer.": (
        "Oppgi hvorfor dataene må lagres lenger.",
        "Oppgi kvifor dataa må lagrast lenger.",
    ),
    "The reason is too long: at most {n} characters.": (
        "Begrunnelsen er for lang: høyst {n} tegn.",
        "Grunngjevinga er for lang: høgst {n} teikn.",
    ),
    "The assessment reference is too long: at most {n} characters.": (
        "Referansen til vurderingen er for lang: høyst {n} tegn.",
        "Referansen til vurderinga er for lang: høgst {n} teikn.",
    ),
    "Report for the data protection officer": (
        "Rapport til personvernombudet",
        "Rapport til personvernombodet",
    ),
    "Download the report (JSON)": ("Last ned rapporten (JSON)", "Last ned rapporten (JSON)"),
    "Ended": ("Avsluttet", "Avslutta"),
    "not yet": ("ikke ennå", "ikkje enno"),
    "Participants deleted": ("Deltakere slettet", "Deltakarar sletta"),
    "Deletion in progress (the next sweep completes it)": (
        "Sletting pågår (neste gjennomgang fullfører den)",
        "Sletting pågår (neste gjennomgang fullfører ho)",
    ),
    "Objects deleted": ("Objekter slettet", "Objekt sletta"),
    "Identities deleted": ("Identiteter slettet", "Identitetar sletta"),
    "Deletion notices": ("Varsler om sletting", "Varsel om sletting"),
    "Still held": ("Fortsatt lagret", "Framleis lagra"),
    "Audit checkpoint": ("Kontrollpunkt i revisjonsloggen", "Kontrollpunkt i revisjonsloggen"),
    "event {seq}, head": ("hendelse {seq}, hode", "hending {seq}, hovud"),
    "Withdrawals": ("Tilbaketrekkinger", "Tilbaketrekkingar"),
    "Withdrawal purges": ("Sletting etter tilbaketrekking", "Sletting etter tilbaketrekking"),
    "Whole": ("Helt", "Heilt"),
    "Deleted participants": ("Slettede deltakere", "Sletta deltakarar"),
    "The JSON report lists all of them.": (
        "JSON-rapporten viser alle.",
        "JSON-rapporten viser alle.",
    ),
    # Audit.
    "The chain": ("Kjeden", "Kjeda"),
    "Verified: {n} events ({keyed} keyed), every link intact, matching {c} signed checkpoint(s).": (
        "Kontrollert: {n} hendelser ({keyed} med nøkkel), hvert ledd intakt, i samsvar med {c} "
        "signerte kontrollpunkt(er).",
        "Kontrollert: {n} hendingar ({keyed} med nøkkel), kvart ledd intakt, i samsvar med {c} "
        "signerte kontrollpunkt.",
    ),
    "BROKEN at event {seq}.": ("BRUTT ved hendelse {seq}.", "BROTEN ved hending {seq}."),
    "{n} events before it verified.": (
        "{n} hendelser før den ble bekreftet.",
        "{n} hendingar før ho vart stadfesta.",
    ),
    "Every link of the chain verifies: {n} events ({keyed} keyed).": (
        "Hvert ledd i kjeden er i orden: {n} hendelser ({keyed} med nøkkel).",
        "Kvart ledd i kjeda er i orden: {n} hendingar ({keyed} med nøkkel).",
    ),
    "The signed checkpoints could not be read, so a cut end of the chain cannot be detected:": (
        "De signerte kontrollpunktene kunne ikke leses, så en avkuttet slutt på kjeden kan ikke "
        "oppdages:",
        "Dei signerte kontrollpunkta kunne ikkje lesast, så ein avkutta slutt på kjeda kan "
        "ikkje oppdagast:",
    ),
    "Head: event {seq}": ("Hode: hendelse {seq}", "Hovud: hending {seq}"),
    "latest checkpoint {when}": ("siste kontrollpunkt {when}", "siste kontrollpunkt {when}"),
    "Events of this study": ("Hendelser i denne studien", "Hendingar i denne studien"),
    "Type": ("Type", "Type"),
    "all types": ("alle typer", "alle typar"),
    "Show": ("Vis", "Vis"),
    "There is no event type of that name.": (
        "Det finnes ingen hendelsestype med det navnet.",
        "Det finst ingen hendingstype med det namnet.",
    ),
    "{n} event(s)": ("{n} hendelse(r)", "{n} hending(ar)"),
    "Audit events, newest first": (
        "Revisjonshendelser, nyeste først",
        "Revisjonshendingar, nyaste først",
    ),
    "Participant": ("Deltaker", "Deltakar"),
    "Who": ("Hvem", "Kven"),
    "Details": ("Detaljer", "Detaljar"),
    "Pages of events": ("Sider med hendelser", "Sider med hendingar"),
}
