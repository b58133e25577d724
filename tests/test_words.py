"""Word timings for subtitle editors: where a provider gives them (Groq/OpenAI with
``timestamp_granularities[]=word``, Deepgram's words, the local model with ``word_timestamps``), ``--format json``
carries ``words`` per segment, WebVTT times each word inline, and ``--format srt --words`` has a cue per word."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLES, run_cli
from provider_servers import ProviderServer, Reply, deepgram_result, groq_verbose

from transhades.formats import to_srt, to_vtt
from transhades.media import AudioChunk
from transhades.transcript import Segment, Transcript, Word, stitch

SAID = Transcript("Selamat pagi, terima kasih.", "id", 4.0, "x", (
    Segment(0.2, 1.0, "Selamat pagi,", (Word("Selamat", 0.2, 0.6, 0.99), Word(" pagi,", 0.6, 1.0, 0.98))),
    Segment(2.4, 3.2, "terima kasih.", (Word("terima", 2.4, 2.8, None), Word("kasih.", 2.8, 3.2, 0.97)))))


def test_words_survive_the_cache_and_the_stitching_of_parts():
    assert Transcript.from_dict(SAID.to_dict()) == SAID
    assert "words" not in Transcript("a", "en", 1.0, "x", (Segment(0.0, 1.0, "a"),)).to_dict()["segments"][0]
    later = AudioChunk(1, "/tmp/b.wav", 60.0, 4.0, 1, "audio/wav", keep_from=60.0)
    first = AudioChunk(0, "/tmp/a.wav", 0.0, 4.0, 1, "audio/wav", keep_until=60.0)
    joined = stitch([(first, SAID), (later, SAID)])
    assert [w.start for w in joined.segments[2].words] == [60.2, 60.6], "a later part's words move with it"


def test_webvtt_times_each_word_inline_and_srt_can_have_a_cue_per_word():
    vtt = to_vtt(SAID)
    assert "00:00:00.200 --> 00:00:01.000\nSelamat <00:00:00.600>pagi,\n" in vtt
    assert "terima <00:00:02.800>kasih." in vtt
    assert to_srt(SAID).count(" --> ") == 2, "segments, as before"
    by_word = to_srt(SAID, words=True)
    assert by_word.count(" --> ") == 4 and "2\n00:00:00,600 --> 00:00:01,000\npagi,\n" in by_word
    plain = Transcript("hi", "en", 1.0, "x", (Segment(0.0, 1.0, "hi"),))
    assert to_srt(plain, words=True) == to_srt(plain) and "<" not in to_vtt(plain), "no words: as before"


def config(tmp_path, url: str, kind: str, words: bool) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(f"providers: [{{name: P, kind: {kind}, base_url: \"{url}\", api_key: k, "
                    f"word_timestamps: {str(words).lower()}}}]\ncache: {{backend: memory}}\n"
                    f"audio: {{temp_dir: \"{tmp_path / 'tmp'}\"}}\ndata_dir: \"{tmp_path / 'data'}\"\n")
    return str(path)


def test_groq_is_asked_for_words_only_when_configured_and_they_reach_json_vtt_and_srt(tmp_path):
    body = groq_verbose()
    body["words"] = [{"word": "Hello", "start": 0.0, "end": 0.9}, {"word": "and", "start": 1.0, "end": 2.5},
                     {"word": "welcome.", "start": 2.7, "end": 4.0}]
    server = ProviderServer([Reply(200, body)])
    try:
        done = run_cli("transcribe", "--format", "json", "--config", config(tmp_path, f"{server.url}/v1", "openai",
                                                                             True), str(SAMPLES / "hello-en.ogg"))
        assert done.returncode == 0, done.stderr
        assert server.received[0].fields["timestamp_granularities[]"] == ["segment", "word"]
        segments = json.loads(done.stdout)["segments"]
        assert [[w["word"] for w in s["words"]] for s in segments] == [["Hello", "and"], ["welcome."]]
        assert segments[0]["words"][0] == {"word": "Hello", "start": 0.0, "end": 0.9}
        srt = run_cli("transcribe", "--format", "srt", "--words", "--config",
                      config(tmp_path, f"{server.url}/v1", "openai", True), str(SAMPLES / "hello-en.ogg"))
        assert srt.stdout.count(" --> ") == 3 and "\nwelcome.\n" in srt.stdout
        plain = run_cli("transcribe", "--format", "json", "--config",
                        config(tmp_path, f"{server.url}/v1", "openai", False), str(SAMPLES / "halo-id.ogg"))
        assert plain.returncode == 0, plain.stderr
        assert server.received[-1].fields["timestamp_granularities[]"] == ["segment"], "not asked: not sent"
    finally:
        server.close()


def test_deepgrams_words_come_with_their_confidence(tmp_path):
    server = ProviderServer([Reply(200, deepgram_result())])
    try:
        done = run_cli("transcribe", "--format", "json", "--config", config(tmp_path, server.url, "deepgram", False),
                       str(SAMPLES / "halo-id.ogg"))
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    words = [w for s in json.loads(done.stdout)["segments"] for w in s["words"]]
    assert [w["word"] for w in words] == ["Selamat", "pagi,", "terima", "kasih."]
    assert words[0] == {"word": "Selamat", "start": 0.16, "end": 0.56, "probability": 0.99}


@pytest.mark.slow
def test_the_local_model_times_each_word_when_configured(tmp_path):
    from test_languages import speak

    recording = speak(tmp_path, "en", "Good morning everyone. Thank you for your message.")
    path = tmp_path / "config.yaml"
    path.write_text(f"providers: [{{name: local, kind: local, word_timestamps: true}}]\ncache: {{backend: memory}}\n"
                    f"data_dir: \"{tmp_path / 'data'}\"\n")
    done = run_cli("transcribe", "--format", "json", "--config", str(path), str(recording), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    words = [w for s in json.loads(done.stdout)["segments"] for w in s["words"]]
    assert "morning" in " ".join(w["word"].lower() for w in words)
    assert all(0 <= w["start"] <= w["end"] and 0 <= w["probability"] <= 1 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
