from __future__ import annotations

import json

from transhades.formats import render
from transhades.media import AudioChunk
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


def chunk(offset: float, keep_from: float = 0.0, keep_until: float = float("inf")) -> AudioChunk:
    return AudioChunk(0, "x.ogg", offset, 10.0, 1, "audio/ogg", keep_from, keep_until)


def test_stitch_shifts_segments_by_chunk_offsets_and_joins_text():
    a = Transcript("one", "en", 10.0, "groq", (Segment(0.5, 2.0, "one"),))
    b = Transcript("two", "en", 8.0, "deepgram", (Segment(1.0, 3.0, "two"),))
    whole = stitch([(chunk(600.0), b), (chunk(0.0), a)])
    assert whole.text == "one two" and whole.provider == "groq+deepgram"
    assert [(s.start, s.end) for s in whole.segments] == [(0.5, 2.0), (601.0, 603.0)]
    assert whole.duration == 608.0


def test_stitch_drops_what_the_overlap_repeated():
    first = Transcript("a b c", "id", 10.0, "groq", (Segment(0, 4, "a"), Segment(4, 8.5, "b"), Segment(9.2, 10, "c")))
    # the second chunk starts 1 s early (overlap): "b"'s tail and "c" appear in both
    second = Transcript("b c d", "id", 10.0, "groq", (Segment(0.0, 0.5, "b"), Segment(1.2, 2.0, "c"),
                                                       Segment(2.5, 6.0, "d")))
    whole = stitch([(chunk(0.0, 0.0, 9.0), first), (chunk(8.0, 9.0), second)])
    assert whole.text == "a b c d"
    assert [s.start for s in whole.segments] == [0, 4, 9.2, 10.5]


def test_stitch_keeps_the_text_of_a_chunk_without_segments():
    whole = stitch([(chunk(0.0, 0.0, 5.0), Transcript("plain one", None, 5.0, "x")),
                    (chunk(4.0, 5.0), Transcript("plain two", None, 5.0, "x"))])
    assert whole.text == "plain one plain two"


def test_stitch_keeps_the_whole_segment_when_the_cut_one_repeats_it():
    # chunk one heard "b" cut short at 9.0; chunk two (starting 1 s early) heard it whole
    first = Transcript("a b", "en", 9.0, "x", (Segment(0, 4, "a"), Segment(8.1, 9.0, "b-cut")))
    second = Transcript("b c", "en", 10.0, "x", (Segment(0.1, 3.0, "b"), Segment(3.5, 6.0, "c")))
    whole = stitch([(chunk(0.0, 0.0, 9.0), first), (chunk(8.0, 9.0), second)])
    assert whole.text == "a b c"
    assert [(s.start, s.end) for s in whole.segments] == [(0, 4), (8.1, 11.0), (11.5, 14.0)]


def test_split_text_keeps_every_word_in_pieces_within_the_limit_and_stops_at_most():
    import random

    from transhades.formats import split_text

    rng = random.Random(4)
    words = ["".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12))) + rng.choice(["", "", ".", ","])
             for _ in range(30_000)]
    text = " ".join(words)
    parts = split_text(text, limit=500)
    assert all(len(p) <= 500 for p in parts) and " ".join(parts).split() == text.split()
    assert split_text(text, limit=500, most=3) == parts[:3]
    assert split_text("x" * 1200, limit=500) == ["x" * 500, "x" * 500, "x" * 200], "no space: cut at the limit"


def test_a_huge_answer_is_cut_only_as_far_as_the_messages_sent_and_the_whole_goes_as_a_file():
    """A 2.3 MB model answer: only its first message is cut (the rest goes as a file, whole); the split stops after
    one piece more than the messages allowed instead of cutting the whole answer into 560 pieces."""
    from transhades.formats import split_text
    from transhades.telegram.replies import bounded

    answer = ("Kalimat yang cukup panjang untuk diulang berkali-kali. " * 42_000)[:2_300_000]
    items = bounded(7, None, "id", answer, 3, "answer.txt")
    assert [i.kind for i in items] == ["text", "document"] and items[1].data == answer.encode()
    assert items[0].text == split_text(answer)[0]
    assert len(split_text(answer, most=4)) == 4


def test_a_runaway_model_answer_is_cut_at_max_answer_chars_and_says_so():
    from transhades.telegram.followups import Followups
    from transhades.telegram.outbox import Outbox

    followups = Followups(None, Outbox(), False, 1, max_messages=3, max_answer_chars=10_000)
    answer = "kata " * 460_000  # 2.3 MB
    items = followups._answer_items(7, 1, "en", "summary", "en", answer)
    assert [i.kind for i in items] == ["text", "document"]
    whole = items[1].data.decode()
    assert len(whole) < 10_200 and whole.endswith("(The model's answer was cut here, at 10,000 characters.)")
    short = followups._answer_items(7, 1, "id", "summary", "id", "Ringkasan singkat.")
    assert len(short) == 1 and "dipotong" not in short[0].text
