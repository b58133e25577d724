"""The local provider on long audio (faster-whisper's batched pipeline), its device choice, and the PCM route
that spares the local model an encoding it never needs."""

from __future__ import annotations

import pytest
from conftest import SAMPLES

from transhades import config as config_lib
from transhades.audio.prepare import AudioPreparer
from transhades.errors import ProviderUnavailable
from transhades.providers import local as local_lib
from transhades.providers.local import LocalWhisper


def config(*kinds: str, codec: str | None = None) -> config_lib.Config:
    providers = [{"name": f"p{i}", "kind": kind, **({"base_url": "http://127.0.0.1:9"} if kind != "local" else {})}
                 for i, kind in enumerate(kinds)]
    return config_lib.parse({"providers": providers, **({"audio": {"codec": codec}} if codec else {})}, env={})


def test_the_local_model_alone_gets_pcm_and_any_remote_provider_means_opus():
    assert config("local").audio_codec == "wav"
    assert config("openai", "local").audio_codec == "opus"
    assert config("local", codec="mp3").audio_codec == "mp3", "an operator's choice stands"


def test_the_local_model_alone_cuts_recordings_into_short_parts_so_users_take_turns_often():
    assert config("local").chunk_seconds == 180
    assert config("openai", "local").chunk_seconds == 600, "remote providers take long parts (fewer requests)"
    tuned = config_lib.parse({"providers": [{"name": "l", "kind": "local"}],
                              "audio": {"chunk_seconds": 60, "local_chunk_seconds": 300}}, env={})
    assert tuned.chunk_seconds == 60, "the shorter of the two"


def test_for_the_local_model_a_short_file_is_read_as_is_a_long_one_becomes_pcm_unless_it_would_not_fit(tmp_path):
    sample = SAMPLES / "hello-en.ogg"
    as_is = AudioPreparer(tmp_path / "a", codec="wav").prepare("j1", sample)
    assert as_is.path == str(sample.resolve()) and abs(as_is.duration - 9.3) < 0.2, "nothing to convert or cut"
    cut = AudioPreparer(tmp_path / "b", codec="wav", chunk_seconds=5).prepare("j2", sample)
    assert cut.path.endswith(".wav") and cut.content_type == "audio/wav" and len(cut.chunks) == 2
    tight = AudioPreparer(tmp_path / "c", codec="wav", chunk_seconds=5, max_job_bytes=300_000).prepare("j3", sample)
    assert tight.path.endswith(".ogg"), "9.3 s of PCM (300 kB) would not fit 80 % of a 300 kB allowance"
    assert AudioPreparer(tmp_path / "d").prepare("j4", sample).path.endswith(".ogg"), "remote providers: opus"


def test_auto_uses_the_cpu_without_a_gpu_and_a_gpu_that_fails_falls_back_to_the_cpu(tmp_path, monkeypatch):
    import ctranslate2

    models = tmp_path / "models"
    assert LocalWhisper("local", "base", models).device == "cpu"
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)  # it says there is one ...
    assert local_lib.choose_device("auto") == "cuda"
    fell_back = LocalWhisper("local", "base", models)  # ... but this CTranslate2 cannot use it
    assert fell_back.device == "cpu"
    with pytest.raises(ProviderUnavailable, match="cannot be loaded"):
        LocalWhisper("local", "base", models, device="cuda")  # asked for explicitly: a clear error


@pytest.mark.slow
def test_a_long_recording_is_transcribed_whole_by_the_batched_pipeline_in_sentences(tmp_path):
    import shutil

    from transhades.devtools.bench import STORY, long_speech

    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); .ci/run installs it")
    prepared = AudioPreparer(tmp_path / "p", codec="wav").prepare("j", long_speech(tmp_path))
    assert prepared.duration > local_lib.BATCH_ABOVE_SECONDS
    transcript = LocalWhisper("local", "base", tmp_path / "models").transcribe(prepared.chunks[0], "en")
    heard, read = transcript.text.lower().split(), STORY.lower().split()
    assert len(heard) > 0.9 * len(read), "nothing left out"
    assert "lighthouse" in heard[:6] and "it." in heard[-3:] and "home." in heard, "from the first word to the last"
    assert transcript.segments[-1].end > 100 and max(s.end - s.start for s in transcript.segments) < 15, \
        "cut into sentences, each with its share of the time"


@pytest.mark.slow
def test_a_withdrawn_job_stops_the_batched_pipeline_before_it_decodes_a_batch_it_has_not_started(tmp_path):
    """/cancel marks the task withdrawn, and the provider's progress callback raises from then on. On long audio the
    callback is asked before and after each batch's encoding too, so the model stops within part of a batch (not at
    the end of one). Here the job is withdrawn once the first words were shown: no batch is decoded, and the model
    is itself again."""
    import shutil

    from transhades.devtools.bench import long_speech
    from transhades.errors import Cancelled

    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); .ci/run installs it")
    prepared = AudioPreparer(tmp_path / "p", codec="wav").prepare("j", long_speech(tmp_path))
    local = LocalWhisper("local", "base", tmp_path / "models")
    asked: list[float] = []

    def withdrawn(fraction: float, text: object = None) -> None:
        if text is not None:
            return  # the first words' preview (decoded apart, before the batches) goes by
        asked.append(fraction)
        raise Cancelled("the job this task belongs to has ended")

    with pytest.raises(Cancelled):
        local.transcribe(prepared.chunks[0], "en", withdrawn)
    assert asked == [0.0], "asked before the first batch was encoded, not after it was decoded"
    assert local.batched.model is local.model, "the next job's pipeline is the plain model again"
    assert local.transcribe(prepared.chunks[0], "en", lambda *a: None).text, "and it still transcribes"


def test_a_long_segment_is_cut_at_sentence_ends_and_keeps_its_time():
    from transhades.transcript import Segment

    parts = local_lib.sentences(Segment(10.0, 40.0, "One two. Three four five six! Seven?"))
    assert [p.text for p in parts] == ["One two.", "Three four five six!", "Seven?"]
    assert parts[0].start == 10.0 and parts[-1].end == 40.0 and parts[0].end == parts[1].start
    assert local_lib.sentences(Segment(0.0, 5.0, "Short. Kept whole.")) == [Segment(0.0, 5.0, "Short. Kept whole.")]
