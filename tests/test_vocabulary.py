"""Vocabulary: the names and terms of a chat, read and checked, kept beside the settings and erased from the files,
changed by /vocab (the user in a private chat, admins in a group), given to every job of the chat and to each
provider its own way (OpenAI-compatible: prompt; Deepgram: keyterm or keywords; the local model: hotwords), cached
apart, and never written into a transcript of audio that does not say them."""

from __future__ import annotations

import pytest
from conftest import run_cli, wait_for
from provider_servers import ProviderServer, Reply, deepgram_result, groq_verbose
from pyrogram import enums
from test_telegram import Bot, tone_bytes  # noqa: F401  (the module fixture)
from test_tree import Script

from transhades import config as config_lib
from transhades.cluster.codec import dump_request, load_request
from transhades.dispatch.tasks import task_key
from transhades.media import AudioChunk, TelegramFile
from transhades.messages import JobRequest
from transhades.providers.deepgram import Deepgram
from transhades.providers.openai import OpenAICompatible
from transhades.vocabulary.book import VocabularyBook
from transhades.vocabulary.terms import MOST_TERMS, VocabularyProblem, parse

GROUP = -100777


# ------------------------------------------------------------------------------------------- what a vocabulary is


def test_a_line_of_terms_is_split_tidied_and_each_said_once():
    assert parse("Kemendikbudristek,  Sutrisno   Wibowo; kemendikbudristek\nBRIN") == (
        "Kemendikbudristek", "Sutrisno Wibowo", "BRIN")


@pytest.mark.parametrize("line, key", [
    ("", "vocab_empty"), (" , ; ", "vocab_empty"), ("<b>Budi</b>", "vocab_markup"), ("http://x.example", "vocab_markup"),
    ("@budi", "vocab_markup"), ("Budi, [x](y)", "vocab_markup"), ("Bu\x07di", "vocab_markup"),
    ("K" * 61, "vocab_term_too_long")])
def test_a_bad_term_is_refused_with_its_reason(line, key):
    with pytest.raises(VocabularyProblem) as caught:
        parse(line)
    assert caught.value.key == key


def test_the_configs_vocabulary_is_read_and_its_problems_are_config_lines():
    base = {"providers": [{"name": "l", "kind": "local"}]}
    assert config_lib.parse({**base, "vocabulary": ["Kemendikbudristek", "Sutrisno Wibowo"]}, env={}).vocabulary == \
        ("Kemendikbudristek", "Sutrisno Wibowo")
    assert config_lib.parse({**base, "vocabulary": "BRIN, Bappenas"}, env={}).vocabulary == ("BRIN", "Bappenas")
    with pytest.raises(config_lib.ConfigError) as caught:
        config_lib.parse({**base, "vocabulary": ["<i>x</i>"]}, env={})
    assert str(caught.value) == "vocabulary: '<i>x</i>' looks like markup, a link or a mention; give plain names"
    with pytest.raises(config_lib.ConfigError, match="at most 100"):
        config_lib.parse({**base, "vocabulary": [f"Term{n}" for n in range(MOST_TERMS + 1)]}, env={})


def test_a_chats_vocabulary_is_bounded_and_erased_from_the_files(tmp_path):
    book = VocabularyBook(tmp_path / "users.sqlite3")
    assert book.add(7, 501, ("Kemendikbudristek", "Sutrisno Wibowo")) == ("Kemendikbudristek", "Sutrisno Wibowo")
    assert book.add(7, 502, ("SUTRISNO WIBOWO", "BRIN")) == ("BRIN",), "a term is said once, whatever its case"
    assert book.terms(7) == ("Kemendikbudristek", "Sutrisno Wibowo", "BRIN") and book.terms(8) == ()
    with pytest.raises(VocabularyProblem) as caught:
        book.add(7, 501, tuple(f"Term{n}" for n in range(MOST_TERMS - 2)))
    assert caught.value.key == "vocab_full" and len(book.terms(7)) == 3, "all or nothing"
    assert book.remove(7, ("brin", "Nothing")) == ("brin",) and book.terms(7) == ("Kemendikbudristek",
                                                                                  "Sutrisno Wibowo")
    book.add(501, 501, ("Pak Harjono",))
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"Sutrisno Wibowo" in on_disk and b"Pak Harjono" in on_disk
    assert book.forget(501) == 3, "the user's own chat, and what they added in the group"
    assert book.terms(7) == () and book.terms(501) == ()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"Sutrisno Wibowo" not in on_disk and b"Pak Harjono" not in on_disk, "gone from every file"


def test_a_chats_vocabulary_is_kept_the_same_in_sqlite_and_postgresql(store_target):
    book = VocabularyBook(store_target)
    assert book.add(-100777, 601, ("BRIN", "Bappenas")) == ("BRIN", "Bappenas")
    assert book.add(-100777, 602, ("bappenas", "Pertamina")) == ("Pertamina",)
    assert VocabularyBook(store_target).terms(-100777) == ("BRIN", "Bappenas", "Pertamina"), "kept across opens"
    assert book.remove(-100777, ("PERTAMINA",)) == ("PERTAMINA",) and book.forget(601) == 2
    assert book.terms(-100777) == () and book.clear(-100777) == 0


def test_a_vocabulary_travels_with_the_job_and_its_transcript_is_cached_apart():
    media = TelegramFile(5, 9, "file", "unique", 1000, "voice", "audio/ogg", 3.0, None)
    request = JobRequest("j", "501", media, vocabulary=("Kemendikbudristek", "BRIN"))
    assert load_request(dump_request(request)) == request
    plain = JobRequest("j", "501", media)
    assert load_request(dump_request(plain)).vocabulary == ()
    assert task_key(plain, "sha256:x") == "sha256:x"
    assert task_key(request, "sha256:x") != "sha256:x"
    assert task_key(request, "sha256:x") == task_key(JobRequest("k", "7", media, vocabulary=("brin",
                                                                                             "KEMENDIKBUDRISTEK")),
                                                     "sha256:x"), "the same terms, whatever order and case"


def test_near_misses_are_spelled_as_listed_and_nothing_is_written_where_nothing_like_a_term_was_heard():
    from transhades.transcript import Segment, Transcript
    from transhades.vocabulary.correct import applied, corrected, supported

    terms = ("Kemendikbudristek", "Sutrisno Wibowo", "Tanjung Priok", "BRIN")
    assert corrected("near Tandun Pryok, Harbour. kemendiku Dristak!", terms) == \
        "near Tanjung Priok, Harbour. Kemendikbudristek!"
    for ordinary in ("The weather was nice and we went to the market.", "Kami akan membahas anggaran kantor.",
                     "brain bring brine", "Sutrisno came by train"):
        assert corrected(ordinary, terms) == ordinary, "no term where nothing close to it was said"
    heard = Transcript("Sutri Snowy Bowo datang.", "id", 3.0, "x", (Segment(0.0, 3.0, "Sutri Snowy Bowo datang."),))
    fixed = applied(heard, terms)
    assert fixed.text == "Sutrisno Wibowo datang." and fixed.segments[0].text == "Sutrisno Wibowo datang."
    assert supported("Pak Sutrisno Wibowo dan Tanjung Priok", "pak sutri snowy bowo dan hari senin", terms) == \
        "Pak Sutrisno Wibowo dan", "a listed word the plain decoding heard nothing like is dropped"


# ------------------------------------------------------------------------------------------- each provider its way


@pytest.fixture
def chunk(tmp_path) -> AudioChunk:
    path = tmp_path / "audio.ogg"
    path.write_bytes(b"OggS" + bytes(range(256)) * 40)
    return AudioChunk(0, str(path), 0.0, 9.5, path.stat().st_size, "audio/ogg")


def test_an_openai_compatible_server_gets_the_terms_as_its_prompt(chunk):
    server = ProviderServer([Reply(200, groq_verbose()), Reply(200, groq_verbose())])
    try:
        client = OpenAICompatible("groq", server.url + "/openai/v1", "whisper-large-v3-turbo", "k", sleep=lambda s: None)
        client.transcribe(chunk, "id", vocabulary=("Kemendikbudristek", "Sutrisno Wibowo"))
        client.transcribe(chunk, "id")
        assert server.received[0].fields["prompt"] == ["Kemendikbudristek, Sutrisno Wibowo"]
        assert "prompt" not in server.received[1].fields, "no vocabulary, no prompt"
    finally:
        server.close()


def test_deepgram_gets_keyterms_on_nova_3_and_single_keywords_on_older_models(chunk):
    server = ProviderServer([Reply(200, deepgram_result()) for _ in range(3)])
    try:
        client = Deepgram("deepgram", server.url + "/v1", "nova-3", "dg-key", sleep=lambda s: None)
        client.transcribe(chunk, "id", vocabulary=("Kemendikbudristek", "Sutrisno Wibowo"))
        client.transcribe(chunk, "id", model="nova-2", vocabulary=("Kemendikbudristek", "Sutrisno Wibowo"))
        client.transcribe(chunk, "id")
        first, second, third = (r.query for r in server.received)
        assert first["keyterm"] == ["Kemendikbudristek", "Sutrisno Wibowo"] and "keywords" not in first
        assert second["keywords"] == ["Kemendikbudristek", "Sutrisno", "Wibowo"] and "keyterm" not in second
        assert "keyterm" not in third and "keywords" not in third
    finally:
        server.close()


# ------------------------------------------------------------------------------------------- through the bot


def test_vocab_in_a_private_chat_reaches_every_job_and_forget_erases_it(tmp_path, tone_bytes):
    script = Script()
    b = Bot(tmp_path, script)
    try:
        b.send(b.world.text_message(b.user, "/vocab"))
        b.wait_text("This chat has no vocabulary")
        b.send(b.world.text_message(b.user, "/vocab add Kemendikbudristek, Sutrisno Wibowo"))
        b.wait_text("Added: Kemendikbudristek, Sutrisno Wibowo. This chat's vocabulary has 2 terms")
        script.text_override = "Rapat dengan kemendiku Dristak dipimpin Sutri Snowy Bowo hari Senin."  # as heard
        b.voice(tone_bytes)
        wait_for(lambda: any("Rapat dengan Kemendikbudristek dipimpin Sutrisno Wibowo hari Senin." in (s.text or "")
                             for s in b.world.sent), timeout=20, what="the transcript, its names spelled as listed")
        assert script.vocabularies[-1] == ("Kemendikbudristek", "Sutrisno Wibowo")
        script.text_override = None
        b.send(b.world.text_message(b.user, "/vocab remove Sutrisno Wibowo"))
        b.wait_text("Removed: Sutrisno Wibowo.")
        b.send(b.world.text_message(b.user, "/vocab"))
        b.wait_text("This chat's vocabulary (1): Kemendikbudristek")
        b.send(b.world.text_message(b.user, "/forget"))
        ask = wait_for(lambda: next((s for s in reversed(b.world.sent) if s.buttons
                                     and s.buttons[0][0][1].startswith("forget:yes")), None), what="the question")
        b.send(b.world.callback(b.user, ask.buttons[0][0][1], ask.message_id))
        answer = wait_for(lambda: next((s.text for s in b.world.sent if s.kind == "edit" and
                                        s.message_id == ask.message_id), None), what="the answer to /forget")
        assert "1 vocabulary terms you added" in answer, answer
        b.send(b.world.text_message(b.user, "/vocab"))
        wait_for(lambda: sum("This chat has no vocabulary" in t for t in b.texts()) == 2,
                 what="the list empty after /forget")
    finally:
        b.stop()


@pytest.mark.parametrize("lang, line, answer", [
    ("en", "/vocab add", "Give the names or terms, separated by commas"),
    ("en", "/vocab add <b>Budi</b>", "looks like markup, a link or a mention"),
    ("en", "/vocab add " + "K" * 70, "is longer than 60 characters"),
    ("en", "/vocab remove Nobody", "None of those is in this chat's vocabulary"),
    ("en", "/vocab sort", "Use /vocab add"),
    ("id", "/vocab add", "Tulis nama atau istilahnya"),
    ("id", "/vocab add https://x.example", "tampak seperti markup"),
    ("id", "/vocab tambah " + ", ".join(f"Istilah{n}" for n in range(101)), "lebih dari 100 istilah"),
])
def test_every_bad_vocab_command_gets_one_sentence_in_the_users_language(tmp_path, lang, line, answer):
    b = Bot(tmp_path, Script())
    try:
        user = b.world.user(501, lang)
        b.send(b.world.text_message(user, line))
        told = b.wait_text(answer)
        assert "\n" not in told and "Traceback" not in told
        assert b.tree.status(), "the tree runs on"
    finally:
        b.stop()


def test_in_a_group_only_admins_change_the_vocabulary_and_every_members_recording_gets_it(tmp_path, tone_bytes):
    script = Script()
    b = Bot(tmp_path, script)
    group = b.world.chat(GROUP, enums.ChatType.SUPERGROUP, title="Rapat")
    admin, member = b.world.user(601, "id", "Sari"), b.world.user(602, "en", "Budi")
    b.world.join(group, admin, "administrator")
    b.world.join(group, member, "member")
    try:
        b.send(b.world.text_message(member, "/vocab add BRIN", chat=group))
        b.wait_text("Only the group's admins can change its vocabulary", chat_id=GROUP)
        b.send(b.world.text_message(admin, "/vocab tambah BRIN, Bappenas", chat=group))
        b.wait_text("Ditambahkan: BRIN, Bappenas", chat_id=GROUP)
        b.send(b.world.text_message(member, "/vocab", chat=group))
        b.wait_text("This chat's vocabulary (2): BRIN, Bappenas", chat_id=GROUP)
        note = b.world.media_message(member, tone_bytes, chat=group)
        b.send(note)
        b.send(b.world.text_message(member, "/transcribe", chat=group, reply_to=note))
        b.wait_text("by alpha", chat_id=GROUP)
        assert script.vocabularies[-1] == ("BRIN", "Bappenas")
        b.voice(tone_bytes, user=member)  # the member's private chat has no vocabulary of its own
        b.wait_text("by alpha", chat_id=member.id)
        assert script.vocabularies[-1] == ()
    finally:
        b.stop()


# ------------------------------------------------------------------------------------------- the command line


def test_transcribe_vocab_refuses_a_bad_list_in_one_line(tmp_path):
    done = run_cli("transcribe", "--vocab", "<b>x</b>", "missing.ogg", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: argument --vocab: \u201c<b>x</b>\u201d looks like markup, a link or a mention; give plain names and terms. "
        "(see transhades transcribe --help)"]


# ------------------------------------------------------------------------------------------- the local model


@pytest.mark.slow
def test_the_local_model_writes_listed_names_only_where_they_were_said(tmp_path):
    import shutil
    import subprocess

    from transhades.devtools.bench import BENCH_MODELS
    from transhades.devtools.vocab_set import vocabulary
    from transhades.providers.local import LocalWhisper

    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); .ci/run installs it")
    terms = vocabulary()
    local = LocalWhisper("local", "base", BENCH_MODELS / "models")

    def heard(text: str, lang: str = "en", vocab: tuple[str, ...] = terms) -> str:
        path = tmp_path / f"{abs(hash(text))}.wav"
        if text:
            subprocess.run(["espeak-ng", "-v", lang, "-s", "140", "-w", str(path), text], check=True)
        else:
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "8",
                            str(path)], check=True)
        chunk = AudioChunk(0, str(path), 0.0, 5.0, path.stat().st_size, "audio/wav")
        return local.transcribe(chunk, lang, vocabulary=vocab).text

    listed = {word.casefold() for term in terms for word in term.split() if len(word) >= 4}
    for lang, text in (("en", ""), ("en", "Please send me the minutes of the meeting before Friday."),
                       ("id", "Kami akan membahas anggaran kantor untuk bulan depan bersama semua pegawai.")):
        out = heard(text, lang)
        assert not {w.strip(".,!?").casefold() for w in out.split()} & listed, (text, out)
    sentence = "Please ask Pak Wicaksono about the Pertamina contract in Balikpapan."
    said = heard(sentence)
    assert "Wicaksono" in said and "Pertamina" in said, said
    plain = heard(sentence, vocab=())
    assert "Wicaksono" not in plain and "Pertamina" not in plain, "the vocabulary made the difference"


def test_transcribe_vocab_refuses_more_than_a_hundred_terms_in_one_line(tmp_path):
    done = run_cli("transcribe", "--vocab", ", ".join(f"Term{n}" for n in range(101)), "missing.ogg", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: argument --vocab: 101 terms; give at most 100 (see transhades transcribe --help)"]


def test_whispers_translation_of_a_kept_recording_carries_the_chats_vocabulary(tmp_path):
    """/translate en without a language model is a new job on the kept recording (Whisper's translation): the
    chat's names are spelled as listed there too."""
    from transhades.media import TelegramFile
    from transhades.telegram.actions import StartJob
    from transhades.telegram.followups import Followups, Where
    from transhades.telegram.history import History
    from transhades.telegram.outbox import Outbox
    from transhades.transcript import Transcript

    history = History(tmp_path / "history.sqlite3")
    media = TelegramFile(7, 40, "file-id", "unique-id", 1000, "voice", "audio/ogg", 4.0)
    history.add(501, "j1", Transcript("Saya bekerja di Tokopedia.", "id", 4.0, "local"), media)
    followups = Followups(history, Outbox(), local=True, llm=0)
    followups.vocabulary = {7: ("Tokopedia", "Sutrisno Wibowo")}.get
    started = followups.translate(Where(7, 501, None, "id", "m1"), "en")
    assert len(started) == 1 and isinstance(started[0], StartJob)
    request = started[0].request
    assert (request.task, request.vocabulary) == ("translate", ("Tokopedia", "Sutrisno Wibowo"))
    followups.vocabulary = lambda chat_id: ()
    assert followups.translate(Where(7, 501, None, "id", "m2"), "en")[0].request.vocabulary == ()
