"""Texts of the upload, jobs and exports pages (web/researcher/uploads_page, jobs, exports)."""

from __future__ import annotations

T: dict[str, tuple[str, str]] = {
    # upload
    "Upload a recording": ("Last opp et opptak", "Last opp eit opptak"),
    "Participant": ("Deltaker", "Deltakar"),
    "Choose": ("Velg", "Vel"),
    "Choose a participant": ("Velg en deltaker", "Vel ein deltakar"),
    "Only participants with a current consent to being recorded are listed.": (
        "Bare deltakere med gyldig samtykke til lydopptak står i listen.",
        "Berre deltakarar med gyldig samtykke til lydopptak står i lista.",
    ),
    "No participant of this study may be recorded now: a recording needs a current consent "
    "to being recorded.": (
        "Ingen deltaker i denne studien kan tas opp nå: et opptak krever gyldig samtykke til "
        "lydopptak.",
        "Ingen deltakar i denne studien kan takast opp no: eit opptak krev gyldig samtykke til "
        "lydopptak.",
    ),
    "Recording of {code}": ("Opptak av {code}", "Opptak av {code}"),
    "Interview language": ("Intervjuspråk", "Intervjuspråk"),
    "The study's language": ("Studiens språk", "Språket til studien"),
    "Audio files: one per speaker, or one file with everyone": (
        "Lydfiler: én per person som snakker, eller én fil med alle",
        "Lydfiler: éi per person som snakkar, eller éi fil med alle",
    ),
    "Choose the files, or drop them here. Several files are the tracks of one interview, one "
    "per speaker.": (
        "Velg filene, eller slipp dem her. Flere filer er sporene i ett intervju, ett per "
        "person som snakker.",
        "Vel filene, eller slepp dei her. Fleire filer er spora i eitt intervju, eitt per "
        "person som snakkar.",
    ),
    "Upload progress": ("Opplasting", "Opplasting"),
    "Uploaded. The transcription is queued.": (
        "Lastet opp. Transkripsjonen står i kø.",
        "Lasta opp. Transkripsjonen står i kø.",
    ),
    "Follow it on the jobs page": ("Følg den på jobbsiden", "Følg han på jobbsida"),
    "Sending…": ("Sender …", "Sender …"),
    "The connection failed before the server answered. Nothing was kept: send it again.": (
        "Forbindelsen brøt før serveren svarte. Ingenting ble lagret: send på nytt.",
        "Sambandet vart brote før tenaren svarte. Ingenting vart lagra: send på nytt.",
    ),
    "The server said:": ("Serveren svarte:", "Tenaren svarte:"),
    "Remove": ("Fjern", "Fjern"),
    "Choose at least one audio file.": (
        "Velg minst én lydfil.",
        "Vel minst éi lydfil.",
    ),
    # the upload endpoint's refusals
    "You are not logged in any more. Log in again and send the upload again.": (
        "Du er ikke logget inn lenger. Logg inn igjen og send opplastingen på nytt.",
        "Du er ikkje logga inn lenger. Logg inn att og send opplastinga på nytt.",
    ),
    "Your role in this study does not allow uploading recordings.": (
        "Rollen din i denne studien tillater ikke å laste opp opptak.",
        "Rolla di i denne studien tillèt ikkje å laste opp opptak.",
    ),
    "The form was out of date. Reload the page and send the upload again.": (
        "Skjemaet var utdatert. Last inn siden på nytt og send opplastingen igjen.",
        "Skjemaet var utdatert. Last inn sida på nytt og send opplastinga att.",
    ),
    "There is no such study or participant, or it is not yours to see.": (
        "Studien eller deltakeren finnes ikke, eller det er ikke ditt å se.",
        "Studien eller deltakaren finst ikkje, eller det er ikkje ditt å sjå.",
    ),
    "This participant has no current consent to being recorded, so no recording can be "
    "accepted. Nothing was kept.": (
        "Denne deltakeren har ikke gyldig samtykke til lydopptak, så opptaket kan ikke tas "
        "imot. Ingenting ble lagret.",
        "Denne deltakaren har ikkje gyldig samtykke til lydopptak, så opptaket kan ikkje "
        "takast imot. Ingenting vart lagra.",
    ),
    "The study has ended: no recording can be accepted any more.": (
        "Studien er avsluttet: ingen opptak kan tas imot lenger.",
        "Studien er avslutta: ingen opptak kan takast imot lenger.",
    ),
    "The upload is larger than the server allows. Nothing was kept. Send long interviews as "
    "separate recordings, or compress them (m4a, opus).": (
        "Opplastingen er større enn serveren tillater. Ingenting ble lagret. Send lange "
        "intervjuer som flere opptak, eller komprimer dem (m4a, opus).",
        "Opplastinga er større enn tenaren tillèt. Ingenting vart lagra. Send lange intervju "
        "som fleire opptak, eller komprimer dei (m4a, opus).",
    ),
    "The recording is longer than the server allows. Cut it into parts.": (
        "Opptaket er lengre enn serveren tillater. Del det opp.",
        "Opptaket er lengre enn tenaren tillèt. Del det opp.",
    ),
    "Too many files for one recording: send at most one per speaker.": (
        "For mange filer til ett opptak: send høyst én per person som snakker.",
        "For mange filer til eitt opptak: send høgst éi per person som snakkar.",
    ),
    "A file is not audio that can be read (a wrong file type, or a broken file). Nothing was "
    "kept.": (
        "En fil er ikke lyd som kan leses (feil filtype eller en ødelagt fil). Ingenting ble "
        "lagret.",
        "Ei fil er ikkje lyd som kan lesast (feil filtype eller ei øydelagd fil). Ingenting "
        "vart lagra.",
    ),
    "The form was not sent as expected. Reload the page and try again.": (
        "Skjemaet ble ikke sendt som ventet. Last inn siden på nytt og prøv igjen.",
        "Skjemaet vart ikkje sendt som venta. Last inn sida på nytt og prøv att.",
    ),
    "The upload ended before everything arrived. Nothing was kept: send it again.": (
        "Opplastingen stoppet før alt var kommet fram. Ingenting ble lagret: send på nytt.",
        "Opplastinga stoppa før alt var kome fram. Ingenting vart lagra: send på nytt.",
    ),
    "The upload stopped arriving. Nothing was kept: send it again.": (
        "Opplastingen sluttet å komme fram. Ingenting ble lagret: send på nytt.",
        "Opplastinga slutta å kome fram. Ingenting vart lagra: send på nytt.",
    ),
    "The server is receiving as many uploads as it can, or you already have uploads running. "
    "Wait a little, then send it again.": (
        "Serveren tar imot så mange opplastinger den kan, eller du har allerede opplastinger "
        "i gang. Vent litt og send på nytt.",
        "Tenaren tek imot så mange opplastingar han kan, eller du har alt opplastingar i "
        "gang. Vent litt og send på nytt.",
    ),
    "The upload was refused. Nothing was kept.": (
        "Opplastingen ble avvist. Ingenting ble lagret.",
        "Opplastinga vart avvist. Ingenting vart lagra.",
    ),
    "The server failed on this upload. Nothing was kept. Try again in a moment.": (
        "Serveren feilet på denne opplastingen. Ingenting ble lagret. Prøv igjen om litt.",
        "Tenaren feila på denne opplastinga. Ingenting vart lagra. Prøv att om litt.",
    ),
    # jobs
    "Transcription jobs": ("Transkripsjonsjobber", "Transkripsjonsjobbar"),
    "Transcription jobs, newest first": (
        "Transkripsjonsjobber, nyeste først",
        "Transkripsjonsjobbar, nyaste først",
    ),
    "Length": ("Lengde", "Lengd"),
    "State": ("Status", "Status"),
    "Progress": ("Framdrift", "Framdrift"),
    "Time left": ("Tid igjen", "Tid att"),
    "Progress of {code}": ("Framdrift for {code}", "Framdrift for {code}"),
    "Queued": ("I kø", "I kø"),
    "Transcribing": ("Transkriberes", "Vert transkribert"),
    "Done": ("Ferdig", "Ferdig"),
    "Failed": ("Feilet", "Feila"),
    "No recordings have been uploaded yet.": (
        "Ingen opptak er lastet opp ennå.",
        "Ingen opptak er lasta opp enno.",
    ),
    "Reload the page to see the latest.": (
        "Last inn siden på nytt for å se det siste.",
        "Last inn sida på nytt for å sjå det siste.",
    ),
    "Live: the table updates by itself.": (
        "Direkte: tabellen oppdateres av seg selv.",
        "Direkte: tabellen vert oppdatert av seg sjølv.",
    ),
    "Live updates stopped. Reload the page to see the latest.": (
        "Direkteoppdateringen stoppet. Last inn siden på nytt for å se det siste.",
        "Direkteoppdateringa stoppa. Last inn sida på nytt for å sjå det siste.",
    ),
    # exports
    "Export": ("Eksport", "Eksport"),
    "Export for coding": ("Eksport til koding", "Eksport til koding"),
    "The export holds the approved, pseudonymised transcripts only, checked for names from the "
    "linkage key before it is made. Each export is recorded in the audit log.": (
        "Eksporten inneholder bare godkjente, pseudonymiserte transkripsjoner, kontrollert mot "
        "navn fra koblingsnøkkelen før den lages. Hver eksport føres i revisjonsloggen.",
        "Eksporten inneheld berre godkjende, pseudonymiserte transkripsjonar, kontrollert mot "
        "namn frå koplingsnøkkelen før han vert laga. Kvar eksport vert ført i "
        "revisjonsloggen.",
    ),
    "The export could not be made.": (
        "Eksporten kunne ikke lages.",
        "Eksporten kunne ikkje lagast.",
    ),
    "Formats": ("Formater", "Format"),
    "Download the export (ZIP)": ("Last ned eksporten (ZIP)", "Last ned eksporten (ZIP)"),
    "Choose at least one format.": ("Velg minst ett format.", "Vel minst eitt format."),
    "REFI-QDA project for MAXQDA, NVivo, ATLAS.ti and QualCoder": (
        "REFI-QDA-prosjekt for MAXQDA, NVivo, ATLAS.ti og QualCoder",
        "REFI-QDA-prosjekt for MAXQDA, NVivo, ATLAS.ti og QualCoder",
    ),
    "The codebook alone (REFI-QDA)": (
        "Bare kodeboken (REFI-QDA)",
        "Berre kodeboka (REFI-QDA)",
    ),
    "Word transcripts with time stamps, and an overview": (
        "Word-transkripsjoner med tidsstempler, og en oversikt",
        "Word-transkripsjonar med tidsstempel, og ei oversikt",
    ),
    "Plain text transcripts (f4/MAXQDA, QualCoder, NVivo table)": (
        "Transkripsjoner som ren tekst (f4/MAXQDA, QualCoder, NVivo-tabell)",
        "Transkripsjonar som rein tekst (f4/MAXQDA, QualCoder, NVivo-tabell)",
    ),
    "Subtitles (SRT and WebVTT)": ("Undertekster (SRT og WebVTT)", "Undertekstar (SRT og WebVTT)"),
    "The participant overview (CSV and Markdown)": (
        "Deltakeroversikten (CSV og Markdown)",
        "Deltakaroversikta (CSV og Markdown)",
    ),
}
