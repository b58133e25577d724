"""Speakers by name: a transcript's "Speaker 2" renamed "Budi" by the user who sent the recording, and, in a chat
that chose to remember voices, Budi's voice known again in later recordings of that chat.

A voiceprint is biometric data, so it is opt-in per chat (``/speakers remember on``: the user in a private chat,
admins in a group), kept only for the chat where it was named and never compared with another chat's recordings,
listed by ``/speakers``, and erased by ``/speakers forget NAME``, by ``/speakers remember off`` (the whole chat's), by
/forget of the user who named it, and after ``history.keep_days`` without use. The voices of a recording (one unit
vector per speaker, from the diarizer) are kept only in a chat that remembers, only so that naming a speaker later
can make a voiceprint of it, and go with the transcript's history (the same ``keep_days``, the same /forget).

A name is given to a found voice only when it is clearly that voice: at least ``SAME_VOICE`` alike, ``MARGIN`` more
alike than to any other name of the chat, and that name more alike to it than to any other voice of the recording;
each name to one voice at most. A wrong name is worse than "Speaker 2". The threshold was chosen on the real-voice
dialogues (``transhades/devtools/voices.py``: named in a dialogue of every other clip, looked for in one of the
others, and in chats that know only voices absent from the recording), where a lower one named strangers; the
``speakers-named`` benchmark reports the turns named right and wrong.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from transhades.sql import Database
from transhades.transcript import Transcript

SAME_VOICE = 0.97  # cosine of two recordings' mean embeddings of one voice: 0.96-0.99; of two voices, up to 0.97
MARGIN = 0.02
MOST_NAME_CHARS = 40
MOST_NAMES = 50  # voiceprints per chat
Voices = Sequence[tuple[str, Sequence[float]]]  # (speaker "1", "2"…, its unit voice vector)


def match(voices: Voices, prints: Mapping[str, Sequence[float]]) -> dict[str, str]:
    """Which of the recording's speakers are which named voices of the chat (speaker -> name); see the module."""
    if not voices or not prints:
        return {}
    found = {speaker: _unit(vector) for speaker, vector in voices}
    known = {name: _unit(vector) for name, vector in prints.items()}
    named: dict[str, str] = {}
    for _, speaker, name in sorted(_likely(found, known), reverse=True):
        if speaker not in named and name not in named.values():
            named[speaker] = name
    return named


def _likely(found: dict[str, np.ndarray], known: dict[str, np.ndarray]) -> list[tuple[float, str, str]]:
    """(similarity, speaker, name) for every pair clear enough to name: alike, and by a margin over the rest."""
    likely = []
    for speaker, vector in found.items():
        alike = {name: float(vector @ print_) for name, print_ in known.items()}
        for name, score in alike.items():
            other_names = max((s for n, s in alike.items() if n != name), default=-1.0)
            other_voices = max((float(v @ known[name]) for s, v in found.items() if s != speaker), default=-1.0)
            if score >= SAME_VOICE and score - other_names >= MARGIN and score - other_voices >= MARGIN:
                likely.append((score, speaker, name))
    return likely


def _unit(vector: Sequence[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64)
    return array / max(float(np.linalg.norm(array)), 1e-12)


def speakers_of(transcript: Transcript) -> list[str]:
    """The transcript's speakers in the order they first speak: number ``n`` (from 1) is the ``n``-th of them,
    named or not."""
    return list(dict.fromkeys(s.speaker for s in transcript.segments if s.speaker))


def renamed(transcript: Transcript, names: Mapping[str, str]) -> Transcript:
    """Speakers given names (old label -> new); the words stay as they are."""
    if not names:
        return transcript
    return replace(transcript, segments=tuple(replace(s, speaker=names.get(s.speaker, s.speaker))
                                              if s.speaker else s for s in transcript.segments))


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a speaker's name (a text key), or None. Plain words only: letters, digits, spaces and
    . ' - (a name shows in plain text, SRT and VTT alike, where markup would be read as markup)."""
    if not name:
        return "speakers_name_empty"
    if len(name) > MOST_NAME_CHARS:
        return "speakers_name_long"
    if name.isdigit():
        return "speakers_name_number"
    if any(not (unicodedata.category(c)[0] in "LNM" or c in " .'-") for c in name):
        return "speakers_name_chars"
    return None


def clean_name(name: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", name)).strip()


class VoiceBook:
    """The voiceprints of chats that remember voices, and the voices heard in their recordings."""

    def __init__(self, target: Path | str | Database, keep_days: float = 30.0,
                 wall: Callable[[], float] = time.time) -> None:
        self._db = target if isinstance(target, Database) else Database(target)
        self.keep_seconds = keep_days * 86400
        self.wall = wall
        self._db.script([
            "CREATE TABLE IF NOT EXISTS voices_remembered (chat_id BIGINT PRIMARY KEY)",
            "CREATE TABLE IF NOT EXISTS voiceprints (chat_id BIGINT NOT NULL, name TEXT NOT NULL, "
            "vector TEXT NOT NULL, named_by BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL, "
            "PRIMARY KEY (chat_id, name))",
            "CREATE TABLE IF NOT EXISTS voices_heard (job_id TEXT NOT NULL, speaker TEXT NOT NULL, "
            "chat_id BIGINT NOT NULL, user_id BIGINT NOT NULL, vector TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, "
            "PRIMARY KEY (job_id, speaker))",
        ])

    def remembering(self, chat_id: int) -> bool:
        return self.keep_seconds > 0 and bool(
            self._db.rows("SELECT 1 FROM voices_remembered WHERE chat_id = ?", (chat_id,)))

    def remember(self, chat_id: int, on: bool) -> int:
        """Turn remembering on or off for a chat; off erases its voiceprints and heard voices (how many prints)."""
        if on:
            self._db.run("INSERT INTO voices_remembered (chat_id) VALUES (?) ON CONFLICT DO NOTHING", (chat_id,))
            return 0
        with self._db.transaction() as db:
            db.run("DELETE FROM voices_remembered WHERE chat_id = ?", (chat_id,))
            erased = db.run("DELETE FROM voiceprints WHERE chat_id = ?", (chat_id,))
            db.run("DELETE FROM voices_heard WHERE chat_id = ?", (chat_id,))
        self._db.scrub(("voiceprints", "voices_heard"))
        return erased

    def prints(self, chat_id: int) -> dict[str, list[float]]:
        if not self.remembering(chat_id):
            return {}
        rows = self._db.rows("SELECT name, vector FROM voiceprints WHERE chat_id = ? AND at >= ?",
                             (chat_id, self._since()))
        return {name: json.loads(vector) for name, vector in rows}

    def names(self, chat_id: int) -> list[str]:
        return sorted(self.prints(chat_id), key=str.casefold)

    def heard(self, job_id: str, chat_id: int, user_id: int, voices: Voices) -> None:
        """A recording's voices, in a chat that remembers: so that naming one of them later makes its print."""
        if not voices or not self.remembering(chat_id):
            return
        self._db.many("INSERT INTO voices_heard (job_id, speaker, chat_id, user_id, vector, at) "
                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      [(job_id, speaker, chat_id, user_id, _dump(vector), self.wall()) for speaker, vector in voices])

    def used(self, chat_id: int, names: Sequence[str]) -> None:
        """These prints named a voice again: they count from now for ``keep_days``."""
        self._db.many("UPDATE voiceprints SET at = ? WHERE chat_id = ? AND name = ?",
                      [(self.wall(), chat_id, name) for name in names])

    def name(self, chat_id: int, job_id: str, speaker: str, name: str, user_id: int) -> bool:
        """The voice of ``speaker`` in that recording becomes (or joins) ``name``'s print in the chat; False when the
        chat does not remember voices or the recording's voices were not kept."""
        if not self.remembering(chat_id):
            return False
        rows = self._db.rows("SELECT vector FROM voices_heard WHERE job_id = ? AND speaker = ? AND chat_id = ?",
                             (job_id, speaker, chat_id))
        if not rows:
            return False
        vector = _unit(json.loads(rows[0][0]))
        old = self._db.rows("SELECT vector FROM voiceprints WHERE chat_id = ? AND name = ?", (chat_id, name))
        if old:  # one more recording of the same voice: the print is their mean
            vector = _unit(_unit(json.loads(old[0][0])) + vector)
        elif len(self.prints(chat_id)) >= MOST_NAMES:
            return False
        self._db.run("INSERT INTO voiceprints (chat_id, name, vector, named_by, at) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (chat_id, name) DO UPDATE SET vector = excluded.vector, "
                     "named_by = excluded.named_by, at = excluded.at",
                     (chat_id, name, _dump(vector), user_id, self.wall()))
        return True

    def named_by(self, chat_id: int, name: str) -> int | None:
        """Who last named that voice in the chat."""
        rows = self._db.rows("SELECT named_by FROM voiceprints WHERE chat_id = ? AND lower(name) = lower(?)",
                             (chat_id, name))
        return int(rows[0][0]) if rows else None

    def forget_name(self, chat_id: int, name: str) -> bool:
        erased = self._db.run("DELETE FROM voiceprints WHERE chat_id = ? AND lower(name) = lower(?)",
                              (chat_id, name)) > 0
        if erased:
            self._db.scrub(("voiceprints",))
        return erased

    def forget_user(self, user_id: int) -> int:
        """/forget: the prints this user named and the voices heard in their recordings; how many prints."""
        with self._db.transaction() as db:
            erased = db.run("DELETE FROM voiceprints WHERE named_by = ?", (user_id,))
            heard = db.run("DELETE FROM voices_heard WHERE user_id = ?", (user_id,))
        if erased or heard:
            self._db.scrub(("voiceprints", "voices_heard"))
        return erased

    def prune(self) -> int:
        """Prints unused and voices heard longer ago than ``keep_days``, erased (run with the history's pruning)."""
        if self.keep_seconds <= 0:
            return 0
        with self._db.transaction() as db:
            erased = db.run("DELETE FROM voiceprints WHERE at < ?", (self._since(),))
            heard = db.run("DELETE FROM voices_heard WHERE at < ?", (self._since(),))
        if erased or heard:
            self._db.scrub(("voiceprints", "voices_heard"))
        return erased

    def _since(self) -> float:
        return self.wall() - self.keep_seconds

    def close(self) -> None:
        self._db.close()


def _dump(vector: Sequence[float] | np.ndarray) -> str:
    return json.dumps([round(float(x), 5) for x in vector])
