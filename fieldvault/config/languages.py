"""fieldvault's languages: the texts' (nb, nn, en) and the interviews' as Whisper knows them.

The study's letter languages are nb, nn and en, but Whisper has no "nb": its Norwegian is "no"
(trained mostly on bokmål) next to "nn". Reading "nb" as "no" here saves a researcher a failed
transcription job; anything Whisper does not know is refused before a file is stored.
"""

from __future__ import annotations

from collections.abc import Mapping

# The languages of letters, consent items and every text an informant reads: the one list.
LANGUAGES: tuple[str, ...] = ("nb", "nn", "en")
# Each of them in its own words, as an informant picks it (and a researcher reads it).
LANGUAGE_NAMES: Mapping[str, str] = {"nb": "Norsk bokmål", "nn": "Norsk nynorsk", "en": "English"}

DETECT = "detect"

# Whisper's language codes, in its own order (openai-whisper tokenizer.LANGUAGES; faster-whisper
# keeps the same tuple; a unit test checks they still agree).
# fmt: off
WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da",
    "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he",
    "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la",
    "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl",
    "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so",
    "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz",
    "vi", "yi", "yo", "zh", "yue",
)
# fmt: on

ALIASES = {"nb": "no"}


class UnknownLanguage(ValueError):
    """A language Whisper cannot be told to transcribe."""


def interview_language(value: str) -> str | None:
    """Whisper's code for ``value`` (nb -> no), None for "detect", or UnknownLanguage."""
    code = value.strip().lower()
    if code == DETECT:
        return None
    code = ALIASES.get(code, code)
    if code not in WHISPER_LANGUAGES:
        raise UnknownLanguage(
            f"{value!r} is not a language Whisper can transcribe; use no (Norwegian, bokmål), "
            f"nn (nynorsk), en, another Whisper code such as sv or pl, or {DETECT!r}"
        )
    return code
