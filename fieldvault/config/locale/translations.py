"""Source of the nb and nn catalogs: ``python -m fieldvault.config.locale.translations``.

``make catalogs`` does both steps. Extract the message ids with ``pybabel extract --no-location
--omit-header -k _
-F fieldvault/web/consent/babel.cfg -o fieldvault/config/locale/fieldvault.pot fieldvault/bot
fieldvault/web`` (the bot's texts and the informant web page's, Python and Jinja2), add
translations below, then run
this module to rewrite the .po files (English is the source language, so its catalog has the
ids only).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from fieldvault.config.languages import LANGUAGES
from fieldvault.config.locale.researcher import tables

HERE = Path(__file__).parent

# msgid: (nb, nn)
T: dict[str, tuple[str, str]] = {
    "Welcome! This is the study “{title}”.": (
        "Velkommen! Dette er studien «{title}».",
        "Velkomen! Dette er studien «{title}».",
    ),
    "Which language do you want to read the information in?": (
        "Hvilket språk vil du lese informasjonen på?",
        "Kva språk vil du lese informasjonen på?",
    ),
    "The information letter of “{title}” has changed since you consented. "
    "Please read the new version and answer again.": (
        "Informasjonsskrivet for «{title}» er endret siden du samtykket. "
        "Les den nye versjonen og svar på nytt.",
        "Informasjonsskrivet for «{title}» er endra sidan du samtykte. "
        "Les den nye versjonen og svar på nytt.",
    ),
    "Read the new letter": ("Les det nye skrivet", "Les det nye skrivet"),
    "Send /start to read it. Your earlier answers stand until then.": (
        "Send /start for å lese det. Svarene du ga før, gjelder til da.",
        "Send /start for å lese det. Svara du gav før, gjeld til då.",
    ),
    "This button has expired.": (
        "Denne knappen er ikke lenger gyldig.",
        "Denne knappen er ikkje lenger gyldig.",
    ),
    "Language: {language}": ("Språk: {language}", "Språk: {language}"),
    "Question {n} of {total}": ("Spørsmål {n} av {total}", "Spørsmål {n} av {total}"),
    "This one is needed to take part: if you answer no, you will not be interviewed.": (
        "Dette må du si ja til for å delta: svarer du nei, blir du ikke intervjuet.",
        "Dette må du seie ja til for å vere med: svarar du nei, blir du ikkje intervjua.",
    ),
    "This one is optional: you can take part whatever you answer.": (
        "Dette er frivillig: du kan delta uansett hva du svarer.",
        "Dette er friviljug: du kan vere med same kva du svarar.",
    ),
    "Yes": ("Ja", "Ja"),
    "No": ("Nei", "Nei"),
    "Your answer: {answer}": ("Ditt svar: {answer}", "Svaret ditt: {answer}"),
    "Thank you for reading. Without this consent you cannot take part, so we have noted that "
    "you declined. Nothing more will happen. If you change your mind, send /start to read the "
    "letter again.": (
        "Takk for at du leste. Uten dette samtykket kan du ikke delta, så vi har notert at du "
        "takket nei. Det skjer ikke noe mer. Ombestemmer du deg, send /start for å lese "
        "skrivet igjen.",
        "Takk for at du las. Utan dette samtykket kan du ikkje vere med, så vi har notert at du "
        "takka nei. Det skjer ikkje noko meir. Ombestemmer du deg, send /start for å lese "
        "skrivet att.",
    ),
    "Your answers:": ("Svarene dine:", "Svara dine:"),
    "Confirm to give your consent, or change your answers.": (
        "Bekreft for å gi samtykket ditt, eller endre svarene.",
        "Stadfest for å gi samtykket ditt, eller endre svara.",
    ),
    "Confirm": ("Bekreft", "Stadfest"),
    "Change": ("Endre", "Endre"),
    "Let us go through the questions again.": (
        "Vi går gjennom spørsmålene på nytt.",
        "Vi går gjennom spørsmåla på nytt.",
    ),
    "Thank you! Your consent is recorded.": (
        "Takk! Samtykket ditt er registrert.",
        "Takk! Samtykket ditt er registrert.",
    ),
    "Recordings and the link between you and your answers are deleted by {date}.": (
        "Opptak og koblingen mellom deg og svarene dine slettes senest {date}.",
        "Opptak og koplinga mellom deg og svara dine blir sletta seinast {date}.",
    ),
    "You can withdraw at any time with /withdraw, without giving a reason.": (
        "Du kan trekke deg når som helst med /withdraw, uten å begrunne det.",
        "Du kan trekkje deg når som helst med /withdraw, utan å grunngje det.",
    ),
    "/status shows what we hold about you; /contact shows whom to ask.": (
        "/status viser hva vi har om deg; /contact viser hvem du kan spørre.",
        "/status viser kva vi har om deg; /contact viser kven du kan spørje.",
    ),
    "Confirmed.": ("Bekreftet.", "Stadfesta."),
    "The information letter, for you to keep.": (
        "Informasjonsskrivet, som du kan beholde.",
        "Informasjonsskrivet, som du kan ta vare på.",
    ),
    "Study: {title}": ("Studie: {title}", "Studie: {title}"),
    "Your participant code: {code}": ("Deltakerkoden din: {code}", "Deltakarkoden din: {code}"),
    "Status: {state}": ("Status: {state}", "Status: {state}"),
    "What we hold about you:": ("Dette har vi om deg:", "Dette har vi om deg:"),
    "your Telegram name, user name and ids, kept apart from everything else in a locked "
    "register (the linkage key)": (
        "navnet, brukernavnet og id-ene dine i Telegram, lagret adskilt fra alt annet i et "
        "låst register (koblingsnøkkelen)",
        "namnet, brukarnamnet og id-ane dine i Telegram, lagra skilt frå alt anna i eit "
        "låst register (koplingsnøkkelen)",
    ),
    "your consent answers and when you gave them": (
        "samtykkesvarene dine og når du ga dem",
        "samtykkesvara dine og når du gav dei",
    ),
    "recordings of your interview: {n}": (
        "opptak av intervjuet ditt: {n}",
        "opptak av intervjuet ditt: {n}",
    ),
    "Until {date}. Then recordings and the link to you are deleted; only anonymous material "
    "remains.": (
        "Til {date}. Da slettes opptak og koblingen til deg; bare anonymt materiale blir igjen.",
        "Til {date}. Då blir opptak og koplinga til deg sletta; berre anonymt materiale blir att.",
    ),
    "/copy sends you a copy of it all; /withdraw withdraws your consent.": (
        "/copy sender deg en kopi av alt; /withdraw trekker tilbake samtykket ditt.",
        "/copy sender deg ein kopi av alt; /withdraw trekkjer tilbake samtykket ditt.",
    ),
    "All data we hold about you (not the audio itself).": (
        "Alle opplysninger vi har om deg (ikke selve lydopptaket).",
        "Alle opplysningar vi har om deg (ikkje sjølve lydopptaket).",
    ),
    "Which language do you want?": ("Hvilket språk vil du ha?", "Kva språk vil du ha?"),
    "You have no consent to withdraw.": (
        "Du har ikke noe samtykke å trekke tilbake.",
        "Du har ikkje noko samtykke å trekkje tilbake.",
    ),
    "Everything: leave the study": (
        "Alt: trekk meg fra studien",
        "Alt: trekk meg frå studien",
    ),
    "Only: {item}": ("Bare: {item}", "Berre: {item}"),
    "Cancel": ("Avbryt", "Avbryt"),
    "What do you want to withdraw?": ("Hva vil du trekke tilbake?", "Kva vil du trekkje tilbake?"),
    "Nothing was changed.": ("Ingenting ble endret.", "Ingenting vart endra."),
    "You are about to withdraw from the study. Your recordings, raw transcripts and the link "
    "between you and your code will be deleted. This cannot be undone.": (
        "Du er i ferd med å trekke deg fra studien. Opptakene, de rå transkripsjonene og "
        "koblingen mellom deg og koden din blir slettet. Dette kan ikke angres.",
        "Du er i ferd med å trekkje deg frå studien. Opptaka, dei rå transkripsjonane og "
        "koplinga mellom deg og koden din blir sletta. Dette kan ikkje angrast.",
    ),
    "You are about to withdraw this consent: {item}": (
        "Du er i ferd med å trekke tilbake dette samtykket: {item}",
        "Du er i ferd med å trekkje tilbake dette samtykket: {item}",
    ),
    "Your recordings and raw transcripts will be deleted.": (
        "Opptakene og de rå transkripsjonene blir slettet.",
        "Opptaka og dei rå transkripsjonane blir sletta.",
    ),
    "Are you sure?": ("Er du sikker?", "Er du sikker?"),
    "Yes, withdraw": ("Ja, trekk tilbake", "Ja, trekk tilbake"),
    "No, keep it": ("Nei, behold det", "Nei, behald det"),
    "Withdraw?": ("Trekke tilbake?", "Trekkje tilbake?"),
    "Your withdrawal is recorded. Deleting your data now…": (
        "Tilbaketrekkingen er registrert. Sletter opplysningene dine nå …",
        "Tilbaketrekkinga er registrert. Slettar opplysningane dine no …",
    ),
    "Done. This is what was deleted:": (
        "Ferdig. Dette ble slettet:",
        "Ferdig. Dette vart sletta:",
    ),
    "recordings: {n}": ("opptak: {n}", "opptak: {n}"),
    "raw transcripts: {n}": ("rå transkripsjoner: {n}", "rå transkripsjonar: {n}"),
    "other files about you: {n}": ("andre filer om deg: {n}", "andre filer om deg: {n}"),
    "your name, Telegram ids and the link between you and your code": (
        "navnet ditt, Telegram-id-ene og koblingen mellom deg og koden din",
        "namnet ditt, Telegram-id-ane og koplinga mellom deg og koden din",
    ),
    "We no longer know who you are. Thank you for your time.": (
        "Vi vet ikke lenger hvem du er. Takk for tiden din.",
        "Vi veit ikkje lenger kven du er. Takk for tida di.",
    ),
    "Done. There was nothing to delete for this consent.": (
        "Ferdig. Det var ingenting å slette for dette samtykket.",
        "Ferdig. Det var ingenting å slette for dette samtykket.",
    ),
    "Researcher": ("Forsker", "Forskar"),
    "Supervisor": ("Veileder", "Rettleiar"),
    "Data protection officer": ("Personvernombud", "Personvernombod"),
    "Assessment": ("Vurdering", "Vurdering"),
    "Complaints": ("Klage", "Klage"),
    "Contacts": ("Kontakt", "Kontakt"),
    "Letter version": ("Versjon av skrivet", "Versjon av skrivet"),
    "Sorry, this invitation link does not work: it is unknown, expired or already used. Please "
    "ask the researcher for a new link. Nothing has been stored about you.": (
        "Beklager, denne invitasjonslenken virker ikke: den er ukjent, utløpt eller allerede "
        "brukt. Be forskeren om en ny lenke. Ingenting er lagret om deg.",
        "Orsak, denne invitasjonslenkja verkar ikkje: ho er ukjend, gått ut eller alt brukt. "
        "Be forskaren om ei ny lenkje. Ingenting er lagra om deg.",
    ),
    "This bot collects consent for research interviews. To take part, open the invitation link "
    "the researcher sent you.": (
        "Denne boten samler inn samtykke til forskningsintervjuer. For å delta, åpne "
        "invitasjonslenken du fikk fra forskeren.",
        "Denne boten samlar inn samtykke til forskingsintervju. For å vere med, opne "
        "invitasjonslenkja du fekk frå forskaren.",
    ),
    "We hold nothing about you in this chat.": (
        "Vi har ingenting om deg i denne chatten.",
        "Vi har ingenting om deg i denne chatten.",
    ),
    "You can use these commands:\n"
    "/status – what we hold about you and until when\n"
    "/copy – a copy of all data about you\n"
    "/withdraw – withdraw your consent, wholly or in part\n"
    "/contact – whom to contact, and where to complain\n"
    "/language – change the language\n"
    "/help – this list": (
        "Du kan bruke disse kommandoene:\n"
        "/status – hva vi har om deg, og hvor lenge\n"
        "/copy – en kopi av alle opplysninger om deg\n"
        "/withdraw – trekk tilbake samtykket, helt eller delvis\n"
        "/contact – hvem du kan kontakte, og hvor du kan klage\n"
        "/language – bytt språk\n"
        "/help – denne lista",
        "Du kan bruke desse kommandoane:\n"
        "/status – kva vi har om deg, og kor lenge\n"
        "/copy – ein kopi av alle opplysningar om deg\n"
        "/withdraw – trekk tilbake samtykket, heilt eller delvis\n"
        "/contact – kven du kan kontakte, og kvar du kan klage\n"
        "/language – byt språk\n"
        "/help – denne lista",
    ),
    "invited": ("invitert", "invitert"),
    "informed, not yet answered": ("informert, ikke svart ennå", "informert, ikkje svart enno"),
    "consented": ("samtykket", "samtykt"),
    "declined": ("takket nei", "takka nei"),
    "withdrawn": ("trukket seg", "trekt seg"),
    "interviewed": ("intervjuet", "intervjua"),
    "interview transcribed": ("intervjuet er transkribert", "intervjuet er transkribert"),
    "transcript approved": ("transkripsjonen er godkjent", "transkripsjonen er godkjend"),
    "Sorry, something went wrong and nothing was changed. Try again.": (
        "Beklager, noe gikk galt, og ingenting ble endret. Prøv igjen.",
        "Orsak, noko gjekk gale, og ingenting vart endra. Prøv att.",
    ),
    # Re-consent and later changes of answers.
    "This one is needed to take part: if you answer no, you leave the study and your "
    "recordings and the link to you are deleted.": (
        "Dette må du si ja til for å delta: svarer du nei, går du ut av studien, og opptakene "
        "og koblingen til deg blir slettet.",
        "Dette må du seie ja til for å vere med: svarar du nei, går du ut av studien, og "
        "opptaka og koplinga til deg blir sletta.",
    ),
    "You answered no to a question that is needed to take part. If you confirm, you leave the "
    "study: your recordings, raw transcripts and the link between you and your code will be "
    "deleted. This cannot be undone.": (
        "Du svarte nei på et spørsmål som må besvares med ja for å delta. Bekrefter du, går du "
        "ut av studien: opptakene, de rå transkripsjonene og koblingen mellom deg og koden din "
        "blir slettet. Dette kan ikke angres.",
        "Du svarte nei på eit spørsmål som må svarast ja på for å vere med. Stadfestar du, går "
        "du ut av studien: opptaka, dei rå transkripsjonane og koplinga mellom deg og koden din "
        "blir sletta. Dette kan ikkje angrast.",
    ),
    "You answered no to a question that is needed to take part, so you have now left the "
    "study. Deleting your data now…": (
        "Du svarte nei på et spørsmål som må besvares med ja for å delta, så du er nå ute av "
        "studien. Sletter opplysningene dine nå …",
        "Du svarte nei på eit spørsmål som må svarast ja på for å vere med, så du er no ute av "
        "studien. Slettar opplysningane dine no …",
    ),
    "Change my answers": ("Endre svarene mine", "Endre svara mine"),
    # Retention notices (bot/notifier.py).
    "The study “{title}” has ended: {date} was the last day data about you could be kept. "
    "We are now deleting your recordings, the raw transcripts of your interview and the link "
    "between you and your participant code (your name and Telegram details).": (
        "Studien «{title}» er avsluttet: {date} var siste dag opplysninger om deg kunne "
        "lagres. Nå sletter vi opptakene dine, de rå transkripsjonene av intervjuet og "
        "koblingen mellom deg og deltakerkoden din (navnet ditt og Telegram-opplysningene).",
        "Studien «{title}» er avslutta: {date} var siste dagen opplysningar om deg kunne "
        "lagrast. No slettar vi opptaka dine, dei rå transkripsjonane av intervjuet og "
        "koplinga mellom deg og deltakarkoden din (namnet ditt og Telegram-opplysningane).",
    ),
    "What is kept: the anonymised transcripts, which name nobody, and your consent answers "
    "under your code. After that, nobody can tell they are about you.": (
        "Dette blir tatt vare på: de anonymiserte transkripsjonene, som ikke nevner noen ved "
        "navn, og samtykkesvarene dine under koden din. Etter det kan ingen se at de handler "
        "om deg.",
        "Dette blir teke vare på: dei anonymiserte transkripsjonane, som ikkje nemner nokon "
        "med namn, og samtykkesvara dine under koden din. Etter det kan ingen sjå at dei "
        "handlar om deg.",
    ),
    "The study “{title}” has been extended: your recordings and the link to you are now kept "
    "until {to} instead of {old}, and deleted then.": (
        "Studien «{title}» er forlenget: opptakene dine og koblingen til deg blir nå tatt vare "
        "på til {to} i stedet for {old}, og slettet da.",
        "Studien «{title}» er forlengd: opptaka dine og koplinga til deg blir no tekne vare "
        "på til {to} i staden for {old}, og sletta då.",
    ),
    "You can still withdraw at any time with /withdraw, without giving a reason.": (
        "Du kan fortsatt trekke deg når som helst med /withdraw, uten å oppgi grunn.",
        "Du kan framleis trekkje deg når som helst med /withdraw, utan å gje grunn.",
    ),
    "Your withdrawal from “{title}” is complete: your recordings, raw transcripts and the "
    "link between you and your code are deleted.": (
        "Du er nå trukket ut av «{title}»: opptakene, de rå transkripsjonene og koblingen "
        "mellom deg og koden din er slettet.",
        "Du er no trekt ut av «{title}»: opptaka, dei rå transkripsjonane og koplinga mellom "
        "deg og koden din er sletta.",
    ),
    "Questions? Contact {people}.": (
        "Spørsmål? Kontakt {people}.",
        "Spørsmål? Kontakt {people}.",
    ),
    # Retention notices to researchers.
    "none": ("ingen", "ingen"),
    "Study {study}: deletion in {days} day(s), at {deadline}.": (
        "Studie {study}: sletting om {days} dag(er), {deadline}.",
        "Studie {study}: sletting om {days} dag(ar), {deadline}.",
    ),
    "Participants: {n}. Files to delete: {objects}.": (
        "Deltakere: {n}. Filer som slettes: {objects}.",
        "Deltakarar: {n}. Filer som blir sletta: {objects}.",
    ),
    "Transcripts not yet approved (deleted with the recordings): {codes}": (
        "Transkripsjoner som ikke er godkjent ennå (slettes med opptakene): {codes}",
        "Transkripsjonar som ikkje er godkjende enno (blir sletta med opptaka): {codes}",
    ),
    "Study {study}: processing end moved from {old} to {to}.": (
        "Studie {study}: sluttdatoen for behandlingen er flyttet fra {old} til {to}.",
        "Studie {study}: sluttdatoen for handsaminga er flytt frå {old} til {to}.",
    ),
    "Assessment: {ref}.": ("Vurdering: {ref}.", "Vurdering: {ref}."),
    "Study {study}: the end-date deletion has run.": (
        "Studie {study}: slettingen ved sluttdatoen er gjennomført.",
        "Studie {study}: slettinga ved sluttdatoen er gjennomført.",
    ),
    # Researcher messages.
    "Linked as a researcher of {study}. /participants lists its participants.": (
        "Koblet som forsker i {study}. /participants viser deltakerne.",
        "Kopla som forskar i {study}. /participants viser deltakarane.",
    ),
    "No participants yet.": ("Ingen deltakere ennå.", "Ingen deltakarar enno."),
    "Not accepted: {reason}": ("Ikke tatt imot: {reason}", "Ikkje teke imot: {reason}"),
    "This file is larger than 20 MB, the most a bot may download from Telegram. Upload it "
    "through the web page instead, or run a local Bot API server (see the README).": (
        "Filen er større enn 20 MB, det meste en bot kan laste ned fra Telegram. Last den opp "
        "på nettsiden i stedet, eller bruk en lokal Bot API-server (se README).",
        "Fila er større enn 20 MB, det meste ein bot kan laste ned frå Telegram. Last ho opp "
        "på nettsida i staden, eller bruk ein lokal Bot API-tenar (sjå README).",
    ),
    "Recording {id} for {code} is stored encrypted and queued for transcription.": (
        "Opptak {id} for {code} er lagret kryptert og satt i kø for transkribering.",
        "Opptak {id} for {code} er lagra kryptert og sett i kø for transkribering.",
    ),
    # Linking Telegram to a participation from the web page, and /web (issue 14).
    "This chat is now linked to your participation in “{title}” (participant code "
    "{code}). /status shows what we hold about you, and /web gives you a link to your "
    "personal page on the web.": (
        "Denne chatten er nå koblet til deltakelsen din i «{title}» (deltakerkode {code}). "
        "/status viser hva vi har om deg, og /web gir deg en lenke til den personlige siden "
        "din på nettet.",
        "Denne chatten er no kopla til deltakinga di i «{title}» (deltakarkode {code}). "
        "/status viser kva vi har om deg, og /web gir deg ei lenkje til den personlege sida "
        "di på nettet.",
    ),
    "Sorry, this link to your participation does not work: it has expired or has already "
    "been used. Open your personal page on the web and ask for a new one.": (
        "Beklager, denne lenken til deltakelsen din virker ikke: den er utløpt eller allerede "
        "brukt. Åpne den personlige siden din på nettet og be om en ny.",
        "Orsak, denne lenkja til deltakinga di verkar ikkje: ho har gått ut eller er alt "
        "brukt. Opne den personlege sida di på nettet og be om ei ny.",
    ),
    "You have withdrawn from this study, so there is nothing to link this chat to. "
    "Nothing has been stored about you in this chat.": (
        "Du har trukket deg fra denne studien, så det er ingenting å koble denne chatten "
        "til. Ingenting om deg er lagret i denne chatten.",
        "Du har trekt deg frå denne studien, så det er ingenting å kople denne chatten til. "
        "Ingenting om deg er lagra i denne chatten.",
    ),
    "This chat already takes part in a study as another participant, so it cannot be "
    "linked to this participation as well. Please contact the researcher.": (
        "Denne chatten deltar allerede i en studie som en annen deltaker, så den kan ikke "
        "kobles til denne deltakelsen i tillegg. Ta kontakt med forskeren.",
        "Denne chatten er alt med i ein studie som ein annan deltakar, så han kan ikkje "
        "koplast til denne deltakinga i tillegg. Ta kontakt med forskaren.",
    ),
    "You have withdrawn from the study, so there is no personal page to open.": (
        "Du har trukket deg fra studien, så det er ingen personlig side å åpne.",
        "Du har trekt deg frå studien, så det er inga personleg side å opne.",
    ),
    "Your personal page on the web:": (
        "Den personlige siden din på nettet:",
        "Den personlege sida di på nettet:",
    ),
    "There you can see your status and deletion dates, take a copy, change your answers or "
    "withdraw, as here.": (
        "Der kan du se status og slettedatoer, ta en kopi, endre svarene dine eller trekke "
        "deg, slik som her.",
        "Der kan du sjå status og slettedatoar, ta ein kopi, endre svara dine eller trekkje "
        "deg, slik som her.",
    ),
    "Keep this link private: whoever has it can open your page. Do not share or forward "
    "it. Send /web again for a new link at any time.": (
        "Hold denne lenken for deg selv: den som har den, kan åpne siden din. Ikke del eller "
        "videresend den. Send /web igjen når som helst for en ny lenke.",
        "Hald denne lenkja for deg sjølv: den som har ho, kan opne sida di. Ikkje del eller "
        "vidaresend ho. Send /web igjen når som helst for ei ny lenkje.",
    ),
    # The informant web page (fieldvault/web: templates and views).
    "Consent receipt": ("Samtykkekvittering", "Samtykkekvittering"),
    "Study: {title} ({id})": ("Studie: {title} ({id})", "Studie: {title} ({id})"),
    "Participant code: {code}": ("Deltakerkode: {code}", "Deltakarkode: {code}"),
    "Recorded: {utc} (UTC)": ("Registrert: {utc} (UTC)", "Registrert: {utc} (UTC)"),
    "Local time: {local} ({zone})": ("Lokal tid: {local} ({zone})", "Lokal tid: {local} ({zone})"),
    "Channel: {channel}": ("Kanal: {channel}", "Kanal: {channel}"),
    "Letter version (SHA-256 of the exact letter text):": (
        "Versjon av skrivet (SHA-256 av den nøyaktige teksten):",
        "Versjon av skrivet (SHA-256 av den nøyaktige teksten):",
    ),
    "You agreed to": ("Du sa ja til", "Du sa ja til"),
    "nothing": ("ingenting", "ingenting"),
    "You refused": ("Du sa nei til", "Du sa nei til"),
    "SHA-256 of this receipt's canonical text": (
        "SHA-256 av kvitteringens kanoniske tekst",
        "SHA-256 av den kanoniske teksten i kvitteringa",
    ),
    "This invitation is not valid.": (
        "Denne invitasjonen er ikke gyldig.",
        "Denne invitasjonen er ikkje gyldig.",
    ),
    "This invitation has already been used.": (
        "Denne invitasjonen er allerede brukt.",
        "Denne invitasjonen er allereie brukt.",
    ),
    "This invitation has expired.": (
        "Denne invitasjonen har gått ut.",
        "Denne invitasjonen har gått ut.",
    ),
    "Invited: you have not answered yet.": (
        "Invitert: du har ikke svart ennå.",
        "Invitert: du har ikkje svart enno.",
    ),
    "You have read the letter but not answered yet.": (
        "Du har lest skrivet, men ikke svart ennå.",
        "Du har lese skrivet, men ikkje svart enno.",
    ),
    "You take part: your consent is recorded.": (
        "Du deltar: samtykket ditt er registrert.",
        "Du er med: samtykket ditt er registrert.",
    ),
    "You declined: you do not take part.": (
        "Du takket nei: du deltar ikke.",
        "Du takka nei: du er ikkje med.",
    ),
    "You have withdrawn from the study.": (
        "Du har trukket deg fra studien.",
        "Du har trekt deg frå studien.",
    ),
    "You take part: your interview is recorded.": (
        "Du deltar: intervjuet ditt er tatt opp.",
        "Du er med: intervjuet ditt er teke opp.",
    ),
    "You take part: your interview is transcribed.": (
        "Du deltar: intervjuet ditt er transkribert.",
        "Du er med: intervjuet ditt er transkribert.",
    ),
    "You take part: your transcript is approved.": (
        "Du deltar: transkripsjonen din er godkjent.",
        "Du er med: transkripsjonen din er godkjend.",
    ),
    "recordings": ("opptak", "opptak"),
    "raw transcripts": ("rå transkripsjoner", "rå transkripsjonar"),
    "redaction maps": ("pseudonymiseringsnøkler", "pseudonymiseringsnøklar"),
    "(required)": ("(må besvares ja for å delta)", "(må svarast ja for å vere med)"),
    "(optional)": ("(frivillig)", "(friviljug)"),
    "Please answer yes or no.": ("Svar ja eller nei.", "Svar ja eller nei."),
    "Language": ("Språk", "Språk"),
    "Check your answers": ("Sjekk svarene dine", "Sjekk svara dine"),
    "This is what will be recorded:": (
        "Dette blir registrert:",
        "Dette blir registrert:",
    ),
    "You answered no to a question that is needed to take part. If you send this, you "
    "decline: you will not be interviewed and nothing more will happen.": (
        "Du svarte nei på et spørsmål som må besvares ja for å delta. Sender du dette, takker "
        "du nei: du blir ikke intervjuet, og ingenting mer skjer.",
        "Du svarte nei på eit spørsmål som må svarast ja for å vere med. Sender du dette, "
        "takkar du nei: du blir ikkje intervjua, og ingenting meir skjer.",
    ),
    "Record my answers": ("Registrer svarene mine", "Registrer svara mine"),
    "Something went wrong": ("Noe gikk galt", "Noko gjekk gale"),
    "Nothing was recorded. Try again in a while, or contact the researcher.": (
        "Ingenting ble registrert. Prøv igjen om litt, eller kontakt forskeren.",
        "Ingenting vart registrert. Prøv igjen om litt, eller kontakt forskaren.",
    ),
    "The form could not be sent": (
        "Skjemaet kunne ikke sendes",
        "Skjemaet kunne ikkje sendast",
    ),
    "Nothing was recorded. Go back, reload the page and try again.": (
        "Ingenting ble registrert. Gå tilbake, last inn siden på nytt og prøv igjen.",
        "Ingenting vart registrert. Gå tilbake, last inn sida på nytt og prøv igjen.",
    ),
    "Ask the researcher for a new invitation. Nothing has been recorded.": (
        "Be forskeren om en ny invitasjon. Ingenting er registrert.",
        "Be forskaren om ein ny invitasjon. Ingenting er registrert.",
    ),
    "Your answers": ("Svarene dine", "Svara dine"),
    "Some questions are not answered. Nothing has been recorded.": (
        "Noen spørsmål er ikke besvart. Ingenting er registrert.",
        "Nokre spørsmål er ikkje svarte på. Ingenting er registrert.",
    ),
    "Answer each question yes or no. Nothing is ticked in advance.": (
        "Svar ja eller nei på hvert spørsmål. Ingenting er krysset av på forhånd.",
        "Svar ja eller nei på kvart spørsmål. Ingenting er kryssa av på førehand.",
    ),
    "Continue": ("Gå videre", "Gå vidare"),
    "Nothing is recorded until you have read the letter and answered.": (
        "Ingenting blir registrert før du har lest skrivet og svart.",
        "Ingenting blir registrert før du har lese skrivet og svart.",
    ),
    "Information about the study": ("Informasjon om studien", "Informasjon om studien"),
    "Read this before you answer. You can take as long as you like.": (
        "Les dette før du svarer. Du kan bruke så lang tid du vil.",
        "Les dette før du svarar. Du kan bruke så lang tid du vil.",
    ),
    "The information letter": ("Informasjonsskrivet", "Informasjonsskrivet"),
    "Who is responsible, and what happens to your data": (
        "Hvem som er ansvarlig, og hva som skjer med opplysningene dine",
        "Kven som er ansvarleg, og kva som skjer med opplysningane dine",
    ),
    "Controller": ("Behandlingsansvarlig", "Behandlingsansvarleg"),
    "organisation number": ("organisasjonsnummer", "organisasjonsnummer"),
    "Researchers": ("Forskere", "Forskarar"),
    "Purpose": ("Formål", "Føremål"),
    "To answer the research question: {question}": (
        "Å svare på problemstillingen: {question}",
        "Å svare på problemstillinga: {question}",
    ),
    "Legal basis": ("Behandlingsgrunnlag", "Behandlingsgrunnlag"),
    "Your consent (GDPR Art. 6(1)(a)).": (
        "Samtykket ditt (personvernforordningen art. 6 nr. 1 bokstav a).",
        "Samtykket ditt (personvernforordninga art. 6 nr. 1 bokstav a).",
    ),
    "A task in the public interest (GDPR Art. 6(1)(e)).": (
        "En oppgave i allmennhetens interesse (personvernforordningen art. 6 nr. 1 bokstav e).",
        "Ei oppgåve i allmenta si interesse (personvernforordninga art. 6 nr. 1 bokstav e).",
    ),
    "Who receives your data": ("Hvem som får opplysningene", "Kven som får opplysningane"),
    "Only the research team named above. No one else receives it.": (
        "Bare forskerne som er nevnt over. Ingen andre får dem.",
        "Berre forskarane som er nemnde over. Ingen andre får dei.",
    ),
    "How long it is kept": ("Hvor lenge de lagres", "Kor lenge dei blir lagra"),
    "The project ends on {project_end}. Recordings and the link between you and your code are "
    "deleted by the end of {processing_end}, at the latest {deadline}.": (
        "Prosjektet avsluttes {project_end}. Opptakene og koblingen mellom deg og koden din "
        "slettes innen utgangen av {processing_end}, senest {deadline}.",
        "Prosjektet blir avslutta {project_end}. Opptaka og koplinga mellom deg og koden din "
        "blir sletta innan utgangen av {processing_end}, seinast {deadline}.",
    ),
    "Your rights": ("Rettighetene dine", "Rettane dine"),
    "As long as you can be identified, you have the right to:": (
        "Så lenge du kan identifiseres, har du rett til å:",
        "Så lenge du kan identifiserast, har du rett til å:",
    ),
    "access the data about you and get a copy of it": (
        "få innsyn i opplysningene om deg og få en kopi av dem",
        "få innsyn i opplysningane om deg og få ein kopi av dei",
    ),
    "have wrong data about you corrected (rectification)": (
        "få rettet opplysninger om deg som er feil (retting)",
        "få retta opplysningar om deg som er feil (retting)",
    ),
    "have data about you deleted (erasure)": (
        "få slettet opplysninger om deg (sletting)",
        "få sletta opplysningar om deg (sletting)",
    ),
    "have the processing of your data restricted": (
        "få begrenset behandlingen av opplysningene dine",
        "få avgrensa handsaminga av opplysningane dine",
    ),
    "object to the processing": ("protestere mot behandlingen", "protestere mot handsaminga"),
    "receive your data in a common format (portability)": (
        "få utlevert opplysningene dine i et vanlig format (dataportabilitet)",
        "få utlevert opplysningane dine i eit vanleg format (dataportabilitet)",
    ),
    "withdraw your consent at any time, without giving a reason; your data is then deleted at "
    "once": (
        "trekke samtykket ditt når som helst, uten å si hvorfor; opplysningene slettes da med én "
        "gang",
        "trekkje samtykket ditt når som helst, utan å seie kvifor; opplysningane blir då sletta "
        "med ein gong",
    ),
    "complain to the Norwegian Data Protection Authority (Datatilsynet): {contact}": (
        "klage til Datatilsynet: {contact}",
        "klage til Datatilsynet: {contact}",
    ),
    "Continue to the questions": ("Gå videre til spørsmålene", "Gå vidare til spørsmåla"),
    "This page does not exist": ("Denne siden finnes ikke", "Denne sida finst ikkje"),
    "Check that you copied the whole link. If you have lost it, ask the researcher.": (
        "Sjekk at du kopierte hele lenken. Har du mistet den, spør forskeren.",
        "Sjekk at du kopierte heile lenka. Har du mista ho, spør forskaren.",
    ),
    "Your page in the study": ("Din side i studien", "Sida di i studien"),
    "Your answers are saved.": ("Svarene dine er lagret.", "Svara dine er lagra."),
    "Status": ("Status", "Status"),
    "Withdrawn: {when}": ("Trukket: {when}", "Trekt: {when}"),
    "Recordings held: {n}": ("Opptak som lagres: {n}", "Opptak som blir lagra: {n}"),
    "When your data is deleted": (
        "Når opplysningene dine slettes",
        "Når opplysningane dine blir sletta",
    ),
    "Recordings and the link between you and your code are deleted by the end of "
    "{processing_end}, at the latest {deadline}.": (
        "Opptakene og koblingen mellom deg og koden din slettes innen utgangen av "
        "{processing_end}, senest {deadline}.",
        "Opptaka og koplinga mellom deg og koden din blir sletta innan utgangen av "
        "{processing_end}, seinast {deadline}.",
    ),
    "The letter has changed": ("Skrivet er endret", "Skrivet er endra"),
    "The information letter has changed since you consented. Please read the new version and "
    "answer again. Your earlier answers stand until then.": (
        "Informasjonsskrivet er endret siden du samtykket. Les den nye versjonen og svar på "
        "nytt. Svarene du ga før, gjelder til da.",
        "Informasjonsskrivet er endra sidan du samtykte. Les den nye versjonen og svar på nytt. "
        "Svara du gav før, gjeld til då.",
    ),
    "Read the letter": ("Les skrivet", "Les skrivet"),
    "Your data": ("Opplysningene dine", "Opplysningane dine"),
    "Download a copy of everything stored about you (JSON)": (
        "Last ned en kopi av alt som er lagret om deg (JSON)",
        "Last ned ein kopi av alt som er lagra om deg (JSON)",
    ),
    "See your receipt": ("Se kvitteringen din", "Sjå kvitteringa di"),
    "Change your answers": ("Endre svarene dine", "Endre svara dine"),
    "There are no optional questions to change.": (
        "Det er ingen frivillige spørsmål å endre.",
        "Det er ingen friviljuge spørsmål å endre.",
    ),
    "Save my answers": ("Lagre svarene mine", "Lagre svara mine"),
    "Withdraw": ("Trekk deg", "Trekk deg"),
    "Use Telegram too": ("Bruk Telegram også", "Bruk Telegram òg"),
    "Get a link for the Telegram bot": (
        "Få en lenke til Telegram-boten",
        "Få ei lenke til Telegram-boten",
    ),
    "Your receipt": ("Kvitteringen din", "Kvitteringa di"),
    "You declined: you do not take part. Nothing more will happen. If you change your mind, "
    "open your page below and read the letter again.": (
        "Du takket nei: du deltar ikke. Ingenting mer skjer. Ombestemmer du deg, kan du åpne "
        "siden din nedenfor og lese skrivet på nytt.",
        "Du takka nei: du er ikkje med. Ingenting meir skjer. Ombestemmer du deg, kan du opne "
        "sida di nedanfor og lese skrivet på nytt.",
    ),
    "Thank you. Your answers are recorded.": (
        "Takk. Svarene dine er registrert.",
        "Takk. Svara dine er registrerte.",
    ),
    "Save this link": ("Ta vare på denne lenken", "Ta vare på denne lenka"),
    "This is your personal page. Anyone who has the link can open it, so keep it to yourself. "
    "It is shown only here: we store it in a form that cannot be read back.": (
        "Dette er din personlige side. Alle som har lenken, kan åpne den, så hold den for deg "
        "selv. Den vises bare her: vi lagrer den i en form som ikke kan leses tilbake.",
        "Dette er den personlege sida di. Alle som har lenka, kan opne ho, så hald ho for deg "
        "sjølv. Ho blir berre vist her: vi lagrar ho i ei form som ikkje kan lesast tilbake.",
    ),
    "Your personal link": ("Din personlige lenke", "Den personlege lenka di"),
    "Copy it into your notes, or bookmark this page.": (
        "Kopier den inn i notatene dine, eller lagre siden som bokmerke.",
        "Kopier ho inn i notata dine, eller lagre sida som bokmerke.",
    ),
    "What was recorded": ("Hva som ble registrert", "Kva som vart registrert"),
    "Study": ("Studie", "Studie"),
    "Your participant code": ("Deltakerkoden din", "Deltakarkoden din"),
    "Time": ("Tidspunkt", "Tidspunkt"),
    "Channel": ("Kanal", "Kanal"),
    "Download the receipt (PDF)": ("Last ned kvitteringen (PDF)", "Last ned kvitteringa (PDF)"),
    "Go to your personal page": ("Gå til din personlige side", "Gå til den personlege sida di"),
    "Open this link on the device where you use Telegram. It works once, within a day.": (
        "Åpne denne lenken på enheten der du bruker Telegram. Den virker én gang, innen ett døgn.",
        "Opne denne lenka på eininga der du bruker Telegram. Ho verkar éin gong, innan eitt døgn.",
    ),
    "Open the Telegram bot": ("Åpne Telegram-boten", "Opne Telegram-boten"),
    "Back to your page": ("Tilbake til siden din", "Tilbake til sida di"),
    "Too many attempts": ("For mange forsøk", "For mange forsøk"),
    "Wait a minute and try again.": (
        "Vent et minutt og prøv igjen.",
        "Vent eit minutt og prøv igjen.",
    ),
    "You have withdrawn from the study": (
        "Du har trukket deg fra studien",
        "Du har trekt deg frå studien",
    ),
    "Your consent is withdrawn": ("Samtykket ditt er trukket", "Samtykket ditt er trekt"),
    "Recorded and deleted at {when}.": (
        "Registrert og slettet {when}.",
        "Registrert og sletta {when}.",
    ),
    "What was destroyed": ("Hva som ble slettet", "Kva som vart sletta"),
    "No recordings or transcripts were held.": (
        "Det var ingen opptak eller transkripsjoner lagret.",
        "Det var ingen opptak eller transkripsjonar lagra.",
    ),
    "The link between you and your code (your name and contact details)": (
        "Koblingen mellom deg og koden din (navnet ditt og kontaktopplysningene dine)",
        "Koplinga mellom deg og koden din (namnet ditt og kontaktopplysningane dine)",
    ),
    "Kept, as the letter said: {n} approved pseudonymised transcript(s), which do not identify "
    "you.": (
        "Beholdt, slik skrivet sa: {n} godkjent(e) pseudonymisert(e) transkripsjon(er), som "
        "ikke identifiserer deg.",
        "Halde på, slik skrivet sa: {n} godkjend(e) pseudonymisert(e) transkripsjon(ar), som "
        "ikkje identifiserer deg.",
    ),
    "Did you use it yourself and lose your personal link?": (
        "Brukte du den selv og har mistet den personlige lenken din?",
        "Brukte du ho sjølv og har mista den personlege lenka di?",
    ),
    "Find your page again with your recovery code": (
        "Finn siden din igjen med gjenopprettingskoden",
        "Finn sida di att med gjenopprettingskoden",
    ),
    "If you lose the link, this recovery code gets you a new one. Write it down; it is shown "
    "only once.": (
        "Mister du lenken, kan du få en ny med denne gjenopprettingskoden. Skriv den ned; den "
        "vises bare én gang.",
        "Mistar du lenka, kan du få ei ny med denne gjenopprettingskoden. Skriv han ned; han "
        "blir berre vist éin gong.",
    ),
    "Find your page again": ("Finn siden din igjen", "Finn sida di att"),
    "That code is not valid. Check it and try again.": (
        "Den koden er ikke gyldig. Sjekk den og prøv igjen.",
        "Den koden er ikkje gyldig. Sjekk han og prøv igjen.",
    ),
    "Enter the recovery code you were given with your receipt. You get a new link to your "
    "page, and the old link stops working.": (
        "Skriv inn gjenopprettingskoden du fikk sammen med kvitteringen. Du får en ny lenke til "
        "siden din, og den gamle lenken slutter å virke.",
        "Skriv inn gjenopprettingskoden du fekk saman med kvitteringa. Du får ei ny lenke til "
        "sida di, og den gamle lenka sluttar å verke.",
    ),
    "Recovery code": ("Gjenopprettingskode", "Gjenopprettingskode"),
    "Open my page": ("Åpne siden min", "Opne sida mi"),
}


def main() -> None:
    """Rewrite en, nb and nn catalogs from the template, the table above and the researcher's."""
    table = {**T, **tables()}
    with (HERE / "fieldvault.pot").open("rb") as handle:
        template = read_po(handle)
    for index, lang in enumerate(LANGUAGES):
        catalog = Catalog(locale=lang, project="fieldvault", domain="fieldvault")
        for message in template:
            if not message.id:
                continue
            text = "" if lang == "en" else table.get(str(message.id), ("", ""))[index]
            catalog.add(message.id, text, flags=message.flags)
        target = HERE / lang / "LC_MESSAGES" / "fieldvault.po"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            write_po(handle, catalog, omit_header=False, no_location=True, width=100)


if __name__ == "__main__":
    main()
