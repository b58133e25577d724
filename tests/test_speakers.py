"""Who said what: turns laid over transcripts, every format's way of showing speakers, the error rate the benchmark
reports, the offline diarizer on espeak-ng dialogues with known turns, the CLI, the bot, and a diarizer that fails
(the words still go out)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, wait_for

from transhades.devtools.dialogue import RATE, dialogue, diarization_error_rate
from transhades.formats import render
from transhades.speakers.align import labelled
from transhades.speakers.local import Turn, cluster
from transhades.transcript import Segment, Transcript, Word


def words(*timed: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(f" {w}", s, e) for w, s, e in timed)


MEETING = Transcript("Good morning. Hello there. Numbers are ready.", "en", 9.0, "local", (
    Segment(0.0, 2.0, " Good morning.", words(("Good", 0.0, 0.8), ("morning.", 0.9, 2.0))),
    Segment(2.5, 6.0, " Hello there. Numbers are ready.",
            words(("Hello", 2.5, 3.0), ("there.", 3.1, 3.6), ("Numbers", 4.2, 4.8), ("are", 4.9, 5.2),
                  ("ready.", 5.3, 6.0))),
))
TURNS = [Turn(0.0, 3.7, 2), Turn(4.0, 6.2, 1)]  # the diarizer's own numbers: renumbered by first appearance


def test_turns_split_segments_at_words_and_number_speakers_as_they_first_speak():
    result = labelled(MEETING, TURNS)
    assert [(s.speaker, s.text) for s in result.segments] == [
        ("1", " Good morning."), ("1", "Hello there."), ("2", "Numbers are ready.")]
    assert result.text == MEETING.text, "the words are the words: only their speakers are added"
    assert labelled(MEETING, [Turn(0.0, 6.0, 1)]) is MEETING, "one speaker: nothing to label"
    plain = Transcript("a b", "en", 4.0, "x", (Segment(0.0, 1.0, "a"), Segment(2.0, 4.0, "b")))
    assert [s.speaker for s in labelled(plain, [Turn(0.0, 1.5, 7), Turn(1.8, 4.0, 3)]).segments] == ["1", "2"]


def test_every_format_shows_who_said_what_and_json_round_trips_it():
    result = labelled(MEETING, TURNS)
    assert render(result, "text") == "Speaker 1: Good morning. Hello there.\nSpeaker 2: Numbers are ready."
    assert render(result, "text", label="Pembicara").startswith("Pembicara 1: Good morning.")
    srt = render(result, "srt")
    assert "\nSpeaker 1: Good morning.\n" in srt and "\nSpeaker 2: Numbers are ready.\n" in srt
    vtt = render(result, "vtt")
    assert "<v Speaker 2>Numbers <00:00:04.900>are <00:00:05.300>ready." in vtt
    data = json.loads(render(result, "json"))
    assert [s["speaker"] for s in data["segments"]] == ["1", "1", "2"]
    assert Transcript.from_dict(data) == result, "the cache gives speakers back"
    assert render(MEETING, "text") == MEETING.text and "<v " not in render(MEETING, "vtt"), "no speakers: as before"


def test_the_error_rate_counts_missed_false_and_confused_speech_under_the_best_mapping():
    reference = [(0.0, 4.0, 1), (5.0, 9.0, 2)]
    assert diarization_error_rate(reference, [(0.0, 4.0, 2), (5.0, 9.0, 1)]) == 0.0, "names do not matter"
    assert diarization_error_rate(reference, []) == 1.0
    one = diarization_error_rate(reference, [(0.0, 9.0, 1)])  # half confused, and the pause called speech
    assert 0.5 < one < 0.65
    assert diarization_error_rate(reference, [(0.0, 4.0, 1), (5.0, 9.0, 2), (9.5, 11.0, 3)]) > 0.0


def test_clustering_stops_at_the_speakers_there_are_and_at_most_max_speakers():
    rng = np.random.default_rng(0)
    centres = np.eye(256)[:4]
    vectors = np.concatenate([c + rng.normal(0, 0.02, (10, 256)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert len(set(cluster(vectors, 0.7, 6))) == 4
    assert len(set(cluster(vectors, 0.7, 2))) == 2, "bounded by max_speakers"
    assert len(set(cluster(vectors[:10], 0.7, 6))) == 1


@pytest.fixture(scope="module")
def diarizer():
    import importlib.util

    if importlib.util.find_spec("resemblyzer") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("the speakers extra is not installed: pip install -e '.[speakers]'")
    from transhades.speakers.local import LocalDiarizer

    return LocalDiarizer()


@pytest.mark.slow
@pytest.mark.parametrize("speakers, most", [(1, 0.05), (2, 0.10), (3, 0.20)])
def test_the_offline_diarizer_finds_who_spoke_when_in_generated_dialogues(diarizer, speakers, most):
    audio, reference = dialogue(speakers)
    turns = diarizer.turns(audio)
    found = [(t.start, t.end, t.speaker) for t in turns]
    assert diarization_error_rate(reference, found) <= most
    assert len({t.speaker for t in turns}) == speakers


@pytest.mark.slow
def test_transcribe_speakers_labels_a_two_voice_dialogue(diarizer, tmp_path):
    import soundfile

    audio, _ = dialogue(2, turns=4)
    soundfile.write(tmp_path / "meeting.wav", audio, RATE)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = run_cli("transcribe", "--speakers", str(tmp_path / "meeting.wav"), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 2"]
    assert "good morning" in lines[0].lower()
    plain = run_cli("transcribe", str(tmp_path / "meeting.wav"), cwd=tmp_path, env=env)
    assert "Speaker" not in plain.stdout, "without --speakers: the plain transcript, cached apart"


def test_a_failing_diarizer_still_delivers_the_words(tmp_path, monkeypatch):
    """Nobody can tell the speakers apart (the extra missing, a broken model): the transcript goes out unlabelled."""
    from test_tree import Script

    from transhades import config as config_lib
    from transhades.app.tree import start_tree
    from transhades.errors import ProviderUnavailable
    from transhades.media import LocalFile
    from transhades.messages import Completed, JobRequest, SubmitJob
    from transhades.speakers import local

    def broken(self, wav):
        raise ProviderUnavailable("speaker labels need the speakers extra").because("no_speakers")

    monkeypatch.setattr(local.LocalDiarizer, "turns", broken)
    script = Script()
    config = config_lib.parse({"providers": [{"name": "alpha", "kind": "openai", "base_url": "http://127.0.0.1:9",
                                              "api_key": "k"}],
                               "cache": {"backend": "memory"}, "audio": {"temp_dir": str(tmp_path / "tmp")}}, env={})
    tree = start_tree(config, provider_factory=script.factory)
    try:
        events = []
        from conftest import SAMPLES

        tree.tell_dispatcher(SubmitJob(JobRequest("j1", "u", LocalFile(str(SAMPLES / "hello-en.ogg")),
                                                  speakers="on"), events.append))
        done = wait_for(lambda: next((e for e in events if isinstance(e, Completed)), None), timeout=30,
                        what="the job's end")
        assert "by alpha" in done.transcript.text and not any(s.speaker for s in done.transcript.segments)
    finally:
        tree.stop()
