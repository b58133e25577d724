"""Whisper's language names (to turn ``"language": "english"``, OpenAI-style verbose_json, into ``en``), and the
choice of a language from Whisper's probabilities."""

from __future__ import annotations

NAMES = {
    "afrikaans": "af", "albanian": "sq", "amharic": "am", "arabic": "ar", "armenian": "hy", "assamese": "as",
    "azerbaijani": "az", "bashkir": "ba", "basque": "eu", "belarusian": "be", "bengali": "bn", "bosnian": "bs",
    "breton": "br", "bulgarian": "bg", "burmese": "my", "cantonese": "yue", "castilian": "es", "catalan": "ca",
    "chinese": "zh", "croatian": "hr", "czech": "cs", "danish": "da", "dutch": "nl", "english": "en",
    "estonian": "et", "faroese": "fo", "finnish": "fi", "flemish": "nl", "french": "fr", "galician": "gl",
    "georgian": "ka", "german": "de", "greek": "el", "gujarati": "gu", "haitian creole": "ht", "hausa": "ha",
    "hawaiian": "haw", "hebrew": "he", "hindi": "hi", "hungarian": "hu", "icelandic": "is", "indonesian": "id",
    "italian": "it", "japanese": "ja", "javanese": "jw", "kannada": "kn", "kazakh": "kk", "khmer": "km",
    "korean": "ko", "lao": "lo", "latin": "la", "latvian": "lv", "lingala": "ln", "lithuanian": "lt",
    "luxembourgish": "lb", "macedonian": "mk", "malagasy": "mg", "malay": "ms", "malayalam": "ml", "maltese": "mt",
    "maori": "mi", "marathi": "mr", "mongolian": "mn", "nepali": "ne", "norwegian": "no", "nynorsk": "nn",
    "occitan": "oc", "pashto": "ps", "persian": "fa", "polish": "pl", "portuguese": "pt", "punjabi": "pa",
    "romanian": "ro", "russian": "ru", "sanskrit": "sa", "serbian": "sr", "shona": "sn", "sindhi": "sd",
    "sinhala": "si", "slovak": "sk", "slovenian": "sl", "somali": "so", "spanish": "es", "sundanese": "su",
    "swahili": "sw", "swedish": "sv", "tagalog": "tl", "tajik": "tg", "tamil": "ta", "tatar": "tt", "telugu": "te",
    "thai": "th", "tibetan": "bo", "turkish": "tr", "turkmen": "tk", "ukrainian": "uk", "urdu": "ur", "uzbek": "uz",
    "vietnamese": "vi", "welsh": "cy", "yiddish": "yi", "yoruba": "yo",
}


def to_code(value: object) -> str | None:
    """``"English"`` -> ``en``; ``"en"`` / ``"en-US"`` -> ``en``; anything else unchanged, lower-cased."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    if text in NAMES:
        return NAMES[text]
    return text.split("-")[0] if len(text) <= 6 else text


_SYNONYMS = {"castilian", "flemish", "haitian creole", "nynorsk"}
CODES = {code: name.title() for name, code in sorted(NAMES.items()) if name not in _SYNONYMS} | {"jv": "Javanese"}


def name_of(code: str) -> str:
    """``id`` -> ``Indonesian``; a code Whisper does not name stays as it is."""
    return CODES.get(code.lower(), code)


HINT_WEIGHT = 2.0  # a hinted language wins unless another is more than twice as likely
# Whisper spreads a language's probability over its close relatives (Indonesian speech scores as Malay and
# Javanese too); an unlisted relative's share counts for the listed language of its group.
RELATED = (frozenset({"id", "ms", "jw", "jv", "su"}), frozenset({"zh", "yue"}), frozenset({"hi", "ur"}),
           frozenset({"no", "nn", "da"}), frozenset({"sr", "hr", "bs"}), frozenset({"es", "gl"}))


def evidence(probabilities: dict[str, float], allowed: tuple[str, ...]) -> dict[str, float]:
    """Each allowed language's probability, with its unlisted close relatives' added."""
    def of(code: str) -> float:
        family = next((group for group in RELATED if code in group), frozenset({code}))
        return sum(p for other, p in probabilities.items()
                   if other == code or (other in family and other not in allowed))

    return {code: of(code) for code in allowed}


def pick_language(probabilities: dict[str, float], allowed: tuple[str, ...], hint: str | None = None) -> str:
    """The most likely of the ``allowed`` languages, from Whisper's probabilities over every language it knows.
    A ``hint`` among them (the user's Telegram language) counts double. Ties go to the first listed."""
    found = evidence(probabilities, allowed)
    return max(enumerate(allowed), key=lambda item: (found[item[1]] * (HINT_WEIGHT if item[1] == hint else 1.0),
                                                     -item[0]))[1]


PRIOR_WEIGHT = 1.5  # with no languages configured, the user's own language counts this much more


def with_prior(probabilities: dict[str, float], hint: str) -> str:
    """Any language, the user's own (their Telegram language) a nudge, never a forced choice: the detected
    language's family and the user's, each with its close relatives; the user's counts ``PRIOR_WEIGHT`` times.
    Malay detected for an Indonesian user is Indonesian; clear English from them stays English; Indonesian
    speech from a user whose Telegram is in English stays Indonesian (Malay)."""
    best = max(probabilities, key=lambda code: probabilities[code])

    def family(code: str) -> frozenset[str]:
        return next((group for group in RELATED if code in group), frozenset({code}))

    def evidence(code: str) -> float:
        return sum(p for other, p in probabilities.items() if other in family(code))

    if hint not in probabilities or hint == best:
        return best
    if hint in family(best) or evidence(hint) * PRIOR_WEIGHT > evidence(best):
        return hint
    return best
