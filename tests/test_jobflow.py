"""The dispatcher's rules, tested on the plain JobFlow: no threads, no actors, an injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from transhades.clock import ManualClock
from transhades.config import DispatcherConfig
from transhades.dispatch.jobflow import Emit, JobFlow, Quarantine, ReleaseJob, Send
from transhades.errors import (
    BadInput,
    ProviderRejectedKey,
    ProviderUnavailable,
    RateLimited,
)
from transhades.media import AudioChunk, LocalFile, PreparedAudio
from transhades.messages import (
    Completed,
    Failed,
    Fingerprint,
    JobRequest,
    LookupTranscript,
    MemberView,
    Partial,
    PrepareAudio,
    Queued,
    StoreTranscript,
    Transcribe,
    Waiting,
)
from transhades.transcript import Segment, Transcript


class Driver:
    """Owns a JobFlow and plays every worker: it answers the Send effects the flow returns."""

    def __init__(self, providers=(("groq", "openai"), ("local", "local"), ("deepgram", "deepgram")),
                 limits=DispatcherConfig(5, 3, 2), instances: int = 1) -> None:
        self.clock = ManualClock()
        self.flow = JobFlow(providers, limits, self.clock.now)
        self.events: list[Any] = []
        self.sent: list[Send] = []
        self.other: list[Any] = []
        members = [MemberView("cache", "cache", "running"), MemberView("audio-1", "audio", "running")]
        for name, _ in providers:
            members += [MemberView(f"provider:{name}-{i}", f"provider:{name}", "running")
                        for i in range(1, instances + 1)]
        self.apply(self.flow.membership(members))

    def apply(self, effects: list) -> None:
        for effect in effects:
            if isinstance(effect, Emit):
                self.events.append(effect.event)
            elif isinstance(effect, Send):
                self.sent.append(effect)
            else:
                self.other.append(effect)

    def submit(self, job_id: str, user: str = "u1", **kw: Any) -> None:
        self.apply(self.flow.submit(JobRequest(job_id, user, LocalFile(f"/m/{job_id}.ogg"), **kw), self.events.append))

    def take(self, kind: type, to_prefix: str = "") -> Send:
        for send in self.sent:
            if isinstance(send.message, kind) and send.to.startswith(to_prefix):
                self.sent.remove(send)
                return send
        raise AssertionError(f"no {kind.__name__} sent to {to_prefix or 'anyone'}; sent: {self.sent}")

    def done(self, send: Send, result: Any) -> None:
        self.apply(self.flow.task_done(send.message.ticket, result))

    def fail(self, send: Send, error: Any) -> None:
        self.apply(self.flow.task_failed(send.message.ticket, error))

    def change(self, name: str, group: str, state: str, until: float | None = None) -> None:
        self.apply(self.flow.member_changed(MemberView(name, group, state, until)))

    def to_transcription(self, job_id: str) -> Send:
        """Walk a fresh job through fingerprint, cache miss and preparation; return its Transcribe send."""
        self.done(self.take(Fingerprint), f"hash-{job_id}")
        self.done(self.take(LookupTranscript), None)
        prepare = self.take(PrepareAudio)
        self.done(prepare, audio(job_id))
        return self.take(Transcribe)

    def finals(self) -> list[Any]:
        return [e for e in self.events if isinstance(e, (Completed, Failed))]


def audio(job_id: str, chunks: int = 1) -> PreparedAudio:
    parts = tuple(AudioChunk(i, f"/tmp/{job_id}-{i}.ogg", i * 10.0, 10.0, 1000, "audio/ogg") for i in range(chunks))
    return PreparedAudio(f"/tmp/{job_id}.ogg", 10.0 * chunks, 1000 * chunks, "audio/ogg", parts)


def transcript(text: str = "hello", provider: str = "groq") -> Transcript:
    return Transcript(text, "en", 10.0, provider, (Segment(0.0, 2.0, text),))


def test_job_runs_fingerprint_cache_prepare_transcribe_store_in_order():
    d = Driver()
    d.submit("j1")
    d.done(d.take(Fingerprint, "audio"), "abc")
    lookup = d.take(LookupTranscript, "cache")
    assert lookup.message.keys == ("sha256:abc",)
    d.done(lookup, None)
    d.done(d.take(PrepareAudio, "audio"), audio("j1"))
    send = d.take(Transcribe, "provider:groq")
    d.done(send, transcript())
    store = d.take(StoreTranscript, "cache")
    assert store.message.keys == ("sha256:abc", "lang:en:sha256:abc"), "by hash, and by hash in its language"
    (final,) = d.finals()
    assert isinstance(final, Completed) and final.transcript.text == "hello" and not final.cached
    assert ReleaseJob("j1") in d.other


def test_cache_hit_by_hash_answers_without_preparing_audio():
    d = Driver()
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), transcript("from cache"))
    (final,) = d.finals()
    assert final.cached and final.transcript.text == "from cache"
    assert not any(isinstance(s.message, PrepareAudio) for s in d.sent)


def test_source_key_is_checked_before_fingerprinting_and_stored_as_an_alias():
    d = Driver()
    d.submit("j1", source_key="tg:AgADxyz")
    first = d.take(LookupTranscript)
    assert first.message.keys == ("tg:AgADxyz",)
    assert not any(isinstance(s.message, Fingerprint) for s in d.sent)
    d.done(first, None)
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), transcript("same bytes, other source"))
    store = d.take(StoreTranscript)
    assert set(store.message.keys) == {"tg:AgADxyz", "sha256:abc", "lang:en:tg:AgADxyz", "lang:en:sha256:abc"}


def test_a_request_for_a_fixed_language_is_answered_only_by_a_transcript_in_that_language():
    d = Driver()
    d.submit("j1", source_key="tg:AgADxyz", language="id")
    first = d.take(LookupTranscript)
    assert first.message.keys == ("lang:id:tg:AgADxyz",), "the English transcript of the same file must not answer"
    d.done(first, None)
    d.done(d.take(Fingerprint), "abc")
    assert d.take(LookupTranscript).message.keys == ("lang:id:sha256:abc",)


def test_a_transcript_is_stored_under_the_requested_and_the_detected_language():
    d = Driver()
    d.submit("j1", language="id")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("j1"))
    d.done(d.take(Transcribe), Transcript("selamat pagi", "ms", 10.0, "groq"))  # the provider heard Malay
    keys = d.take(StoreTranscript).message.keys
    assert keys == ("lang:id:sha256:abc", "lang:ms:sha256:abc"), \
        "not under the plain key: a request that detects must not get a transcript forced into Indonesian"


def test_a_detecting_request_takes_any_cached_language():
    d = Driver()
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    assert d.take(LookupTranscript).message.keys == ("sha256:abc",)


def test_failing_cache_lookup_counts_as_a_miss_not_a_failed_job():
    d = Driver()
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.fail(d.take(LookupTranscript), ProviderUnavailable("redis is down"))
    assert d.take(PrepareAudio)
    assert not d.finals()


def test_rate_limited_provider_is_quarantined_and_the_job_fails_over_at_once():
    d = Driver()
    d.submit("j1")
    send = d.to_transcription("j1")
    assert send.to == "provider:groq-1"
    d.fail(send, RateLimited("429", retry_after=42))
    assert Quarantine("provider:groq", 42.0, "429") in d.other
    nxt = d.take(Transcribe)
    assert nxt.to == "provider:deepgram-1", "local goes last even though it comes second in the config"
    assert nxt.message.chunk == send.message.chunk


def test_quarantined_provider_gets_no_new_work_until_its_deadline():
    d = Driver()
    d.submit("j1")
    d.fail(d.to_transcription("j1"), RateLimited("429", retry_after=30))
    d.done(d.take(Transcribe), transcript())
    d.submit("j2", user="u2")
    assert d.to_transcription("j2").to == "provider:deepgram-1"
    d.clock.advance(30)
    d.submit("j3", user="u3")
    assert d.to_transcription("j3").to == "provider:groq-1"


def test_a_job_never_visits_the_same_provider_twice_in_one_attempt():
    d = Driver(limits=DispatcherConfig(5, 3, retries=0))
    d.submit("j1")
    visited = []
    send = d.to_transcription("j1")
    for _ in range(3):
        visited.append(send.to)
        d.fail(send, ProviderUnavailable("500"))
        if d.finals():
            break
        send = d.take(Transcribe)
    assert visited == ["provider:groq-1", "provider:deepgram-1", "provider:local-1"]
    (final,) = d.finals()
    assert isinstance(final, Failed) and "500" in str(final.error)


def test_failed_round_is_retried_up_to_the_configured_retries():
    d = Driver(providers=(("local", "local"),), limits=DispatcherConfig(5, 3, retries=2))
    d.submit("j1")
    send = d.to_transcription("j1")
    for _ in range(2):
        d.fail(send, ProviderUnavailable("model crashed"))
        send = d.take(Transcribe)
    d.fail(send, ProviderUnavailable("model crashed"))
    (final,) = d.finals()
    assert isinstance(final, Failed)


def test_users_chosen_provider_is_tried_first():
    d = Driver()
    d.submit("j1", provider="local")
    assert d.to_transcription("j1").to == "provider:local-1"


def test_unknown_provider_choice_fails_with_the_known_names():
    d = Driver()
    d.submit("j1", provider="openai")
    (final,) = d.finals()
    assert isinstance(final, Failed) and "groq, deepgram, local" in str(final.error)


def test_bad_input_fails_the_job_without_any_failover():
    d = Driver()
    d.submit("j1")
    d.fail(d.take(Fingerprint), BadInput("the file is empty"))
    (final,) = d.finals()
    assert isinstance(final, Failed) and final.error.kind == "bad_input"
    assert not d.sent


def test_bad_input_from_a_provider_is_not_failed_over():
    d = Driver()
    d.submit("j1")
    d.fail(d.to_transcription("j1"), BadInput("audio is corrupt"))
    assert isinstance(d.finals()[0], Failed)
    assert not any(isinstance(s.message, Transcribe) for s in d.sent)


def test_rejected_key_disables_the_provider_for_later_jobs():
    d = Driver()
    d.submit("j1")
    d.fail(d.to_transcription("j1"), ProviderRejectedKey("401 invalid key"))
    retry = d.take(Transcribe)
    assert retry.to == "provider:deepgram-1"
    d.done(retry, transcript())
    d.submit("j2", user="u2")
    assert d.to_transcription("j2").to == "provider:deepgram-1"


def test_all_providers_quarantined_tells_the_user_once_and_resumes_on_readmission():
    d = Driver(providers=(("groq", "openai"), ("together", "openai")))
    d.submit("j1")
    d.fail(d.to_transcription("j1"), RateLimited("429", retry_after=60))
    d.fail(d.take(Transcribe), RateLimited("429", retry_after=20))
    waits = [e for e in d.events if isinstance(e, Waiting)]
    assert len(waits) == 1 and waits[0].seconds == pytest.approx(20)
    assert not d.finals() and not d.sent, "the job waits; it is neither failed nor sent anywhere"
    d.clock.advance(20)
    d.change("provider:together-1", "provider:together", "running")
    assert d.take(Transcribe).to == "provider:together-1"


def test_worker_that_dies_holding_a_task_gives_it_back_to_another_worker():
    d = Driver(instances=2)
    d.submit("j1")
    send = d.to_transcription("j1")
    d.change(send.to, "provider:groq", "restarting")
    again = d.take(Transcribe)
    assert again.to == "provider:groq-2" and again.message.chunk == send.message.chunk
    d.done(again, transcript())
    assert isinstance(d.finals()[0], Completed)


def test_task_of_a_dead_worker_waits_for_its_restart_when_no_other_can_take_it():
    d = Driver(providers=(("local", "local"),))
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    d.change("audio-1", "audio", "restarting")
    d.done(d.take(PrepareAudio), audio("j1"))  # a late answer from the dead incarnation's ticket
    assert not any(isinstance(s.message, Transcribe) for s in d.sent), "the stale answer must be ignored"
    d.change("audio-1", "audio", "running")
    d.done(d.take(PrepareAudio), audio("j1"))
    assert d.take(Transcribe)


def test_job_crashing_its_workers_more_than_retries_fails_with_a_clear_reason():
    d = Driver(providers=(("local", "local"),), limits=DispatcherConfig(5, 3, retries=1))
    d.submit("j1")
    d.to_transcription("j1")
    for _ in range(2):
        d.change("provider:local-1", "provider:local", "restarting")
        d.change("provider:local-1", "provider:local", "running")
        d.sent.clear()
    (final,) = d.finals()
    assert isinstance(final, Failed) and "provider:local-1 stopped" in str(final.error)


def test_failed_audio_group_fails_the_job_and_missing_cache_is_routed_around():
    d = Driver()
    d.change("cache", "cache", "failed")
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    assert d.take(PrepareAudio), "no cache: straight to preparation"
    d.change("audio-1", "audio", "failed")
    (final,) = d.finals()
    assert isinstance(final, Failed) and "audio preparation is unavailable" in str(final.error)


def test_max_concurrent_jobs_queues_the_rest_and_reports_positions():
    d = Driver(limits=DispatcherConfig(max_concurrent_jobs=2, per_user_limit=10, retries=2))
    for i in range(4):
        d.submit(f"j{i}")
    fingerprints = [s for s in d.sent if isinstance(s.message, Fingerprint)]
    assert len(fingerprints) == 2
    queued = {e.job_id: e.position for e in d.events if isinstance(e, Queued)}
    assert queued == {"j2": 1, "j3": 2}
    d.fail(d.take(Fingerprint), BadInput("empty"))  # j0 ends, j2 starts, j3 moves up
    assert [e for e in d.events if isinstance(e, Queued)][-1] == Queued("j3", 1)
    assert len([s for s in d.sent if isinstance(s.message, Fingerprint)]) == 2


def test_per_user_limit_lets_other_users_pass_a_busy_user():
    d = Driver(limits=DispatcherConfig(max_concurrent_jobs=5, per_user_limit=1, retries=2))
    d.submit("a1", user="alice")
    d.submit("a2", user="alice")
    d.submit("b1", user="bob")
    started = {s.message.media.path for s in d.sent if isinstance(s.message, Fingerprint)}
    assert started == {"/m/a1.ogg", "/m/b1.ogg"}


def test_same_job_submitted_twice_is_one_job():
    d = Driver()
    d.submit("j1")
    d.submit("j1")
    assert len([s for s in d.sent if isinstance(s.message, Fingerprint)]) == 1


def test_cancel_ends_the_job_and_ignores_late_answers():
    d = Driver()
    d.submit("j1")
    send = d.to_transcription("j1")
    d.apply(d.flow.cancel("j1"))
    d.done(send, transcript())
    (final,) = d.finals()
    assert isinstance(final, Failed) and final.error.kind == "cancelled"


def test_chunks_go_out_in_parallel_and_are_stitched_in_order_with_offsets():
    d = Driver(instances=3)
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("j1", chunks=3))
    sends = [d.take(Transcribe) for _ in range(3)]
    assert len({s.to for s in sends}) == 3, "each chunk on its own instance"
    for send in reversed(sends):
        i = send.message.chunk.index
        d.done(send, Transcript(f"part{i}", "en", 10.0, "groq", (Segment(1.0, 2.0, f"part{i}"),)))
    (final,) = d.finals()
    assert final.transcript.text == "part0 part1 part2"
    assert [s.start for s in final.transcript.segments] == [1.0, 11.0, 21.0]


def test_restarted_dispatcher_places_every_in_flight_task_again_and_ignores_old_tickets():
    d = Driver()
    d.submit("j1")
    send = d.to_transcription("j1")
    members = [MemberView("cache", "cache", "running"), MemberView("audio-1", "audio", "running"),
               MemberView("provider:groq-1", "provider:groq", "running")]
    d.apply(d.flow.membership(members))
    again = d.take(Transcribe)
    assert again.message.ticket != send.message.ticket
    d.done(send, transcript("old"))
    assert not d.finals()
    d.done(again, transcript("new"))
    assert d.finals()[0].transcript.text == "new"


def test_status_counts_jobs_and_reports_quarantine_time_left():
    d = Driver()
    d.submit("j1")
    d.fail(d.to_transcription("j1"), RateLimited("429", retry_after=10))
    status = d.flow.status()
    groq = status.groups["provider:groq"][0]
    assert groq.quarantined_for == pytest.approx(10)
    assert status.active == 1 and status.queued == 0


def test_repeated_provider_failures_open_its_breaker_and_quarantine_it():
    from transhades.dispatch.breaker import ProviderBreaker

    d = Driver()
    d.flow.providers.breakers["groq"] = ProviderBreaker(failures_to_open=2, break_seconds=45)
    for job in ("j1", "j2"):
        d.submit(job, user=job)
        d.fail(d.to_transcription(job), ProviderUnavailable("502 bad gateway"))
        d.done(d.take(Transcribe), transcript())
    assert Quarantine("provider:groq", 45, "circuit open: 502 bad gateway") in d.other
    assert d.flow.status().providers["groq"].breaker == "open"
    d.submit("j3", user="j3")
    assert d.to_transcription("j3").to == "provider:deepgram-1"


def test_half_open_breaker_sends_one_trial_and_releases_the_rest_when_it_passes():
    from transhades.dispatch.breaker import ProviderBreaker

    d = Driver(providers=(("groq", "openai"),))
    d.flow.providers.breakers["groq"] = ProviderBreaker(failures_to_open=1, break_seconds=10)
    d.submit("j1", user="a")
    d.fail(d.to_transcription("j1"), ProviderUnavailable("500"))
    d.submit("j2", user="b")
    d.clock.advance(10)
    d.change("provider:groq-1", "provider:groq", "running")
    trial = d.take(Transcribe)
    d.done(d.take(Fingerprint), "hash-j2")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("j2"))
    assert not any(isinstance(s.message, Transcribe) for s in d.sent), "only the trial may run while half-open"
    d.done(trial, transcript())
    assert d.take(Transcribe), "the trial passed: the waiting task goes out"


def test_rejected_key_alerts_the_operator_once():
    from transhades.dispatch.jobflow import Alert

    d = Driver(instances=2)
    d.submit("j1", user="a")
    d.submit("j2", user="b")
    first = d.to_transcription("j1")
    second = d.to_transcription("j2")
    d.fail(first, ProviderRejectedKey("groq: the API key was rejected (401: Invalid API Key)"))
    d.fail(second, ProviderRejectedKey("groq: the API key was rejected (401: Invalid API Key)"))
    alerts = [e for e in d.other if isinstance(e, Alert)]
    assert len(alerts) == 1 and "groq is disabled until restart" in alerts[0].text
    assert d.flow.status().providers["groq"].disabled


def test_upload_too_large_cuts_the_chunk_smaller_and_sends_the_pieces():
    from transhades.errors import UploadTooLarge
    from transhades.messages import SplitChunk

    d = Driver()
    d.submit("j1")
    send = d.to_transcription("j1")
    d.fail(send, UploadTooLarge("groq: upload too large"))
    split = d.take(SplitChunk, "audio")
    assert split.message.chunk == send.message.chunk
    whole = send.message.chunk
    pieces = (AudioChunk(0, "/tmp/a.0.ogg", 0.0, 5.0, 500, "audio/ogg", 0.0, 5.0),
              AudioChunk(0, "/tmp/a.1.ogg", 4.0, 6.0, 600, "audio/ogg", 5.0, whole.keep_until))
    d.done(split, pieces)
    outs = [d.take(Transcribe), d.take(Transcribe)]
    assert sorted(o.message.chunk.offset for o in outs) == [0.0, 4.0]
    for out in outs:
        c = out.message.chunk
        d.done(out, Transcript(f"at{c.offset:g}", "en", c.duration, "groq", (Segment(2.0, 3.0, f"at{c.offset:g}"),)))
    (final,) = d.finals()
    assert final.transcript.text == "at0 at4" and [s.start for s in final.transcript.segments] == [2.0, 6.0]
    assert d.flow.status().providers["groq"].breaker == "closed"


def test_chunk_that_cannot_be_cut_smaller_goes_to_another_provider():
    from transhades.errors import UploadTooLarge
    from transhades.messages import SplitChunk

    d = Driver()
    d.submit("j1")
    d.fail(d.to_transcription("j1"), UploadTooLarge("groq: upload too large"))
    d.fail(d.take(SplitChunk), BadInput("too large for every provider even when cut small"))
    assert d.take(Transcribe).to == "provider:deepgram-1"
    assert not d.finals()


def test_chunks_of_a_long_file_fan_out_over_idle_remote_providers_and_never_to_local():
    d = Driver()
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("j1", chunks=4))
    first = [d.take(Transcribe), d.take(Transcribe)]
    assert [s.to for s in first] == ["provider:groq-1", "provider:deepgram-1"]
    assert not any(isinstance(s.message, Transcribe) for s in d.sent), "the rest wait for a free remote slot"
    d.done(first[1], transcript())
    assert d.take(Transcribe).to == "provider:deepgram-1", "pulled by whichever provider frees up first"
    d.done(first[0], transcript())
    assert d.take(Transcribe).to == "provider:groq-1"


def test_a_chosen_provider_keeps_all_the_chunks():
    d = Driver()
    d.submit("j1", provider="deepgram")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("j1", chunks=3))
    for _ in range(3):
        send = d.take(Transcribe)
        assert send.to == "provider:deepgram-1"
        assert not any(isinstance(s.message, Transcribe) for s in d.sent), "one at a time, others idle or not"
        d.done(send, transcript())
    assert isinstance(d.finals()[0], Completed)


def test_preparation_asks_for_chunks_that_fit_the_smallest_upload_limit():
    d = Driver()
    flow = JobFlow((("groq", "openai"), ("local", "local")), DispatcherConfig(), d.clock.now,
                   upload_limits={"groq": 25 << 20, "deepgram": 100 << 20})
    d.flow = flow
    d.apply(flow.membership([MemberView("cache", "cache", "running"), MemberView("audio-1", "audio", "running")]))
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    assert d.take(PrepareAudio).message.max_chunk_bytes == 25 << 20


def test_cache_that_dies_holding_lookups_costs_the_jobs_nothing():
    d = Driver(limits=DispatcherConfig(5, 5, retries=0))
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.take(LookupTranscript)
    d.change("cache", "cache", "restarting")
    assert d.take(PrepareAudio), "treated as a miss: the job goes on"
    assert not d.finals()


def three_parts_out() -> tuple[Driver, dict[int, Send]]:
    """A job cut into three parts, each on a provider instance: part index -> its Transcribe send."""
    d = Driver(limits=DispatcherConfig(5, 5, 2), instances=3)
    d.submit("j1")
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("j1", chunks=3))
    return d, {s.message.chunk.index: s for s in [d.take(Transcribe) for _ in range(3)]}


def part_said(n: int) -> Transcript:
    return Transcript(f"part{n}", "en", 10.0, "groq", (Segment(0.0, 2.0, f"part{n}"),))


def test_the_text_so_far_is_sent_as_soon_as_the_parts_from_the_start_are_done_and_the_final_is_unchanged():
    d, sends = three_parts_out()
    chunk_text = part_said
    d.done(sends[1], chunk_text(1))
    assert [e for e in d.events if isinstance(e, Partial)] == [], "part 2 alone: part 1 is still missing"
    d.done(sends[0], chunk_text(0))
    [partial] = [e for e in d.events if isinstance(e, Partial)]
    assert (partial.done, partial.parts, partial.transcript.text) == (2, 3, "part0 part1")
    d.done(sends[2], chunk_text(2))
    assert len([e for e in d.events if isinstance(e, Partial)]) == 1, "the last part completes, no partial"
    assert d.finals()[0].transcript.text == "part0 part1 part2"


def test_a_part_that_fails_is_retried_while_the_parts_before_it_are_delivered_and_the_whole_stays_in_order():
    d, sends = three_parts_out()
    said = part_said
    d.done(sends[0], said(0))
    assert [(p.done, p.transcript.text) for p in d.events if isinstance(p, Partial)] == [(1, "part0")]
    d.fail(sends[1], ProviderUnavailable("502 bad gateway"))
    d.done(sends[2], said(2))
    assert len([p for p in d.events if isinstance(p, Partial)]) == 1, "part 3 waits for part 2"
    retry = d.take(Transcribe)
    assert retry.message.chunk.index == 1 and retry.to != sends[1].to, "the failed part went elsewhere"
    d.done(retry, said(1))
    assert d.finals()[0].transcript.text == "part0 part1 part2"


def test_a_translation_goes_only_to_a_local_model_asks_it_to_translate_and_has_its_own_cache_keys():
    d = Driver()
    d.submit("j1", source_key="tg:AgADxyz", language="es", task="translate")
    first = d.take(LookupTranscript)
    assert first.message.keys == ("lang:es:translate:tg:AgADxyz",), "the Spanish transcript must not answer it"
    d.done(first, None)
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("j1"))
    send = d.take(Transcribe)
    assert send.to.startswith("provider:local") and send.message.task == "translate", "groq is first for transcripts"
    d.fail(send, ProviderUnavailable("the model crashed"))
    retry = [s for s in d.sent if isinstance(s.message, Transcribe)]
    assert all(s.to.startswith("provider:local") for s in retry), "never failed over to a remote provider"
    d.done(retry[0], Transcript("Good morning.", "es", 3.0, "local"))
    assert set(d.take(StoreTranscript).message.keys) == {"lang:es:translate:tg:AgADxyz", "lang:es:translate:sha256:abc"}
    assert d.finals()[0].transcript.text == "Good morning."


def test_a_translation_without_a_local_model_fails_at_once_saying_what_is_needed():
    d = Driver(providers=(("groq", "openai"),))
    d.submit("j1", task="translate")
    (final,) = d.finals()
    assert isinstance(final, Failed) and "needs a local provider (kind: local)" in final.error.message


def test_a_member_that_joins_later_is_placed_and_the_least_loaded_free_one_is_picked():
    from transhades.dispatch.roster import Roster

    roster = Roster({"provider:": 1})
    roster.change(MemberView("provider:groq-1", "provider:groq", "running"))
    assert [m.name for m in roster.group("provider:groq")] == ["provider:groq-1"]
    roster.members["provider:groq-1"].load = 1  # its one slot is taken
    assert roster.least_loaded_free("provider:groq", 0.0) is None
    roster.change(MemberView("provider:groq-2", "provider:groq", "running"))  # after the group was looked up
    assert roster.least_loaded_free("provider:groq", 0.0).name == "provider:groq-2"
    roster.reset([MemberView("provider:groq-3", "provider:groq", "running")])
    assert [m.name for m in roster.group("provider:groq")] == ["provider:groq-3"], "a restart's table replaces it"


def test_discard_removes_only_what_this_process_made_and_touches_no_disk_otherwise(tmp_path):
    from transhades.audio.prepare import discard, workdir

    made = workdir(tmp_path, "job-1")
    (made / "audio.wav").write_bytes(b"x")
    foreign = tmp_path / "job-2"
    foreign.mkdir()
    discard(tmp_path, "job-1")
    discard(tmp_path, "job-2")  # not ours (another process's, or a stale one the next start sweeps)
    assert not made.exists() and foreign.exists()
    discard(tmp_path, "job-1")  # twice is harmless


def test_a_chunk_decoded_as_it_goes_shows_its_words_so_far_after_the_parts_before_it():
    d = Driver()
    d.submit("one")
    send = d.to_transcription("one")
    d.apply(d.flow.task_progress(send.message.ticket, 0.2, part_said(0)))
    [partial] = [e for e in d.events if isinstance(e, Partial)]
    assert (partial.done, partial.parts, partial.transcript.text) == (0, 1, "part0"), "one recording: its words"
    d.done(send, part_said(0))
    assert d.finals()[0].transcript.text == "part0"

    d, sends = three_parts_out()
    d.apply(d.flow.task_progress(sends[1].message.ticket, 0.5, part_said(1)))
    assert [e for e in d.events if isinstance(e, Partial)] == [], "part 2's words would read out of place"
    d.apply(d.flow.task_progress(sends[0].message.ticket, 0.5, Transcript("par", "en", 10.0, "groq",
                                                                             (Segment(0.0, 1.0, "par"),))))
    d.done(sends[0], part_said(0))
    d.apply(d.flow.task_progress(sends[1].message.ticket, 0.5, part_said(1)))
    texts = [(p.done, p.transcript.text) for p in d.events if isinstance(p, Partial)]
    assert texts == [(0, "par"), (1, "part0"), (1, "part0 part1")]


def test_users_take_turns_on_the_local_model_a_short_note_waits_one_chunk_not_a_whole_file():
    """Only the local model, one slot: user A's long file is 18 chunks; user B's note arrives after A's first chunk
    started. B's note goes as soon as that chunk is done, then A's chunks go on; B's own later job waits its turn."""
    d = Driver(providers=(("local", "local"),))
    d.submit("long", user="A")
    d.done(d.take(Fingerprint), "hash-long")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("long", chunks=18))
    first = d.take(Transcribe, "provider:local")
    assert not [s for s in d.sent if isinstance(s.message, Transcribe)], "one slot: the other 17 chunks wait"
    d.submit("note", user="B")
    d.done(d.take(Fingerprint), "hash-note")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("note"))
    d.done(first, transcript("chunk 0", "local"))
    after_first = d.take(Transcribe, "provider:local")
    assert after_first.message.chunk.path == "/tmp/note-0.ogg", "B's note before A's second chunk"
    d.submit("note-2", user="B")
    d.done(d.take(Fingerprint), "hash-note-2")
    d.done(d.take(LookupTranscript), None)
    d.done(d.take(PrepareAudio), audio("note-2"))
    d.done(after_first, transcript("the note", "local"))
    assert d.take(Transcribe, "provider:local").message.chunk.path == "/tmp/long-1.ogg", "then A's turn again"
    assert [f.job_id for f in d.finals()] == ["note"]


def test_a_fair_queue_keeps_each_users_order_and_turns_forget_the_least_recent_beyond_their_bound(monkeypatch):
    import transhades.dispatch.turns as turns_module
    from transhades.dispatch.tasks import TranscribeTask

    monkeypatch.setattr(turns_module, "REMEMBERED", 4)
    turns = turns_module.Turns()
    tasks = [TranscribeTask(f"{user}{n}", "provider:local") for user, n in
             (("a", 1), ("a", 2), ("b", 1), ("c", 1), ("b", 2))]
    turns.served("transcribe", "a")
    turns.served("transcribe", "b")
    waiting = turns_module.FairQueue("transcribe", turns, lambda t: t.job_id[0])
    for task in tasks:
        waiting.append(task)
    assert len(waiting) == 5 and [t.job_id for t in waiting] == ["a1", "a2", "b1", "c1", "b2"], "arrival order"
    taken = []
    while waiting:
        taken.append(waiting.popleft().job_id)
        turns.served("transcribe", taken[-1][0])
    assert taken == ["c1", "a1", "b1", "a2", "b2"], "c (never served) first, then a and b in turn, each in order"
    with pytest.raises(IndexError):
        waiting.popleft()
    for user in "defgh":
        turns.served("transcribe", user)
    assert turns.last("transcribe", "a") == -1 and len(turns._served) <= 4
