"""Who said what: turns laid over transcripts, every format's way of showing speakers, the error rate the benchmark
reports, the offline diarizer on espeak-ng dialogues with known turns, the CLI, the bot, and a diarizer that fails
(the words still go out)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, wait_for
from test_providers import chunk, serve  # noqa: F401  (fixtures)

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


def test_clustering_counts_the_speakers_there_are_by_the_eigengap_and_at_most_max_speakers():
    rng = np.random.default_rng(0)
    centres = np.eye(256)[:4]
    vectors = np.concatenate([c + rng.normal(0, 0.02, (10, 256)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = cluster(vectors, 6)
    assert len(set(found)) == 4 and all(len(set(found[i * 10:(i + 1) * 10])) == 1 for i in range(4))
    assert len(set(cluster(vectors, 2))) <= 2, "bounded by max_speakers"


def test_two_voices_alike_on_top_of_a_shared_channel_are_told_apart_and_one_voice_stays_one():
    """Two voices that differ little on top of what they share (one channel, one band): centring on the recording's
    mean tells them apart through four turns; one voice alone, whose centred windows are only noise, stays one."""
    from transhades.speakers.local import assign

    rng = np.random.default_rng(1)
    shared, a, b = rng.normal(0, 1, (3, 256))
    voice = [shared * 2 + a, shared * 2 + b]
    who = np.repeat([0, 1, 0, 1], 12)
    windows = np.stack([voice[w] + rng.normal(0, 1.5, 256) for w in who])
    windows /= np.linalg.norm(windows, axis=1, keepdims=True)
    assert windows[0] @ windows[12] > 0.4, "raw, a window of each voice is much alike"
    labels = assign(windows, np.repeat(np.arange(4), 12), 6)
    assert len(set(labels)) == 2 and all(len(set(labels[i * 12:(i + 1) * 12])) == 1 for i in range(4))
    assert labels[0] == labels[24] and labels[12] == labels[36] and labels[0] != labels[12]
    alone = np.stack([voice[0] + rng.normal(0, 1.5, 256) for _ in range(48)])
    alone /= np.linalg.norm(alone, axis=1, keepdims=True)
    assert set(assign(alone, np.repeat(np.arange(4), 12), 6)) == {0}


@pytest.fixture(scope="module")
def diarizer():
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
def test_transcribe_speakers_labels_the_bundled_two_voice_meeting(diarizer, tmp_path):
    """The README's example: samples/meeting.ogg, two espeak-ng voices taking turns."""
    from conftest import SAMPLES

    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    meeting = SAMPLES / "meeting.ogg"
    done = run_cli("transcribe", "--speakers", str(meeting), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 2"]
    assert "good morning" in lines[0].lower()
    plain = run_cli("transcribe", str(meeting), cwd=tmp_path, env=env)
    assert "Speaker" not in plain.stdout, "without --speakers: the plain transcript, cached apart"


def test_a_failing_diarizer_still_delivers_the_words(tmp_path, monkeypatch):
    """Nobody can tell the speakers apart (the weights missing, a broken model): the transcript goes out unlabelled."""
    from test_tree import Script

    from transhades import config as config_lib
    from transhades.app.tree import start_tree
    from transhades.errors import ProviderUnavailable
    from transhades.media import LocalFile
    from transhades.messages import Completed, JobRequest, SubmitJob
    from transhades.speakers import local

    def broken(self, wav):
        raise ProviderUnavailable("speaker labels need the voice encoder's weights").because("no_speakers")

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


# ------------------------------------------------------------------------------------- providers that tell them apart


def test_deepgram_is_asked_to_diarize_and_its_speakers_become_ours(serve, chunk):
    from provider_servers import Reply, deepgram_result
    from test_providers import deepgram

    for utterances in (True, False):
        server = serve(Reply(200, deepgram_result(diarized=True, utterances=utterances)))
        transcript = deepgram(server).transcribe(chunk, None, speakers=True)
        assert server.received[0].query["diarize"] == ["true"] and server.received[0].query["utterances"] == ["true"]
        assert [(s.speaker, s.text) for s in transcript.segments] == [("1", "Selamat pagi,"), ("2", "terima kasih.")]
        assert render(transcript, "text", label="Pembicara") == "Pembicara 1: Selamat pagi,\nPembicara 2: terima kasih."
    plain = serve(Reply(200, deepgram_result()))
    deepgram(plain).transcribe(chunk, None)
    assert "diarize" not in plain.received[0].query, "asked only when speakers are wanted"


def test_an_openai_compatible_server_that_answers_speakers_keeps_them(serve, chunk):
    from provider_servers import Reply
    from test_providers import groq

    body = {"text": "Halo. Hai juga.", "language": "indonesian", "duration": 3.0, "segments": [
        {"id": 0, "start": 0.0, "end": 1.2, "text": " Halo.", "speaker": "SPEAKER_01"},
        {"id": 1, "start": 1.5, "end": 3.0, "text": " Hai juga.", "speaker": "SPEAKER_00"}]}
    transcript = groq(serve(Reply(200, body))).transcribe(chunk, None, speakers=True)
    assert [(s.speaker, s.text) for s in transcript.segments] == [("1", "Halo."), ("2", "Hai juga.")]


def opus(tmp_path, name: str, audio) -> bytes:
    """16 kHz audio as the Opus voice note Telegram would carry."""
    import subprocess

    import soundfile

    from transhades.audio.prepare import ffmpeg_binary

    soundfile.write(tmp_path / f"{name}.wav", audio, RATE)
    subprocess.run([ffmpeg_binary(), "-loglevel", "error", "-i", str(tmp_path / f"{name}.wav"), "-c:a", "libopus",
                    str(tmp_path / f"{name}.ogg")], check=True)
    return (tmp_path / f"{name}.ogg").read_bytes()


def local_bot(tmp_path, **extra):
    """The whole bot on the local model against the fake Telegram, its receiving session up: (tree, world)."""
    from transhades import config as config_lib
    from transhades.app.tree import start_tree
    from transhades.telegram.fake import FakeGateway, FakeTelegram

    world, sessions = FakeTelegram(), tmp_path / "sessions"
    raw = {"providers": [{"name": "local", "kind": "local", "model": "base"}], **extra,
           "cache": {"backend": "sqlite", "path": str(tmp_path / "cache.sqlite3")}, "data_dir": str(tmp_path / "data"),
           "telegram": {"bot_token": "123456:" + "x" * 35, "session_dir": str(sessions),
                        "credentials": [{"name": "API-1", "api_id": 1001, "api_hash": "h" * 32}],
                        "send_interval_seconds": 0.01, "edit_interval_seconds": 0.02}}
    tree = start_tree(config_lib.parse(raw, env={}), gateway_factory=lambda c, r: FakeGateway(world, c.name, sessions, r))
    wait_for(lambda: world.receiver is not None, what="the receiving session")
    return tree, world


@pytest.mark.slow
def test_a_user_turns_speakers_on_and_reads_who_said_what_in_their_language(diarizer, tmp_path):
    """Through the bot (the local model, the fake Telegram): /speakers on, then a two-voice voice note."""
    audio, _ = dialogue(2, turns=4)
    note = opus(tmp_path, "meeting", audio)
    tree, world = local_bot(tmp_path, languages=["id", "en"])
    try:
        budi = world.user(501, "id", "Budi")
        world.deliver(world.text_message(budi, "/speakers on"))
        wait_for(lambda: any("Siapa berkata apa: aktif" in t for t in world.texts_to(501)), what="the setting")
        world.deliver(world.media_message(budi, note, duration=int(len(audio) / RATE)))
        reply = wait_for(lambda: next((t for t in world.texts_to(501) if t.startswith("Pembicara 1:")), None),
                         timeout=120, what=f"a labelled transcript; got {world.texts_to(501)}")
        assert [line.split(":")[0] for line in reply.splitlines()] == ["Pembicara 1", "Pembicara 2"] * 2
    finally:
        tree.stop()


def test_asking_for_speakers_where_nothing_can_tell_them_apart_says_so(tmp_path, monkeypatch):
    """What the user is told is true: without the encoder's weights (and no Deepgram), turning speakers on says the labels will
    not come, in the bot (Indonesian too) and in the CLI; the words still do."""
    import argparse
    import io

    from transhades import config as config_lib
    from transhades.app import cli
    from transhades.telegram.desk import DeskRules, FrontDesk
    from transhades.telegram.fake import FakeTelegram
    from transhades.telegram.settings import UserSettings

    world = FakeTelegram()
    for told, lang, needle in ((False, "en", "cannot tell speakers apart yet"), (False, "id", "belum bisa membedakan"),
                               (True, "en", None)):
        desk = FrontDesk(DeskRules((("local", "local"),), speakers_told=told),
                         UserSettings(tmp_path / f"u-{told}-{lang}.sqlite3"), now=lambda: 0.0)
        desk.on_update(world.text_message(world.user(501, lang), "/speakers on"))
        said = desk.outbox.queue[-1].text
        assert (needle in said) if needle else ("Who said what: on." == said), said

    monkeypatch.setattr(cli, "speakers_available", lambda: False)
    cfg = config_lib.parse({"providers": [{"name": "local", "kind": "local"}], "cache": {"backend": "memory"},
                            "audio": {"temp_dir": str(tmp_path / "tmp")}}, env={})
    args = argparse.Namespace(files=[str(tmp_path / "missing.ogg")], provider=None, language=None, format="text",
                              no_progress=True, speakers="on", words=False)
    err = io.StringIO()
    assert cli.transcribe(cfg, args, io.StringIO(), err) == 1
    assert err.getvalue().splitlines()[0] == ("warning: speaker labels need the voice encoder's weights "
                                              "(transhades/speakers/ge2e.onnx), missing from this install: reinstall "
                                              "transhades; the transcripts come without speaker labels")


def test_the_onnx_voice_encoder_gives_the_original_models_mel_and_embeddings():
    """tests/data/ge2e-reference.npz holds, for a fixed chirp with seeded noise, the mel spectrogram librosa computed
    and the embeddings Resemblyzer's torch model gave, recorded once when the weights were converted: our
    encoder must reproduce both (so no torch is needed, and nothing that matters was lost in the conversion)."""
    from conftest import ROOT

    from transhades.speakers import encoder

    reference = np.load(ROOT / "tests" / "data" / "ge2e-reference.npz")
    t = np.arange(int(2.2 * 16000)) / 16000
    wav = (0.3 * np.sin(2 * np.pi * (150 + 400 * t) * t)
           + 0.05 * np.random.default_rng(7).standard_normal(len(t))).astype(np.float32)
    mel = encoder.mel(wav)
    assert mel.shape == reference["mel"].shape
    assert np.max(np.abs(mel - reference["mel"])) <= 1e-4 * np.max(reference["mel"])
    embeddings = encoder.VoiceEncoder().embed(np.stack([mel[0:160], mel[60:220]]))
    # two of its three layers are 8-bit (ge2e_onnx.py): the same direction, to within what that costs
    assert np.all(np.sum(embeddings * reference["embeddings"], axis=1) >= 0.995)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_the_onnx_converter_keeps_torchs_lstm_gates_in_order():
    """ge2e_onnx.build writes torch's LSTM weights as ONNX's (whose gates come in another order): on random weights,
    the graph onnxruntime runs gives what the LSTM's own equations give, stepped here in numpy."""
    pytest.importorskip("onnx")
    import onnxruntime

    from transhades.devtools.ge2e_onnx import build

    rng = np.random.default_rng(3)
    weights = {"linear_weight": rng.normal(0, 0.1, (256, 256)).astype(np.float32),
               "linear_bias": rng.normal(0, 0.1, 256).astype(np.float32)}
    for k in range(3):
        weights |= {f"lstm_weight_ih_l{k}": rng.normal(0, 0.1, (1024, 40 if k == 0 else 256)).astype(np.float32),
                    f"lstm_weight_hh_l{k}": rng.normal(0, 0.1, (1024, 256)).astype(np.float32),
                    f"lstm_bias_ih_l{k}": rng.normal(0, 0.1, 1024).astype(np.float32),
                    f"lstm_bias_hh_l{k}": rng.normal(0, 0.1, 1024).astype(np.float32)}
    mel = rng.random((3, 160, 40)).astype(np.float32)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    sequence = mel
    for k in range(3):
        hidden, cell, outputs = np.zeros((3, 256)), np.zeros((3, 256)), []
        for t in range(160):
            gates = (sequence[:, t] @ weights[f"lstm_weight_ih_l{k}"].T + weights[f"lstm_bias_ih_l{k}"]
                     + hidden @ weights[f"lstm_weight_hh_l{k}"].T + weights[f"lstm_bias_hh_l{k}"])
            i, f, g, o = np.split(gates, 4, axis=1)  # torch's order
            cell = sigmoid(f) * cell + sigmoid(i) * np.tanh(g)
            hidden = sigmoid(o) * np.tanh(cell)
            outputs.append(hidden)
        sequence = np.stack(outputs, axis=1)
    expected = np.maximum(0, hidden @ weights["linear_weight"].T + weights["linear_bias"])
    session = onnxruntime.InferenceSession(build(weights), providers=["CPUExecutionProvider"])
    found = session.run(None, {"mel": mel.transpose(1, 0, 2).copy()})[0]
    assert np.allclose(found, expected, atol=1e-4)
