"""The whole actor tree in one process: real supervisor, dispatcher, cache, audio actors and ffmpeg, with a
scripted provider so crashes and rate limits happen exactly when a test wants them."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SAMPLES, make_media, wait_for

from transhades import config as config_lib
from transhades.app.tree import start_tree
from transhades.errors import RateLimited
from transhades.media import AudioChunk, LocalFile
from transhades.messages import Completed, Failed, JobRequest, SubmitJob
from transhades.transcript import Segment, Transcript


class Script:
    """What each provider does, shared by every incarnation of its actors (so a crash can happen once)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.crash_next: set[str] = set()
        self.rate_limit: dict[str, float] = {}
        self.errors: dict[str, Exception] = {}  # provider -> the typed error it answers every call with
        self.delay: dict[str, float] = {}
        self.text_override: str | None = None
        self.segments_override: tuple[Segment, ...] | None = None  # e.g. speakers the provider told apart
        self.steps: dict[str, int] = {}  # provider -> decode in this many steps (each reports progress)
        self.steps_done: dict[str, int] = {}
        self.words_so_far: list[str] = []  # with steps: the text so far given at each step, as a local model does
        self.models: list[tuple[str, str]] = []
        self.languages: list[str | None] = []
        self.detection: list[tuple[tuple[str, ...], str | None]] = []  # (languages to detect among, hint)
        self.vocabularies: list[tuple[str, ...]] = []  # what each call was given to spell right
        self.lock = threading.Lock()

    def factory(self, cfg, data_dir):
        script = self

        class Scripted:
            name = cfg.name

            def transcribe(self, chunk: AudioChunk, language, progress=None, model=None, languages=(),
                           hint=None, speakers=False, vocabulary=()) -> Transcript:
                with script.lock:
                    script.calls.append(cfg.name)
                    script.vocabularies.append(tuple(vocabulary))
                    script.languages.append(language)
                    script.detection.append((languages, hint))
                    if model:
                        script.models.append((cfg.name, model))
                    crash = cfg.name in script.crash_next
                    script.crash_next.discard(cfg.name)
                if crash:
                    raise RuntimeError(f"{cfg.name} fell over")  # not a typed error: the actor crashes
                if cfg.name in script.errors:
                    raise script.errors[cfg.name]
                if cfg.name in script.rate_limit:
                    raise RateLimited(f"{cfg.name}: 429 Too Many Requests", script.rate_limit[cfg.name])
                steps = script.steps.get(cfg.name, 0)
                pause = script.delay.get(cfg.name, 0.0) / max(1, steps)
                for step in range(steps):  # like the local model: segment after segment, progress between them
                    time.sleep(pause)
                    script.steps_done[cfg.name] = step + 1
                    said = script.words_so_far[step] if step < len(script.words_so_far) else None
                    progress(step / steps, Transcript(said, "id", chunk.duration, "", (Segment(0.0, 1.0, said),))
                             if said else None)
                if not steps:
                    time.sleep(script.delay.get(cfg.name, 0.0))
                text = script.text_override or f"{Path(chunk.path).parent.name[:6]} by {cfg.name}"
                if script.segments_override is not None:
                    return Transcript(" ".join(s.text for s in script.segments_override), "en", chunk.duration,
                                      cfg.name, script.segments_override)
                return Transcript(text, "en", chunk.duration, cfg.name, (Segment(0.0, chunk.duration, text),))

            def close(self) -> None:
                pass

        return Scripted()


def tree_config(tmp_path: Path, providers=("alpha", "beta"), retries: int = 2):
    return config_lib.parse({
        "providers": [{"name": n, "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k"}
                      for n in providers],
        "cache": {"backend": "sqlite", "path": str(tmp_path / "cache.sqlite3")},
        "dispatcher": {"max_concurrent_jobs": 4, "per_user_limit": 4, "retries": retries},
        "audio": {"workers": 1, "temp_dir": str(tmp_path / "tmp")},
        "supervision": {"max_restarts": 3, "within_seconds": 60,
                        "backoff": {"min_seconds": 0.01, "max_seconds": 0.05, "jitter": 0.1}},
        "data_dir": str(tmp_path / "data"),
    }, env={})


class Client:
    def __init__(self, tree) -> None:
        self.tree = tree
        self.events: queue.Queue = queue.Queue()
        self.finals: dict[str, list] = {}

    def submit(self, job_id: str, path: Path, **kw) -> None:
        request = JobRequest(job_id, kw.pop("user", "u"), LocalFile(str(path)), **kw)
        assert self.tree.tell_dispatcher(SubmitJob(request, self.events.put))

    def result(self, job_id: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while not self.finals.get(job_id):
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(event, (Completed, Failed)):
                self.finals.setdefault(event.job_id, []).append(event)
        return self.finals[job_id][0]


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def running(tmp_path, script):
    trees = []

    def start(**kw):
        tree = start_tree(tree_config(tmp_path, **kw), provider_factory=script.factory)
        trees.append(tree)
        return tree, Client(tree)

    yield start
    for tree in trees:
        tree.stop()


def test_job_goes_through_every_actor_and_temp_files_are_removed(running, tone, tmp_path):
    tree, client = running()
    client.submit("j1", tone)
    done = client.result("j1")
    assert isinstance(done, Completed) and done.transcript.provider == "alpha" and not done.cached
    def leftovers() -> list:
        try:
            return list((tmp_path / "tmp").glob("*/*/audio.*"))
        except FileNotFoundError:  # a job directory vanished while we looked: removal is under way
            return ["busy"]

    wait_for(lambda: not leftovers(), what="temp files removed")


def test_provider_actor_that_crashes_mid_job_is_restarted_and_the_job_still_completes(running, tone, script):
    tree, client = running(providers=("alpha",))
    script.crash_next.add("alpha")
    client.submit("j1", tone)
    done = client.result("j1")
    assert isinstance(done, Completed) and done.transcript.provider == "alpha"
    assert script.calls == ["alpha", "alpha"]
    assert {s["name"]: s for s in tree.status()}["provider:alpha-1"]["restarts_in_window"] == 1


def test_rate_limited_provider_is_quarantined_and_the_transcript_comes_from_the_next(running, tone, script):
    tree, client = running()
    script.rate_limit["alpha"] = 120
    client.submit("j1", tone)
    done = client.result("j1")
    assert done.transcript.provider == "beta"
    status = {s["name"]: s for s in tree.status()}
    wait_for(lambda: {s["name"]: s for s in tree.status()}["provider:alpha-1"]["state"] == "quarantined",
             what="alpha quarantined by the supervisor")
    assert status["provider:beta-1"]["state"] == "running"


def test_dispatcher_crash_loses_no_job_and_answers_each_once(running, tone, ffmpeg, tmp_path, script):
    tree, client = running()
    script.delay["alpha"] = 0.4
    other = make_media(ffmpeg, tmp_path / "other.wav", "-f", "lavfi", "-i", "sine=frequency=660:duration=2")
    client.submit("j1", tone)
    client.submit("j2", other, user="v")
    wait_for(lambda: script.calls, what="transcription under way")
    tree.tell_dispatcher(object())  # an unknown message type: the dispatcher crashes
    assert isinstance(client.result("j1"), Completed) and isinstance(client.result("j2"), Completed)
    wait_for(tree.quiet, what="any duplicate answer from the old incarnation's ticket to arrive")
    while not client.events.empty():
        event = client.events.get()
        assert not isinstance(event, (Completed, Failed)), f"second final answer for {event.job_id}"
    assert {s["name"]: s for s in tree.status()}["dispatcher"]["restarts_in_window"] == 1


def test_duplicate_file_is_answered_from_the_cache_without_a_provider_call(running, tone, tmp_path, script):
    tree, client = running()
    client.submit("j1", tone)
    first = client.result("j1")
    copy = tmp_path / "copy of tone.wav"
    copy.write_bytes(tone.read_bytes())
    client.submit("j2", copy)
    second = client.result("j2")
    assert second.cached and second.transcript.text == first.transcript.text
    assert second.transcript.duration == pytest.approx(first.transcript.duration, abs=0.001)
    assert script.calls == ["alpha"]


def test_bad_file_fails_alone_and_the_next_job_still_runs(running, tone, tmp_path):
    tree, client = running()
    junk = tmp_path / "junk.ogg"
    junk.write_text("not audio")
    client.submit("bad", junk)
    client.submit("good", tone)
    bad = client.result("bad")
    assert isinstance(bad, Failed) and "is not an audio or video file" in str(bad.error)
    assert isinstance(client.result("good"), Completed)


def test_provider_failing_every_restart_is_marked_failed_and_jobs_use_the_other(running, ffmpeg, tmp_path, script):
    tree, client = running()

    class AlwaysCrash(set):
        def discard(self, item):  # never forgets: alpha crashes on every call
            pass

    script.crash_next = AlwaysCrash({"alpha"})
    for i in range(6):
        media = make_media(ffmpeg, tmp_path / f"t{i}.wav", "-f", "lavfi", "-i", f"sine=frequency={200 + 50 * i}:duration=1")
        client.submit(f"j{i}", media)
        done = client.result(f"j{i}")
        assert isinstance(done, Completed) and done.transcript.provider == "beta"
    wait_for(lambda: {s["name"]: s for s in tree.status()}["provider:alpha-1"]["state"] == "failed",
             what="alpha escalated to failed")
    assert script.calls.count("alpha") == 4, "three restarts, then the fourth crash escalates"


def test_a_job_that_crashes_its_workers_past_the_retry_budget_fails_as_an_internal_error(running, tone, script):
    """The retry budget: a job survives ``retries`` crashes of the workers handling it; the next fails it, and the
    user is told it was an internal error (not that the transcription services are not answering)."""
    from transhades.telegram.texts import reason_text

    tree, client = running(retries=2)

    class AlwaysCrash(set):
        def discard(self, item):
            pass

    script.crash_next = AlwaysCrash({"alpha", "beta"})
    client.submit("j1", tone)
    done = client.result("j1")
    assert isinstance(done, Failed) and "stopped while handling this job 3 times" in done.error.message
    assert reason_text("en", done.error) == "an internal error kept me from finishing; please try again"


@pytest.mark.slow
def test_local_whisper_through_the_tree_recognises_speech_and_caches_it(tmp_path):
    cfg = replace(tree_config(tmp_path), providers=(
        config_lib.ProviderConfig(name="local", kind="local", model="base"),))
    tree = start_tree(cfg)
    client = Client(tree)
    try:
        client.submit("speech", SAMPLES / "hello-en.ogg")
        done = client.result("speech", timeout=120)
        assert isinstance(done, Completed), done
        text = done.transcript.text.lower()
        assert "welcome" in text and "transcript" in text and done.transcript.language == "en"
        started = time.monotonic()
        client.submit("again", SAMPLES / "hello-en.ogg")
        again = client.result("again")
        elapsed = time.monotonic() - started
        assert again.cached and again.transcript.text == done.transcript.text
        assert elapsed < 0.5, f"a cached answer took {elapsed * 1000:.0f} ms"
    finally:
        tree.stop()


def test_job_submitted_while_the_dispatcher_restarts_is_kept_and_done(running, tone, script):
    tree, client = running()
    dispatcher = tree.registry.get("dispatcher")
    tree.registry.unregister("dispatcher")  # as between a crash and the restart
    client.submit("kept", tone)
    tree.registry.register("dispatcher", dispatcher)
    assert isinstance(client.result("kept"), Completed)


def test_a_workers_messages_are_not_kept_while_it_is_down(running, tone):
    tree, _ = running()
    tree.registry.unregister("audio-1")
    assert tree.registry.tell("audio-1", object()) is False


def test_faults_given_to_one_tree_never_reach_another(tmp_path, tone, script):
    from transhades.app.tree import start_tree
    from transhades.devtools.chaos import Faults

    faulted = start_tree(tree_config(tmp_path / "faulted"), provider_factory=script.factory,
                         faults=Faults(crash_rate=1.0))
    clean = start_tree(tree_config(tmp_path / "clean"), provider_factory=Script().factory)
    try:
        chaotic, calm = Client(faulted), Client(clean)
        chaotic.submit("c1", tone)
        calm.submit("k1", tone)
        assert isinstance(calm.result("k1"), Completed)
        assert isinstance(chaotic.result("c1"), Failed), "every task crashes its worker until retries run out"
        assert all(s["total_restarts"] == 0 for s in clean.status())
        assert sum(s["total_restarts"] for s in faulted.status()) > 0
    finally:
        faulted.stop()
        clean.stop()


def test_a_cancelled_job_stops_its_provider_between_segments_and_the_next_job_starts_at_once(running, tone,
                                                                                           ffmpeg, tmp_path,
                                                                                           script):
    from transhades.messages import CancelJob

    tree, client = running(providers=("alpha",))
    script.steps["alpha"], script.delay["alpha"] = 100, 20.0  # 20 s of decoding, 0.2 s a segment
    client.submit("long", tone)
    wait_for(lambda: script.steps_done.get("alpha", 0) >= 2, what="the provider decoding")
    cancelled_at = time.monotonic()
    assert tree.tell_dispatcher(CancelJob("long"))
    assert client.result("long").error.kind == "cancelled"
    script.steps["alpha"], script.delay["alpha"] = 0, 0.0
    other = make_media(ffmpeg, tmp_path / "other.ogg", "-f", "lavfi", "-i", "sine=frequency=500:duration=2",
                       "-c:a", "libopus")
    client.submit("next", other)
    assert isinstance(client.result("next", timeout=10), Completed)
    assert time.monotonic() - cancelled_at < 5.0, "the next job did not wait behind the cancelled one"
    assert script.steps_done["alpha"] < 30, "the provider stopped at its next segment"


def test_a_cancelled_job_frees_a_remote_provider_waiting_on_its_server(tmp_path, tone, ffmpeg):
    from provider_servers import ProviderServer, Reply, groq_verbose

    from transhades.messages import CancelJob

    server = ProviderServer([Reply(200, groq_verbose("the slow one"), delay=8.0), Reply(200, groq_verbose("next"))])
    config = config_lib.parse({
        "providers": [{"name": "remote", "kind": "openai", "base_url": f"{server.url}/v1", "api_key": "k"}],
        "cache": {"backend": "memory"}, "audio": {"workers": 1, "temp_dir": str(tmp_path / "tmp")},
        "data_dir": str(tmp_path / "data")}, env={})
    tree = start_tree(config)
    client = Client(tree)
    try:
        client.submit("slow", tone)
        wait_for(lambda: len(server.received) == 1, what="the request at the server")
        cancelled_at = time.monotonic()
        assert tree.tell_dispatcher(CancelJob("slow"))
        assert client.result("slow").error.kind == "cancelled"
        other = make_media(ffmpeg, tmp_path / "other.ogg", "-f", "lavfi", "-i", "sine=frequency=500:duration=2",
                           "-c:a", "libopus")
        client.submit("next", other)
        done = client.result("next", timeout=6)
        assert isinstance(done, Completed) and done.transcript.text == "next"
        assert time.monotonic() - cancelled_at < 4.0, "the provider did not wait out the cancelled request"
    finally:
        tree.stop()
        server.close()
