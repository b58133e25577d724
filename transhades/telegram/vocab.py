"""``/vocab``: the names and terms of a chat (``transhades.vocabulary``), given to the transcription of every new
recording in it.

- ``/vocab`` (or ``/vocab list``): the chat's terms, and the config's for every chat;
- ``/vocab add Kemendikbudristek, Sutrisno Wibowo``; ``/vocab remove Sutrisno Wibowo``; ``/vocab clear``:
  the user in a private chat, admins in a group (when Telegram cannot say who is an admin, nothing changes and the
  user is told to try again).
Every refusal is one sentence in the user's language."""

from __future__ import annotations

from collections.abc import Callable

from pyrogram import types

from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.texts import say
from transhades.vocabulary.book import VocabularyBook
from transhades.vocabulary.terms import VocabularyProblem, merged, parse

ADD, REMOVE, CLEAR, LIST = ("add", "tambah"), ("remove", "hapus", "rm"), ("clear", "kosongkan"), ("list", "daftar", "")
SHOWN_CHARS = 3500  # a listing stays one Telegram message


class Vocab:
    def __init__(self, book: VocabularyBook, outbox: Outbox, is_admin: Callable[[types.Message], bool | None],
                 configured: tuple[str, ...] = ()) -> None:
        self.book = book
        self.outbox = outbox
        self.is_admin = is_admin  # in a group; a private chat is its user's own
        self.configured = configured  # config ``vocabulary``: every chat's

    def terms(self, chat_id: int) -> tuple[str, ...]:
        """What a new job in this chat is given: the chat's terms, then the config's."""
        return merged(self.book.terms(chat_id), self.configured)

    def command(self, message: types.Message, arg: str, lang: str, private: bool) -> None:
        word, _, rest = arg.strip().partition(" ")
        word = word.lower()
        if word in LIST:
            self._reply(message, self._listing(message.chat.id, lang))
            return
        if word not in ADD + REMOVE + CLEAR:
            self._reply(message, say(lang, "vocab_usage"))
            return
        if not private:
            admin = self.is_admin(message)
            if not admin:
                self._reply(message, say(lang, "vocab_admins_only" if admin is False else "admin_check_failed"))
                return
        if word in CLEAR:
            count = self.book.clear(message.chat.id)
            self._reply(message, say(lang, "vocab_cleared", count=count))
            return
        try:
            terms = parse(rest)
            self._reply(message, self._add(message, terms, lang) if word in ADD else self._remove(message, terms, lang))
        except VocabularyProblem as problem:
            self._reply(message, say(lang, problem.key, **problem.values))

    def _add(self, message: types.Message, terms: tuple[str, ...], lang: str) -> str:
        added = self.book.add(message.chat.id, message.from_user.id, terms)
        if not added:
            return say(lang, "vocab_nothing_new")
        return say(lang, "vocab_added", terms=_shown(added), count=len(self.book.terms(message.chat.id)))

    def _remove(self, message: types.Message, terms: tuple[str, ...], lang: str) -> str:
        gone = self.book.remove(message.chat.id, terms)
        return say(lang, "vocab_removed", terms=_shown(gone)) if gone else say(lang, "vocab_not_there")

    def _listing(self, chat_id: int, lang: str) -> str:
        own = self.book.terms(chat_id)
        text = say(lang, "vocab_list", count=len(own), terms=_shown(own)) if own else say(lang, "vocab_list_none")
        if self.configured:
            text += "\n" + say(lang, "vocab_configured", terms=_shown(self.configured))
        return text

    def _reply(self, message: types.Message, text: str) -> None:
        self.outbox.put(Outgoing("text", message.chat.id, text, reply_to=message.id))


def _shown(terms: tuple[str, ...]) -> str:
    """The terms, comma-separated, cut short (with how many more) to stay one message."""
    out: list[str] = []
    size = 0
    for term in terms:
        if size + len(term) + 2 > SHOWN_CHARS:
            return ", ".join(out) + f" … (+{len(terms) - len(out)})"
        out.append(term)
        size += len(term) + 2
    return ", ".join(out)
