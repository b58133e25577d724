"""What the bot says exists in both of its languages, with the same placeholders, and a failure's reason is a
sentence in the user's language whatever the error (its English message is for the log)."""

from __future__ import annotations

import string

import pytest

from transhades import errors
from transhades.telegram.texts import TEXTS, reason_text


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_english_text_exists_in_indonesian_with_the_same_placeholders():
    english, indonesian = TEXTS["en"], TEXTS["id"]
    assert sorted(set(english) - set(indonesian)) == []
    assert sorted(set(indonesian) - set(english)) == []
    for key, text in english.items():  # Indonesian has no plural ending to fill in
        assert placeholders(indonesian[key]) == placeholders(text) - {"plural"}, key


@pytest.mark.parametrize("error", [
    errors.BadInput("is not an audio or video file that ffmpeg can read").because("unreadable"),
    errors.BadInput("something new and technical"),
    errors.RateLimited("groq: 429", 30), errors.ProviderUnavailable("connection refused"),
    errors.ProviderRejectedKey("401"), errors.UploadTooLarge("413"), errors.TranshadesError("bug"),
    "a plain string from somewhere",
])
def test_a_reason_is_a_translated_sentence_never_the_errors_english_message(error):
    english, indonesian = reason_text("en", error), reason_text("id", error)
    assert english in TEXTS["en"].values() and indonesian in TEXTS["id"].values()
    assert english != indonesian
    assert str(error) not in english + indonesian
