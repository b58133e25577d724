"""Each user's transcripts kept for /history and /search, on SQLite (FTS5) and on the real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli

from transhades.telegram.history import History
from transhades.transcript import Segment, Transcript


class Wall:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def said(text: str) -> Transcript:
    return Transcript(text, "en", 9.0, "local", (Segment(0.0, 9.0, text),))


def test_transcripts_are_kept_per_user_newest_first_and_found_by_word_forms(store_target):
    wall = Wall()
    history = History(store_target, keep_days=30, wall=wall)
    history.add(1, "a", said("The lighthouse keeper rescued eleven fishermen."))
    wall.now += 60
    history.add(1, "b", said("The market opens every Saturday with apples and pears."))
    history.add(2, "c", said("Someone else's lighthouse story."))
    history.add(1, "b", said("the same job again is kept once"))
    assert [k.job_id for k in history.latest(1)] == ["b", "a"]
    [found] = history.search(1, "apple")  # the singular finds the plural
    assert found.job_id == "b" and "«apples»" in found.passage
    assert [k.job_id for k in history.search(1, "lighthouse")] == ["a"], "only the user's own"
    assert history.search(1, "zebra") == [] and history.search(1, "!!") == []
    assert history.get(2, "a") is None and history.get(1, "a").transcript.text.startswith("The lighthouse")


def test_old_transcripts_are_forgotten_and_keep_days_0_keeps_nothing(store_target):
    wall = Wall()
    history = History(store_target, keep_days=1, wall=wall)
    history.add(1, "old", said("an old recording about apples"))
    wall.now += 86_401
    assert history.latest(1) == [] and history.search(1, "apples") == []
    assert history.prune() == 1
    off = History(store_target, keep_days=0, wall=wall)
    off.add(1, "new", said("kept nowhere"))
    assert off.latest(1) == [] and History(store_target, wall=wall).get(1, "new") is None


@pytest.mark.slow
def test_history_search_and_getting_a_transcript_again_through_chat(tmp_path):
    lines = ["/history", f"/send {SAMPLES / 'hello-en.ogg'}", f"/send {SAMPLES / 'halo-id.ogg'}", "/history",
             "/search transcripts", "/press 1", "/search zebra"]
    done = run_cli("chat", "--json", cwd=tmp_path, stdin="\n".join(lines) + "\n", timeout=240)
    assert done.returncode == 0, done.stderr
    bot = [e for e in json.loads("[" + ",".join(done.stdout.splitlines()) + "]") if e["event"] != "user"]
    texts = [e["text"] for e in bot]
    assert texts[0] == "Nothing kept yet: your transcripts are kept here for 30 days."
    listing = next(e for e in bot if e["text"].startswith("Your latest transcripts"))
    assert listing["text"].index("pagi, terima kasih") < listing["text"].index("Hello, and welcome"), "newest first"
    assert listing["buttons"] == ["1", "2"]
    found = next(e for e in bot if e["text"].startswith("Found"))
    assert "«transcript»" in found["text"] and found["buttons"] == ["1"], "a plural finds the singular"
    assert texts[texts.index(found["text"]) + 1].startswith("Hello, and welcome"), "pressed: sent again"
    assert texts[-1] == "No transcript of yours says “zebra”."


@pytest.mark.slow
def test_history_speaks_indonesian_to_an_indonesian_user(tmp_path):
    done = run_cli("chat", "--json", "--language", "id", cwd=tmp_path, stdin="/history\n/search\n", timeout=240)
    texts = [json.loads(line)["text"] for line in done.stdout.splitlines()]
    assert "Belum ada yang disimpan: transkrip Anda disimpan di sini selama 30 hari." in texts
    assert "Tulis yang Anda cari: /search KATA" in texts


def test_stats_count_audio_languages_and_providers_of_the_users_own(store_target):
    history = History(store_target, wall=Wall())
    history.add(1, "a", Transcript("halo", "id", 60.0, "groq", ()))
    history.add(1, "b", Transcript("hello", "en", 30.0, "groq+local", ()))
    history.add(1, "c", Transcript("lagi", "id", 10.0, "local", ()))
    history.add(2, "d", Transcript("not mine", "fr", 99.0, "deepgram", ()))
    assert history.stats(1) == {"count": 3, "seconds": 100.0, "languages": [("id", 2), ("en", 1)],
                                "providers": [("groq", 2), ("local", 2)]}


def test_markdown_export_opens_each_paragraph_with_its_time():
    from transhades.formats import render

    text = render(Transcript("a b", "en", 70.0, "local", (Segment(0.0, 2.0, "a"), Segment(65.5, 70.0, "b"))), "md")
    assert text == "**[00:00:00]** a\n\n**[00:01:05]** b\n"


@pytest.mark.slow
def test_export_and_stats_through_chat(tmp_path):
    lines = [f"/send {SAMPLES / 'hello-en.ogg'}", "/export srt", "/export md", "/export pdf", "/stats"]
    done = run_cli("chat", "--json", "--out", str(tmp_path / "files"), cwd=tmp_path, stdin="\n".join(lines) + "\n",
                   timeout=240)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    files = {Path(e["file"]).suffix: Path(e["file"]).read_text() for e in events if e["event"] == "document"}
    assert files[".srt"].startswith("1\n00:00:00,000 --> ") and "welcome" in files[".srt"].lower()
    assert files[".md"].startswith("**[00:00:00]** Hello")
    texts = [e["text"] for e in events if e["event"] == "send"]
    assert "Export the latest transcript as a file: /export txt, md, srt or vtt" in texts
    assert texts[-1].startswith("Transcripts kept: 1\nAudio: 9 s\nLanguages: en (1)\nProviders: local (1)")


def test_forgetting_a_user_deletes_their_transcripts_and_settings_and_nobody_elses(store_target):
    from transhades.telegram.settings import UserSettings

    history = History(store_target, wall=Wall())
    history.add(1, "a", said("mine about apples"))
    history.add(2, "b", said("theirs about apples"))
    settings = UserSettings(store_target)
    settings.update(1, language="id")
    assert history.forget(1) == 1 and settings.forget(1) is True and settings.forget(1) is False
    assert history.latest(1) == [] and history.search(1, "apples") == [] and settings.get(1).language is None
    assert [k.job_id for k in history.search(2, "apples")] == ["b"]


@pytest.mark.slow
def test_forget_asks_first_then_deletes_everything_kept(tmp_path):
    lines = ["/language id", f"/send {SAMPLES / 'hello-en.ogg'}", "/forget", "/press Keep it", "/history", "/forget",
             "/press Delete everything", "/history", "/language"]
    done = run_cli("chat", "--json", cwd=tmp_path, stdin="\n".join(lines) + "\n", timeout=240)
    assert done.returncode == 0, done.stderr
    bot = [e for e in map(json.loads, done.stdout.splitlines()) if e["event"] in ("send", "edit")]
    texts = [e["text"] for e in bot]
    ask = next(e for e in bot if e["text"].startswith("Delete everything kept about you"))
    assert ask["buttons"] == ["Delete everything", "Keep it"]
    assert "Nothing was deleted." in texts
    assert any(t.startswith("Your latest transcripts") for t in texts), "kept when the user said keep"
    assert ("Deleted: 1 kept transcript(s) with their search index, 1 cached transcript(s), 1 delivery record(s), "
            "your settings. Nothing about you is kept now.") in texts, "exactly what was erased"
    assert texts[-2] == "Nothing kept yet: your transcripts are kept here for 30 days."
    assert texts[-1].startswith("Which language do you speak? Now: automatic."), "the setting is gone too"


def test_a_user_who_turns_keeping_off_has_nothing_kept_and_the_choice_outlives_forget(store_target):
    from transhades.media import TelegramFile

    history = History(store_target, wall=Wall())
    media = TelegramFile(5, 77, "fid-1", "uniq-1", 1234, "voice", "audio/ogg", 3.0, None)
    assert history.add(1, "a", said("kept with its media"), media) is True
    kept = history.get(1, "a")
    assert kept.media == media and history.get(1, "").job_id == "a", "an empty id is the latest"
    history.keep_for(1, False)
    assert not history.keeping(1) and history.keeping(2)
    assert history.add(1, "b", said("not kept")) is False
    assert [k.job_id for k in history.latest(1)] == ["a"] and history.search(1, "kept") != []
    assert history.forget(1) == 1 and history.get(1, "a") is None
    assert not history.keeping(1), "forgetting everything does not turn keeping back on"
    history.keep_for(1, True)
    assert history.add(1, "c", said("kept again")) and history.get(1, "c").media is None
    assert History(store_target, keep_days=0, wall=Wall()).keeping(2) is False


@pytest.mark.slow
def test_every_history_command_in_indonesian_with_a_real_recording(tmp_path):
    lines = [f"/send {SAMPLES / 'halo-id.ogg'}", "/history", "/search pesan", "/export md", "/stats", "/forget",
             "/press Hapus semuanya", "/history"]
    done = run_cli("chat", "--json", "--language", "id", "--out", str(tmp_path / "files"), cwd=tmp_path,
                   stdin="\n".join(lines) + "\n", timeout=240)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    texts = [e["text"] for e in events if e["event"] in ("send", "edit")]
    transcript = next(e for e in events if e["event"] == "send" and "terima kasih" in e["text"].lower())
    assert transcript["buttons"] == ["Terjemahkan", "Ringkasan", "SRT"]
    assert any(t.startswith("Transkrip terakhir Anda (tekan nomornya") for t in texts)
    assert any(t.startswith("Ditemukan (terbaik dulu") and "«pesan»" in t for t in texts)
    (markdown,) = [e for e in events if e["event"] == "document"]
    assert Path(markdown["file"]).read_text().startswith("**[00:00:00]**")
    assert any(t.startswith("Transkrip tersimpan: 1\nAudio: 5 detik") for t in texts)
    assert any(t.startswith("Hapus semua yang disimpan tentang Anda") for t in texts)
    assert ("Dihapus: 1 transkrip tersimpan beserta indeks pencariannya, 1 transkrip di cache, 1 catatan pengiriman. "
            "Tidak ada lagi yang disimpan tentang Anda.") in texts
    assert texts[-1] == "Belum ada yang disimpan: transkrip Anda disimpan di sini selama 30 hari."


def test_a_keeping_time_under_a_day_is_said_in_hours_not_zero_days():
    from transhades.telegram.texts import duration_words, say

    assert say("en", "history_empty", length=duration_words(0.5 * 86400, "en", days=True)) == \
        "Nothing kept yet: your transcripts are kept here for 12.0 h."
    assert duration_words(30 * 86400, "id", days=True) == "30 hari"
    assert duration_words(2.5 * 86400, "en", days=True) == "2.5 days"
