"""Speakers by name: /speakers name N NAME on a transcript (its message, exports and history follow), voices
remembered per chat when the chat chose it, erased every way the README says, and every bad input answered in the
user's language. The bot runs on the fake Telegram; the last test runs the local model and the diarizer on dialogues
of real recorded voices."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import wait_for
from pyrogram import enums
from test_telegram import Bot, tone_bytes  # noqa: F401  (the module fixture)
from test_tree import Script

from transhades.speakers.names import MARGIN, SAME_VOICE, VoiceBook, match, name_problem
from transhades.transcript import Segment

GROUP = -100888
TWO_SPEAKERS = (Segment(0.0, 2.0, "Selamat pagi semuanya.", speaker="1"),
                Segment(2.5, 4.0, "Pagi, Bu.", speaker="2"),
                Segment(4.5, 6.0, "Kita mulai rapatnya.", speaker="1"))


def unit(*values: float) -> list[float]:
    vector = np.zeros(256)
    vector[:len(values)] = values
    return list(vector / np.linalg.norm(vector))


def test_a_voice_is_named_only_when_it_is_clearly_that_voice_and_each_name_names_one_voice():
    budi, sari = unit(1, 0.1), unit(0.1, 1)
    near_budi = unit(1, 0.12)  # budi in another recording: alike far beyond SAME_VOICE
    assert float(np.dot(near_budi, budi)) > SAME_VOICE + MARGIN
    assert match([("1", near_budi), ("2", unit(0.1, 1.05))], {"Budi": budi, "Sari": sari}) == {"1": "Budi", "2": "Sari"}
    assert match([("1", unit(1, 1))], {"Budi": budi}) == {}, "a stranger between two known voices is nobody"
    assert match([("1", near_budi), ("2", unit(1, 0.13))], {"Budi": budi}) == {}, \
        "two voices both like Budi: neither is named (a wrong name is worse than a number)"
    assert match([("1", near_budi)], {}) == {} and match([], {"Budi": budi}) == {}


@pytest.mark.parametrize("name, problem", [
    ("", "speakers_name_empty"), ("B" * 200, "speakers_name_long"), ("2", "speakers_name_number"),
    ("<b>Budi</b>", "speakers_name_chars"), ("*Budi*", "speakers_name_chars"), ("[Budi](http://x)", "speakers_name_chars"),
    ("Sri Mulyani", None), ("O'Neil", None), ("Dr. Budi-Santoso", None), ("Ния", None)])
def test_a_name_is_plain_words_of_at_most_forty_characters(name, problem):
    assert name_problem(name) == problem


def on_disk(folder) -> bytes:
    """Every byte of every file in the folder (the database, its WAL and journal)."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def test_voiceprints_stay_in_their_chat_and_are_gone_from_the_file_when_erased(tmp_path):
    clock = [1000.0]
    path = tmp_path / "users.sqlite3"
    book = VoiceBook(path, keep_days=1, wall=lambda: clock[0])
    budi = unit(1, 0.1)
    book.heard("job-1", 7, 501, [("1", budi)])
    assert not book.name(7, "job-1", "1", "Budi", 501), "the chat does not remember voices: nothing was heard"
    book.remember(7, True)
    book.heard("job-1", 7, 501, [("1", budi), ("2", unit(0.1, 1))])
    assert book.name(7, "job-1", "1", "Budi", 501)
    assert book.names(7) == ["Budi"] and book.prints(8) == {}, "another chat never sees this chat's voices"
    assert book.named_by(7, "budi") == 501
    marker = json.dumps([round(x, 5) for x in budi])[:40]
    assert marker.encode() in on_disk(tmp_path)
    assert book.remember(7, False) == 1 and book.names(7) == []
    assert marker.encode() not in on_disk(tmp_path), "erased means gone from every file, not only the table"

    book.remember(7, True)
    book.heard("job-2", 7, 501, [("1", budi)])
    book.name(7, "job-2", "1", "Budi", 501)
    assert book.forget_user(501) == 1 and book.names(7) == [], "/forget of the user who named it"
    book.heard("job-3", 7, 502, [("1", budi)])
    book.name(7, "job-3", "1", "Budi", 502)
    assert book.forget_name(7, "BUDI") and book.names(7) == []
    book.heard("job-4", 7, 502, [("1", budi)])
    book.name(7, "job-4", "1", "Budi", 502)
    clock[0] += 2 * 86400
    assert book.prints(7) == {}, "unused for longer than keep_days: no longer used"
    assert book.prune() == 1 and marker.encode() not in on_disk(tmp_path)


# ------------------------------------------------------------------------------------------- through the bot


def named_bot(tmp_path, **kw) -> Bot:
    script = Script()
    script.segments_override = TWO_SPEAKERS  # the provider tells the speakers apart (as Deepgram does)
    b = Bot(tmp_path, script, **kw)
    b.world.user(501, "en")
    return b


def transcript_of(b: Bot, chat_id: int):
    sent = wait_for(lambda: next((s for s in b.world.sent if s.chat_id == chat_id and s.kind == "text"
                                  and s.text.startswith("Speaker 1:") or s.chat_id == chat_id and
                                  s.text.startswith("Pembicara 1:")), None), timeout=30, what="the transcript")
    return sent


def test_a_user_names_a_speaker_and_the_message_the_export_and_the_history_say_the_name(tmp_path, tone_bytes):
    b = named_bot(tmp_path)
    try:
        b.send(b.world.text_message(b.user, "/speakers on"))
        b.wait_text("Who said what: on")
        b.voice(tone_bytes)
        sent = transcript_of(b, b.user.id)
        assert sent.text.splitlines()[1].startswith("Speaker 2: Pagi, Bu.")
        b.send(b.world.text_message(b.user, "/speakers name 2 Bu Sari", reply_to=b.world.bot_message(sent)))
        told = b.wait_text("is Bu Sari now")
        assert "remember on" in told, "the chat does not remember voices: the user is told how it could"
        edited = wait_for(lambda: next((s for s in b.world.sent if s.kind == "edit" and s.message_id == sent.message_id),
                                       None), what="the transcript edited")
        assert edited.text.splitlines() == ["Speaker 1: Selamat pagi semuanya.", "Bu Sari: Pagi, Bu.",
                                            "Speaker 1: Kita mulai rapatnya."]
        b.send(b.world.text_message(b.user, "/export vtt"))
        document = wait_for(lambda: next((s for s in b.world.sent if s.kind == "document"
                                          and s.file_name and s.file_name.endswith(".vtt")), None), what="the export")
        assert b"<v Bu Sari>Pagi, Bu." in document.data and b"<v Speaker 1>" in document.data
        b.send(b.world.text_message(b.user, "/speakers name 1 Pak Budi"))  # no reply: the latest transcript
        b.wait_text("Speaker 1 is Pak Budi now")
        b.send(b.world.text_message(b.user, "/export txt"))
        text = wait_for(lambda: next((s for s in b.world.sent if s.kind == "document" and s.file_name
                                      and s.file_name.endswith(".txt")), None), what="the text export")
        assert text.data.decode().splitlines() == ["Pak Budi: Selamat pagi semuanya.", "Bu Sari: Pagi, Bu.",
                                                   "Pak Budi: Kita mulai rapatnya."]
    finally:
        b.stop()


@pytest.mark.parametrize("lang, command, answer", [
    ("en", "/speakers name", "reply to the transcript with /speakers name NUMBER NAME"),
    ("en", "/speakers name 2", "Give the speaker a name after the number"),
    ("en", "/speakers name 2 " + "B" * 200, "longer than 40 characters"),
    ("en", "/speakers name 2 <b>Sari</b>", "letters, digits, spaces and . ' - only"),
    ("en", "/speakers name 5 Sari", "has 2 speakers; choose a number from 1 to 2"),
    ("en", "/speakers name 1 sari", "already names another speaker"),
    ("id", "/speakers name 2 *Sari*", "hanya boleh berisi huruf"),
    ("id", "/speakers name 9 Sari", "punya 2 pembicara"),
    ("en", "/speakers forget Nobody", "has no voiceprint named Nobody"),
    ("en", "/speakers remember maybe", "Remembering voices is off in this chat"),
])
def test_every_bad_naming_gets_one_clear_sentence_in_the_users_language(tmp_path, tone_bytes, lang, command, answer):
    b = named_bot(tmp_path)
    try:
        user = b.world.user(501, lang)
        b.send(b.world.text_message(user, "/speakers on"))
        b.voice(tone_bytes, user=user)
        transcript_of(b, user.id)
        if command.endswith("1 sari"):
            b.send(b.world.text_message(user, "/speakers name 2 Sari"))
            b.wait_text("Sari")
        b.send(b.world.text_message(user, command))
        told = b.wait_text(answer)
        assert "\n" not in told and "Traceback" not in told
        assert b.tree.status(), "the tree runs on"
    finally:
        b.stop()


def test_a_transcript_without_speakers_or_none_kept_has_nobody_to_name(tmp_path, tone_bytes):
    b = Bot(tmp_path, Script())
    try:
        b.send(b.world.text_message(b.user, "/speakers name 1 Budi"))
        b.wait_text("No transcript of yours is kept")
        b.voice(tone_bytes)
        b.wait_text("by alpha")
        b.send(b.world.text_message(b.user, "/speakers name 1 Budi"))
        b.wait_text("has no speakers told apart")
    finally:
        b.stop()


def test_in_a_group_only_admins_turn_remembering_on_and_nobody_names_another_users_transcript(tmp_path, tone_bytes):
    b = named_bot(tmp_path, )
    group = b.world.chat(GROUP, enums.ChatType.SUPERGROUP, title="Rapat")
    admin, member = b.world.user(601, "en", "Sari"), b.world.user(602, "en", "Budi")
    b.world.join(group, admin, "administrator")
    b.world.join(group, member, "member")
    try:
        b.send(b.world.text_message(member, "/speakers remember on", chat=group))
        b.wait_text("Only this chat's admins can turn remembering voices", chat_id=GROUP)
        b.send(b.world.text_message(admin, "/speakers remember on", chat=group))
        b.wait_text("This chat now remembers the voices you name", chat_id=GROUP)
        b.send(b.world.text_message(admin, "/speakers on", chat=group))
        note = b.world.media_message(member, tone_bytes, chat=group)
        b.send(note)
        b.send(b.world.text_message(member, "/transcribe", chat=group, reply_to=note))
        sent = transcript_of(b, GROUP)
        b.send(b.world.text_message(admin, "/speakers name 2 Sari", chat=group, reply_to=b.world.bot_message(sent)))
        b.wait_text("Only the person who sent that recording can name its speakers", chat_id=GROUP)
        b.send(b.world.text_message(member, "/speakers name 2 Sari", chat=group, reply_to=b.world.bot_message(sent)))
        told = b.wait_text("Speaker 2 is Sari now", chat_id=GROUP)
        assert "remember on" not in told, "the group remembers: no hint to turn it on"
        b.send(b.world.text_message(member, "/speakers", chat=group))
        b.wait_text("This chat knows no voices by name", chat_id=GROUP)  # provider-told speakers bring no voices
    finally:
        b.stop()


# ------------------------------------------------------------------------------------------- real voices, end to end


@pytest.mark.slow
def test_a_named_voice_is_known_again_in_the_next_recording_of_the_chat_and_forgotten_with_its_namer(tmp_path):
    """Two dialogues of the same two recorded people (Carlo and June), from disjoint clips, through the local model
    and the diarizer: named in the first, known in the second; /speakers lists it; /forget erases it."""
    from dataclasses import replace

    from test_speakers import local_bot, opus

    from transhades.devtools import voices

    if voices.missing():
        pytest.skip(voices.missing())
    spec = next(s for s in voices.SET if s.voices == ("carlo", "june"))
    notes = []
    for clips, seed in (("even", 11), ("odd", 12)):
        dialogue = voices.build(replace(spec, seconds=35, clips=clips, seed=seed))
        notes.append((opus(tmp_path, clips, dialogue.audio), dialogue))
    tree, world = local_bot(tmp_path, speakers={"mode": "on"})
    try:
        me = world.user(501, "en", "Ayu")

        def transcript(after: int):
            return wait_for(lambda: next((s for s in world.sent[after:] if s.chat_id == 501 and s.kind == "text"
                                          and ":" in s.text.split("\n")[0] and "Speaker" in s.text
                                          or s.chat_id == 501 and s.text.startswith("Carlo:")), None),
                            timeout=180, what=f"a labelled transcript; got {world.texts_to(501)}")

        world.deliver(world.text_message(me, "/speakers remember on"))
        wait_for(lambda: any("remembers the voices" in t for t in world.texts_to(501)), what="remembering on")
        before = len(world.sent)
        world.deliver(world.media_message(me, notes[0][0], duration=35))
        first = transcript(before)
        carlo = 1 if notes[0][1].reference[0][2] == 1 else 2  # Carlo speaks first when the first turn is his
        world.deliver(world.text_message(me, f"/speakers name {carlo} Carlo", reply_to=world.bot_message(first)))
        wait_for(lambda: any("know Carlo's voice" in t for t in world.texts_to(501)), what="Carlo remembered")

        before = len(world.sent)
        world.deliver(world.media_message(me, notes[1][0], duration=35))
        second = transcript(before)
        lines = second.text.splitlines()
        assert any(line.startswith("Carlo:") for line in lines), lines
        assert any(line.startswith("Speaker ") for line in lines), "June was never named: she stays a number"
        world.deliver(world.text_message(me, "/speakers"))
        wait_for(lambda: any("Voices this chat knows: Carlo." in t for t in world.texts_to(501)), what="the list")

        world.deliver(world.text_message(me, "/forget"))
        ask = wait_for(lambda: next((s for s in world.sent if s.chat_id == 501 and s.buttons
                                     and s.buttons[0][0][1].startswith("forget:yes")), None), what="the question")
        world.deliver(world.callback(me, ask.buttons[0][0][1], ask.message_id))
        wait_for(lambda: any("1 voiceprints you named" in t for t in world.texts_to(501)), what="the erasure")
        world.deliver(world.text_message(me, "/speakers"))
        wait_for(lambda: any("This chat knows no voices by name" in t for t in world.texts_to(501)),
                 what="nothing known")
    finally:
        tree.stop()
