"""Whisper's language names, to turn ``"language": "english"`` (OpenAI-style verbose_json) into ``en``."""

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
