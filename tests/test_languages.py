"""`languages:` in config.yaml: auto-detection chooses only among the languages an operator expects.

The slow tests speak real Indonesian and English (espeak-ng) to the bundled multilingual model, which on its own
hears this Indonesian as Thai."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from test_jobflow import Driver, audio

from transhades import config as config_lib
from transhades.config import ConfigError
from transhades.messages import Transcribe
from transhades.providers.languages import pick_language

INDONESIAN = ("Selamat pagi semuanya. Hari ini kita akan membahas rencana kerja untuk minggu depan. Pertama, tim "
              "pemasaran akan menyiapkan laporan penjualan bulan lalu. Kedua, kita perlu memperbaiki beberapa "
              "masalah pada aplikasi sebelum diluncurkan. Terima kasih atas perhatian dan kerja keras kalian semua.")
ENGLISH = ("Good morning everyone. Today we will discuss the work plan for next week. First, the marketing team "
           "will prepare the sales report for last month. Thank you for your attention and your hard work.")

# Whisper base's probabilities for the Indonesian recording above (the top six of about a hundred).
HEARD_AS_THAI = {"th": 0.649, "ms": 0.083, "en": 0.072, "jw": 0.052, "id": 0.035, "km": 0.022}


def test_the_most_likely_allowed_language_wins():
    assert pick_language({"th": 0.6, "en": 0.3, "de": 0.1}, ("de", "en")) == "en"


def test_unlisted_relatives_count_for_their_listed_language():
    assert pick_language(HEARD_AS_THAI, ("id", "en")) == "id", "Malay and Javanese are evidence for Indonesian"
    assert pick_language(HEARD_AS_THAI, ("id", "ms", "en")) == "ms", "a listed relative keeps its own share"


def test_a_hint_counts_double_and_ties_go_to_the_first_listed():
    assert pick_language({"en": 0.3, "fr": 0.2}, ("en", "fr"), hint="fr") == "fr"
    assert pick_language({"en": 0.5, "fr": 0.2}, ("en", "fr"), hint="fr") == "en"
    assert pick_language({}, ("fr", "en")) == "fr"


def test_languages_are_read_from_config_as_a_list_or_a_string():
    base = {"providers": [{"name": "l", "kind": "local"}]}
    assert config_lib.parse({**base, "languages": ["ID", "en", "id"]}, env={}).languages == ("id", "en")
    assert config_lib.parse({**base, "languages": "${LANGS}"}, env={"LANGS": "id, en"}).languages == ("id", "en")
    assert config_lib.parse(base, env={}).languages == ()
    with pytest.raises(ConfigError) as caught:
        config_lib.parse({**base, "languages": ["id", "indonesian", 7]}, env={})
    assert caught.value.problems == [
        "languages[1]: 'indonesian' is not a language code; use codes such as id or en",
        "languages[2]: 7 is not a language code; use codes such as id or en"]


def walk_to_transcribe(languages: tuple[str, ...], **request) -> tuple[Transcribe, tuple[str, ...]]:
    from transhades.dispatch.tasks import Context
    from transhades.messages import Fingerprint, LookupTranscript, PrepareAudio

    d = Driver()
    d.flow.context = Context(languages)
    d.submit("j1", **request)
    d.done(d.take(Fingerprint), "abc")
    lookup = d.take(LookupTranscript)
    d.done(lookup, None)
    d.done(d.take(PrepareAudio), audio("j1"))
    return d.take(Transcribe).message, lookup.message.keys


def test_detection_is_limited_to_the_configured_languages_with_the_users_hint():
    message, _ = walk_to_transcribe(("id", "en"), language_hint="id")
    assert (message.language, message.languages, message.hint) == (None, ("id", "en"), "id")
    message, _ = walk_to_transcribe(("id", "en"), language_hint="ru")
    assert message.hint is None, "a hint outside the list is ignored"
    message, _ = walk_to_transcribe(("id", "en"), language="en")
    assert (message.language, message.languages) == ("en", ()), "a fixed language needs no detection"


def test_with_no_languages_configured_the_users_telegram_language_is_a_prior_never_a_choice():
    from transhades.providers.languages import with_prior

    message, _ = walk_to_transcribe((), language_hint="id")
    assert (message.languages, message.hint) == ((), "id"), "passed on as a prior"
    message, _ = walk_to_transcribe((), language_hint="id", language="en")
    assert message.hint is None, "a fixed language needs no prior"
    unsure = {"th": 0.30, "id": 0.18, "ms": 0.07, "en": 0.05}
    assert with_prior(unsure, "id") == "id", "Indonesian and its relatives, counted double, beat an unsure Thai"
    assert with_prior({"en": 0.92, "id": 0.03, "ms": 0.01}, "id") == "en", "clear English stays English"
    assert with_prior(unsure, "ru") == "th", "a prior with no evidence changes nothing"
    espeak_indonesian = {"ms": 0.192, "th": 0.161, "hi": 0.143, "en": 0.103, "id": 0.02}  # the bundled sample
    assert with_prior(espeak_indonesian, "en") == "ms", "an English-speaking user's Indonesian note stays Malay-ish"
    assert with_prior(espeak_indonesian, "id") == "id", "an Indonesian user's Malay is Indonesian"


def test_a_single_configured_language_is_sent_to_every_provider_as_fixed():
    message, keys = walk_to_transcribe(("id",))
    assert (message.language, message.languages) == ("id", ())
    assert keys == ("lang:id:sha256:abc",), "and the cache answers only in that language"


# ------------------------------------------------------------------------------------------ real speech

def speak(tmp_path: Path, voice: str, text: str) -> Path:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng is missing in CI; .ci/run installs it")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); .ci/run installs it")
    path = tmp_path / f"{voice}.wav"
    subprocess.run([espeak, "-v", voice, "-s", "140", "-w", str(path), text], check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")  # the bundled model is assembled here once for the module


@pytest.mark.slow
@pytest.mark.parametrize("voice,text,expected,words", [("id", INDONESIAN, "id", "selamat pagi"),
                                                        ("en", ENGLISH, "en", "good morning")])
def test_offline_detection_among_id_and_en_gets_real_speech_right(tmp_path, models, voice, text, expected, words):
    recording = speak(tmp_path, voice, text)
    config = tmp_path / "config.yaml"
    config.write_text(f"providers: [{{name: local, kind: local}}]\ncache: {{backend: memory}}\n"
                      f"data_dir: \"{models}\"\nlanguages: [id, en]\n")
    done = run_cli("transcribe", "--format", "json", "--config", str(config), str(recording), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["language"] == expected
    assert words in result["text"].lower()


@pytest.mark.slow
def test_the_shipped_config_hears_indonesian_as_indonesian(tmp_path, models):
    shipped = (Path(__file__).parent.parent / "config.yaml").read_text()
    assert "\nlanguages: [id, en]" in shipped, "the bot's users speak Indonesian (and English)"
    config = tmp_path / "config.yaml"
    config.write_text(shipped.replace("\ndata_dir: data\n", f"\ndata_dir: \"{models}\"\n")
                      .replace("path: data/cache.sqlite3", f"path: \"{tmp_path / 'cache.sqlite3'}\""))
    recording = speak(tmp_path, "id", INDONESIAN)
    done = run_cli("transcribe", "--format", "json", "--config", str(config), str(recording), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["language"] == "id" and "selamat pagi" in result["text"].lower(), result["text"]


@pytest.mark.slow
def test_speech_on_the_second_audio_track_is_transcribed(tmp_path, models, ffmpeg):
    from conftest import make_media

    speech = speak(tmp_path, "en", ENGLISH)
    dubbed = make_media(ffmpeg, tmp_path / "dubbed.mkv", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono",
                        "-i", str(speech), "-shortest", "-map", "0:a", "-map", "1:a", "-c:a", "libopus",
                        "-disposition:a:0", "default", "-disposition:a:1", "0")
    config = tmp_path / "config.yaml"
    config.write_text(f"providers: [{{name: local, kind: local}}]\ncache: {{backend: memory}}\n"
                      f"data_dir: \"{models}\"\n")
    done = run_cli("transcribe", "--format", "json", "--config", str(config), str(dubbed), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "good morning" in json.loads(done.stdout)["text"].lower()
