from __future__ import annotations

import json

from transhades.formats import render
from transhades.transcript import Segment, Transcript, stitch

T = Transcript("Hello there. General Kenobi.", "en", 3725.5, "local",
               (Segment(0.0, 1.25, "Hello there."), Segment(3723.0, 3725.5, "General Kenobi.")))


def test_srt_numbers_cues_and_uses_comma_milliseconds():
    assert render(T, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
        "2\n01:02:03,000 --> 01:02:05,500\nGeneral Kenobi.\n")


def test_vtt_has_a_header_and_dot_milliseconds():
    out = render(T, "vtt")
    assert out.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n")
    assert "01:02:03.000 --> 01:02:05.500" in out


def test_json_carries_extra_fields_first():
    data = json.loads(render(T, "json", file="a.ogg", cached=True))
    assert list(data)[:2] == ["file", "cached"] and data["provider"] == "local"
    assert data["segments"][1] == {"start": 3723.0, "end": 3725.5, "text": "General Kenobi."}


def test_transcript_without_segments_becomes_one_cue():
    out = render(Transcript("just text", None, 4.0, "x"), "srt")
    assert out == "1\n00:00:00,000 --> 00:00:04,000\njust text\n"


def test_stitch_shifts_segments_by_chunk_offsets_and_joins_text():
    a = Transcript("one", "en", 10.0, "groq", (Segment(0.5, 2.0, "one"),))
    b = Transcript("two", "en", 8.0, "deepgram", (Segment(1.0, 3.0, "two"),))
    whole = stitch([(600.0, b), (0.0, a)])
    assert whole.text == "one two" and whole.provider == "groq+deepgram"
    assert [(s.start, s.end) for s in whole.segments] == [(0.5, 2.0), (601.0, 603.0)]
    assert whole.duration == 608.0
