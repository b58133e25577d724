"""What outlives a process, in SQLite and in the real PostgreSQL alike: users' settings, Telegram sessions, and a
bot whose machine (and disk) is replaced."""

from __future__ import annotations

import pytest
from conftest import wait_for
from test_telegram import Bot, tone_bytes  # noqa: F401  (the module fixture)
from test_tree import Script

from transhades.redaction import redact
from transhades.telegram.sessions import SessionStore
from transhades.telegram.settings import UserSettings


def test_settings_are_kept_and_changed_per_user(store_target):
    settings = UserSettings(store_target)
    assert settings.get(7).provider is None
    settings.update(7, provider="groq", language="id")
    settings.update(7, format="srt")
    settings.update(-1001234567890, provider="deepgram")  # a group's id needs 64 bits
    again = UserSettings(store_target)
    assert (again.get(7).provider, again.get(7).language, again.get(7).format) == ("groq", "id", "srt")
    assert again.get(-1001234567890).provider == "deepgram"


def test_a_session_string_is_kept_replaced_and_never_shown(store_target):
    secret = "BQ" + "s" * 300
    store = SessionStore(store_target)
    assert store.load("API-1") is None
    store.save("API-1", secret)
    store.save("API-1", secret + "2")
    assert SessionStore(store_target).load("API-1") == secret + "2"
    assert secret not in redact(f"session {secret}2 started"), "a session string is a secret"


@pytest.mark.slow
def test_a_bot_on_postgres_moves_to_a_new_machine_and_forgets_nothing(tmp_path, postgres_url, tone_bytes):
    first = Bot(tmp_path / "machine-1", Script(), database_url=postgres_url)
    try:
        first.send(first.world.text_message(first.user, "/language id"))
        first.wait_text("Language: Indonesian (id).")
        first.voice(tone_bytes)
        first.wait_text("by alpha")
    finally:
        first.stop()
    second = Bot(tmp_path / "machine-2", Script(), world=first.world, database_url=postgres_url)  # a fresh disk
    try:
        second.voice(tone_bytes)
        wait_for(lambda: len([t for t in second.texts() if "by alpha" in t]) >= 2, what="the second transcript")
        wait_for(second.tree.quiet, what="the second machine to have nothing left to do")
        assert second.script.languages == ["id"], "the user's language setting moved with the database"
        assert len([t for t in second.texts() if "by alpha" in t]) == 2, "one transcript per note, none again"
    finally:
        second.stop()


def test_a_deposed_fronts_session_write_is_refused_once_a_newer_front_claimed_the_cluster(store_target):
    """Fencing covers session state: a front whose term is older than the journal's fence cannot overwrite the
    session the newer front keeps."""
    from transhades.telegram.journal import Journal

    old, new = SessionStore(store_target), SessionStore(store_target)
    old.term, new.term = (lambda: 1), (lambda: 2)
    assert old.save("API-1", "1BQANOTsessionOLD")
    Journal(store_target, term=lambda: 2).claim(2)
    assert new.save("API-1", "1BQANOTsessionNEW")
    assert not old.save("API-1", "1BQANOTsessionOLD2")
    assert SessionStore(store_target).load("API-1") == "1BQANOTsessionNEW"
