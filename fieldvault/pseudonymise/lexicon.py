"""Word lists the pseudonymiser consults: names, places, common words, and curated stop lists.

The large lists are generated from maintained packages by ``scripts/build_pseudonymise_data.py``
(provenance on each file's first line) and loaded once, lazily, into frozensets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


def _words(text: str) -> frozenset[str]:
    """A set from whitespace-separated words (keeps the long curated lists readable)."""
    return frozenset(text.split())


def _read(name: str) -> list[str]:
    text = resources.files("fieldvault.pseudonymise").joinpath("data", name).read_text("utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# Capitalised words that are never people or places in an interview about work: months and
# weekdays (May, June, Mai), languages, holidays, software, generic institutions. Case-folded.
NOT_NAMES = frozenset(
    _words(
        """
    januar februar mars april mai juni juli august september oktober november desember
    january february march may june july october december
    mandag tirsdag tysdag onsdag torsdag fredag lørdag laurdag søndag sundag
    monday tuesday wednesday thursday friday saturday sunday
    jul påske pinse christmas easter gud god norsk engelsk norwegian english british
    nav navs nav-kontoret nav-kontor datatilsynet sikt nsd arbeidstilsynet skatteetaten
    lånekassen helsedirektoratet arbeids- stortinget regjeringen storting regjering
    zoom teams skype messenger facebook instagram snapchat tiktok linkedin google word excel
    powerpoint outlook microsoft apple iphone android maxqda nvivo whisper telegram youtube
    internet internett covid korona corona dwp jobcentre hmrc nhs gdpr ok okay
    mm hm mhm eh ehm øh uh um ja nei yes no hei hi hello takk thanks
    norge noreg norway norden skandinavia scandinavia europa europe
    enhetsregisteret folkeregisteret brønnøysundregistrene altinn helsenorge husbanken
    lovdata modia arena gosys kontaktsenter kontaktsenteret politiet trygderetten udi imdi
    bufetat statsforvalteren fylkesmannen kommunen fylkeskommunen høgskulen høgskolen
    universitetet sykehuset sjukehuset skolen skulen fylket staten departementet
    canvas itslearning blackboard moodle
    eg ho dei ikkje kva kvar korleis berre sjølv noko nokon ein eit mykje heile
    """
    )
)

# Given names and place names that are everyday words too: only capitalised mid-sentence,
# or with other evidence (a surname after them, the same name confirmed elsewhere), are they
# treated as names. Case-folded.
AMBIGUOUS = frozenset(
    _words(
        """
    dag per liv tor bo odd ask eli elin sol storm vår siv tone borg by dal mo os å ski
    sand hell vik berg strand nes lund hagen moen bakken haug li lie ro rye rød ås
    will may mark hope bill grace rose june april august joy faith ray frank art gene guy
    jack pat sue rob dawn summer autumn sunny hans andre jo line white long little young
    power house mann min land day
    """
    )
)

# Big and well-known places are proper nouns even when a frequency list ranks them as words.
_PROPER = frozenset(
    _words(
        """
    oslo bergen trondheim stavanger tromsø drammen kristiansand fredrikstad sandnes ålesund
    bodø molde volda ørsta sandefjord tønsberg hamar lillehammer gjøvik arendal haugesund
    london manchester leeds glasgow edinburgh bristol liverpool
    """
    )
)

# Words right before a name that make it a person ("kollegaen min Trude", "Dr Patel").
PERSON_CUES = frozenset(
    _words(
        """
    kollega kollegaen kollegane kollegene sjef sjefen leder lederen leiar leiaren veileder
    veilederen rettleiar brukeren brukaren klienten nabo naboen venn venninne venninna
    mannen kona samboer samboeren sønnen dattera datteren
    herr fru mr mrs ms miss dr doctor colleague manager boss supervisor client neighbour
    friend husband wife partner son daughter
    """
    )
)

# Verbs of saying after a sentence-initial name: "Grace told me", "Liv sa at" (a person).
SPEECH_VERBS = frozenset(
    _words(
        """
    sa sier sa: fortalte fortalde fortel forteller mente meinte mener meiner spurte spør
    ringte ringde skrev svarte forklarte nevnte lo
    said says told asked thinks thought reckons wrote rang called agreed replied explained
    mentioned laughed
    """
    )
)

# Words that, after an everyday word that is also a name, show the everyday sense:
# "Per i dag", "Dag etter dag", "Will you", "May I". Keys and values case-folded.
EVERYDAY_FOLLOWERS: dict[str, frozenset[str]] = {
    "per": _words("i nå dags definisjon dag uke veke måned månad år time person stykk"),
    "dag": _words("etter og for til ut inn"),
    "will": _words("you we it they he she i this that there be"),
    "may": _words("i we be you have it"),
    "mark": _words("my the"),
}

# Words after which a name follows even in lower case ("hun heter liv").
NAMING_CUES = frozenset({"heter", "het", "kalt", "kalla", "named", "called"})

# Prepositions after which a capitalised word is a place rather than a person.
LOCATIVES = frozenset(
    _words(
        """
    i på fra frå til ved mot nær rundt utenfor utanfor nord sør øst vest
    in at from to near around outside
    """
    )
)


@dataclass(frozen=True)
class Lexicon:
    """The loaded word lists (case as written for names/places, folded for common words)."""

    given: frozenset[str]
    surnames: frozenset[str]
    places: frozenset[str]
    place_heads: dict[str, tuple[tuple[str, ...], ...]]
    common_nb: frozenset[str]
    common_en: frozenset[str]
    # The 300 most frequent words of nb and en ("vi", "her", "new"), less the everyday words
    # that are names with context rules of their own (AMBIGUOUS): never a name on their own.
    function_words: frozenset[str]
    # Every word of the frequency lists (30,000 per language), lower case: a capitalised word
    # outside it is likely a name.
    vocabulary: frozenset[str]

    def common(self, language: str) -> frozenset[str]:
        """Frequent lower-case words of the language (nn uses the bokmål list)."""
        return self.common_en if language == "en" else self.common_nb


@cache
def lexicon() -> Lexicon:
    """Load every list once per process."""
    given = frozenset(_read("given_no.txt") + _read("given_en.txt"))
    surnames = frozenset(_read("surnames_no.txt") + _read("surnames_en.txt"))
    places_list = _read("places.txt")
    heads: dict[str, list[tuple[str, ...]]] = {}
    for place in places_list:
        words = tuple(place.split())
        if len(words) > 1:
            heads.setdefault(words[0], []).append(words)
    top_given = {
        name.casefold() for name in _read("given_no.txt")[:150] + _read("given_en.txt")[:150]
    }
    keep = top_given | _PROPER

    def common(name: str, top: int) -> frozenset[str]:
        words = _read(name)[:top]
        return frozenset((set(words) - keep) | AMBIGUOUS)

    return Lexicon(
        given=given,
        surnames=surnames,
        places=frozenset(p for p in places_list if " " not in p),
        place_heads={k: tuple(sorted(v, key=len, reverse=True)) for k, v in heads.items()},
        common_nb=common("common_nb.txt", 1500),
        common_en=common("common_en.txt", 1500),
        vocabulary=frozenset(_read("common_nb.txt")) | frozenset(_read("common_en.txt")),
        function_words=frozenset(
            (set(_read("common_nb.txt")[:300]) | set(_read("common_en.txt")[:300]))
            - AMBIGUOUS
            - _PROPER
        ),
    )
