"""The send/flood policy alone, with real pyrogram errors: nothing is dropped unsent, order is kept."""

from __future__ import annotations

import pytest
from pyrogram import errors

from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.sender import NO_SESSION_RETRY, Sender


class Gateway:
    def __init__(self, fail_on: dict[str, Exception] | None = None) -> None:
        self.fail_on = fail_on or {}
        self.sent: list[str] = []

    def send_text(self, chat_id, text, reply_to=None, buttons=None, random_id=None):
        if text in self.fail_on:
            raise self.fail_on.pop(text)
        self.sent.append(text)
        return len(self.sent)


def outbox_with(*texts: str, keys: dict[str, tuple] | None = None) -> Outbox:
    box = Outbox(0, 0, 30)
    for n, text in enumerate(texts):
        box.put(Outgoing("text", 100 + n, text, key=(keys or {}).get(text)))
    return box


def test_a_flood_wait_holds_everything_until_the_deadline_in_order():
    box = outbox_with("a", "b", "c")
    gateway = Gateway({"b": errors.FloodWait(value=7)})
    sender = Sender(box, lambda key, message_id: None)
    assert sender.flush(gateway, 10.0) == 17.0
    assert gateway.sent == ["a"]
    assert sender.flush(gateway, 16.9) == 17.0 and gateway.sent == ["a"], "nothing goes before the deadline"
    sender.flush(gateway, 17.0)
    assert gateway.sent == ["a", "b", "c"]


def test_without_a_session_everything_waits_a_moment_in_order():
    box = outbox_with("a", "b")
    sender = Sender(box, lambda key, message_id: None)
    assert sender.flush(None, 5.0) == 5.0 + NO_SESSION_RETRY
    gateway = Gateway()
    sender.flush(gateway, 6.0)
    assert gateway.sent == ["a", "b"]


def test_a_chat_that_is_gone_settles_a_journaled_part_and_the_rest_goes_on():
    settled = []
    box = outbox_with("a", "b", keys={"a": ("reply", "job-1", 0)})
    gateway = Gateway({"a": errors.UserIsBlocked()})
    Sender(box, lambda key, message_id: settled.append((key, message_id))).flush(gateway, 1.0)
    assert settled == [(("reply", "job-1", 0), None)] and gateway.sent == ["b"]


def test_a_broken_connection_keeps_the_item_and_the_rest_for_the_next_try():
    box = outbox_with("a", "b", "c")
    gateway = Gateway({"b": ConnectionError("reset")})
    with pytest.raises(ConnectionError):
        Sender(box, lambda key, message_id: None).flush(gateway, 1.0)
    assert [item.text for item in box.queue] == ["b", "c"]
