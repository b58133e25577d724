"""The first words of a long recording reach the listener before the whole: its head, decoded on a short encoder
input, said once. Unit rules first, then real (espeak-ng) speech through the bundled model."""

from __future__ import annotations

import numpy
import pytest
from test_languages import models, speak  # noqa: F401  (the module's model folder)

from transhades.devtools.recorded import normalized, word_errors
from transhades.providers.first_words import SAMPLE_RATE, first_words, head_span, said_once

STORY = ("The old lighthouse stood on the northern cliff for more than two hundred years. Every evening the keeper "
         "climbed its narrow stairs to light the lamp. Ships passing in the night saw the beam and knew the rocks "
         "were near. In winter the storms were terrible and the waves reached the windows of the tower. The keeper "
         "wrote about each storm in a thick book that still lies on the table in the small museum by the harbour. "
         "Children visit it every summer and read his careful handwriting aloud to their parents.")


def test_a_text_that_starts_saying_itself_again_is_cut_where_it_does():
    assert said_once("Press 1 to call this number. Press 1 to call this number. Press 1 to") == \
        "Press 1 to call this number."
    assert said_once("Press 1 to switch. Press 8 to jump forwards. Press 8 to jump forwards. Press 8") == \
        "Press 1 to switch. Press 8 to jump forwards."
    assert said_once("Please try your call again later. Please try") == "Please try your call again later."
    for kept in ("No, no, I said no.", "The keeper climbed the stairs, the keeper lit the lamp.", "Go go go", ""):
        assert said_once(kept) == kept, "speech that repeats a word or two is left alone"


def _decoded(path):
    from faster_whisper import decode_audio

    return decode_audio(str(path))


def test_the_head_is_the_speech_up_to_the_first_pause_after_four_seconds(tmp_path):
    audio = _decoded(speak(tmp_path, "en", STORY))
    start, end = head_span(audio)
    assert start < 0.5 and 4.0 <= end - start < 12.0
    quiet = numpy.abs(audio[int((end - 0.05) * SAMPLE_RATE):int((end + 0.05) * SAMPLE_RATE)]).max()
    assert quiet < 0.1 * numpy.abs(audio).max(), "cut in a pause, not in a word"

    later = numpy.concatenate([numpy.zeros(8 * SAMPLE_RATE, numpy.float32), audio])
    start_later, end_later = head_span(later)
    assert 7.0 < start_later < 8.1 and abs((end_later - start_later) - (end - start)) < 1.0, \
        "silence before the speech is not part of the head"
    tone = (0.3 * numpy.sin(numpy.arange(40 * SAMPLE_RATE) * 2 * numpy.pi * 440 / SAMPLE_RATE)).astype(numpy.float32)
    assert head_span(tone) is None, "no speech, no head"


@pytest.fixture(scope="module")
def whisper(models):  # noqa: F811
    from transhades.providers.local import LocalWhisper

    return LocalWhisper("local", "base", models / "models")


@pytest.mark.slow
@pytest.mark.parametrize("voice,text,language", [
    ("en", STORY, "en"),
    ("id", "Selamat pagi semuanya. Hari ini kita akan membahas rencana kerja untuk bulan depan. Pertama, tim "
           "penjualan harus menyiapkan laporan mingguan setiap hari Jumat.", "id")])
def test_the_first_words_read_as_the_head_decoded_in_a_whole_window_and_once(tmp_path, whisper, voice, text,
                                                                               language):
    audio = _decoded(speak(tmp_path, voice, text))
    start, end = head_span(audio)
    head = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
    quick = normalized(first_words(whisper.model, head, language))
    segments, _ = whisper.model.transcribe(head, language=language, beam_size=1)
    whole = normalized(" ".join(s.text for s in segments))
    said = " ".join(normalized(text)[:len(whole)])  # the words the head holds
    assert quick[:2] == normalized(text)[:2] and abs(len(quick) - len(whole)) <= 2, \
        ("from the first word, said once, nothing left out", quick, whole)
    assert word_errors(said, " ".join(quick))[0] <= word_errors(said, " ".join(whole))[0] + 1, (quick, whole)
    assert first_words(whisper.model, numpy.zeros(5 * SAMPLE_RATE, numpy.float32), language) == "", \
        "silence: nothing made up"


@pytest.mark.slow
def test_a_long_note_shows_its_first_words_then_the_batched_transcript_replaces_them(tmp_path, whisper):
    from transhades.audio.prepare import AudioPreparer

    prepared = AudioPreparer(tmp_path / "p", codec="wav").prepare("j", speak(tmp_path, "en", STORY))
    chunk = prepared.chunks[0]
    assert chunk.duration > 30
    told: list = []
    batched = whisper.batched.transcribe

    def watched(*args, **kwargs):
        told.append("batches start")
        return batched(*args, **kwargs)

    whisper.batched.transcribe = watched
    try:
        transcript = whisper.transcribe(chunk, "en", lambda fraction, text=None: told.append((fraction, text)))
        quiet = whisper.transcribe(chunk, "en")  # nobody waits: no preview decoded
    finally:
        del whisper.batched.transcribe
    texts = [(at, item) for at, item in enumerate(told) if isinstance(item, tuple) and item[1] is not None]
    first_at, (fraction, preview) = texts[0]
    assert first_at < told.index("batches start"), "the first words come before the batches are decoded"
    assert fraction < 0.3 and normalized(preview.text)[:3] == normalized(transcript.text)[:3]
    assert len(preview.text) < len(transcript.text) / 3
    direct, _ = whisper.batched.transcribe(chunk.path, language="en", beam_size=1, batch_size=whisper.batch_size,
                                           vad_filter=True)
    assert normalized(transcript.text) == normalized(" ".join(s.text for s in direct)) == normalized(quiet.text), \
        "the transcript is the batched pipeline's, the preview is not part of it"
