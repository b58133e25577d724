"""The adapter against the real library: every call it makes binds to kurigram's own signatures, the real
gateway runs against an autospecced pyrogram.Client, and the fake offers exactly the same methods."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from unittest import mock

import pyrogram
import pytest
from pyrogram import enums, errors, types

from transhades.errors import RateLimited
from transhades.media import TelegramFile
from transhades.telegram import gateway as gw
from transhades.telegram.download import download
from transhades.telegram.fake import FakeGateway, FakeTelegram

MEDIA = TelegramFile(5, 77, "fid-x", "AgADx", 3, "voice", "audio/ogg", 2.0)
RealClient = pyrogram.Client


def bind(method, **kwargs):
    return inspect.signature(method).bind(mock.sentinel.client, **kwargs)


def test_client_is_built_with_arguments_kurigram_accepts_and_without_sleeping_through_floods(tmp_path):
    loop = asyncio.new_event_loop()
    try:
        kwargs = gw.client_kwargs("API-2", 12345, "h" * 32, "1:x", tmp_path, False, 3, loop)
        inspect.signature(pyrogram.Client.__init__).bind(mock.sentinel.self, **kwargs)
        client = pyrogram.Client(**kwargs)  # offline: nothing connects before start()
        assert client.no_updates is True and client.sleep_threshold == 0
        assert client.max_concurrent_transmissions == 3 and Path(client.workdir) == tmp_path
        assert client.loop is loop
    finally:
        loop.close()


def test_a_session_kept_in_the_database_is_handed_to_kurigram_in_memory(tmp_path):
    loop = asyncio.new_event_loop()
    try:
        kwargs = gw.client_kwargs("API-2", 12345, "h" * 32, "1:x", tmp_path, False, 3, loop, True, None)
        inspect.signature(pyrogram.Client.__init__).bind(mock.sentinel.self, **kwargs)
        client = pyrogram.Client(**kwargs)
        assert client.in_memory is True and not (tmp_path / "API-2.session").exists()
        bind(pyrogram.Client.export_session_string)
    finally:
        loop.close()


def test_every_call_binds_to_the_real_method_signatures():
    bind(pyrogram.Client.send_message, **gw.send_text_kwargs(1, "hi", 9, [[("a", "b")]]))
    bind(pyrogram.Client.edit_message_text, **gw.edit_text_kwargs(1, 2, "hi", None))
    bind(pyrogram.Client.send_document, **gw.send_document_kwargs(1, "t.txt", b"x", "cap", 3))
    kwargs = gw.send_document_kwargs(1, "t.srt", b"x", "", None, [[("Translate", "tr:j")]])
    bind(pyrogram.Client.send_document, **kwargs)
    assert kwargs["reply_markup"].inline_keyboard[0][0].callback_data == "tr:j"
    bind(pyrogram.Client.stream_media, **gw.stream_kwargs(MEDIA, 2, 8))
    bind(pyrogram.Client.get_messages, chat_id=1, message_ids=2)
    bind(pyrogram.Client.answer_callback_query, callback_query_id="q", text=None)
    bind(pyrogram.Client.get_chat_member, chat_id=-100, user_id=7)
    for method, argument in ((pyrogram.Client.resolve_peer, 1), (pyrogram.Client.invoke, object()),
                             (pyrogram.Client.save_file, object())):  # the once-only path calls them positionally
        inspect.signature(method).bind(mock.sentinel.client, argument)


TRICKY = ("[click](http://evil.example) a<b c>d __init__ *stars* `code` ~~gone~~ ||spoiler|| "
          "Beli token listriknya <i>sekarang</i>")


def test_every_text_goes_out_as_it_is_through_the_real_parser():
    """The library parses Markdown and HTML unless told not to: a transcript with a link or a tag would become a
    hidden link or lose text. Each call's parse mode, given to kurigram's own parser, keeps the text whole."""
    from pyrogram.parser import Parser

    parser = Parser(None)
    calls = (gw.send_text_kwargs(1, TRICKY, None, None), gw.edit_text_kwargs(1, 2, TRICKY, None),
             {**gw.send_document_kwargs(1, "t.txt", b"x", TRICKY, None), "text": TRICKY})
    for kwargs in calls:
        parsed = asyncio.run(parser.parse(kwargs["text"], kwargs["parse_mode"]))
        assert parsed["message"] == TRICKY and not parsed["entities"]
    assert asyncio.run(parser.parse(TRICKY, None))["message"] != TRICKY  # what the library's default would do
    call = gw.once_text_call(mock.sentinel.peer, TRICKY, None, None, 7)
    assert call.message == TRICKY and not call.entities  # the once-only path sends the raw text, no entities


def test_keyboard_is_a_real_inline_keyboard():
    markup = gw.keyboard([[("Groq", "prov:groq"), ("Auto", "prov:auto")]])
    assert isinstance(markup, types.InlineKeyboardMarkup)
    assert markup.inline_keyboard[0][0].callback_data == "prov:groq"


@pytest.fixture
def real_gateway(tmp_path, monkeypatch):
    """KurigramGateway driving an autospecced Client: a call the real Client would reject fails here."""
    made = []

    def factory(**kwargs):
        inspect.signature(RealClient.__init__).bind(mock.sentinel.self, **kwargs)
        client = mock.create_autospec(RealClient, instance=True)
        client.me = types.User(id=42, is_bot=True, username="transhades_bot")

        async def stream(message, limit=0, offset=0):
            for block in (b"ab", b"c")[offset:]:
                yield block

        client.stream_media.side_effect = stream
        client.send_message.return_value = types.Message(id=99)
        client.send_document.return_value = types.Message(id=100)
        client.get_messages.return_value = types.Message(id=77, voice=types.Voice(
            file_id="fid-fresh", file_unique_id="AgADx", duration=2))
        client.get_chat_member.return_value = types.ChatMember(status=enums.ChatMemberStatus.ADMINISTRATOR)
        made.append(client)
        return client

    monkeypatch.setattr(pyrogram, "Client", factory)
    gateway = gw.KurigramGateway("API-1", 12345, "h" * 32, "1:x", tmp_path, receive_updates=True)
    received = []
    gateway.on_update(received.append)
    gateway.start()
    yield gateway, made[0]
    gateway.stop()


def test_real_gateway_sends_streams_and_refreshes_through_the_client(real_gateway):
    gateway, client = real_gateway
    assert gateway.username == "transhades_bot"
    assert client.add_handler.call_count == 2, "messages and callback queries"
    assert b"".join(gateway.stream(MEDIA)) == b"abc"
    assert gateway.send_text(5, "hello", 7, [[("a", "b")]]) == 99
    gateway.edit_text(5, 99, "edited")
    assert gateway.send_document(5, "t.txt", b"data", "cap", 7) == 100
    gateway.answer_callback("q1")
    assert gateway.member_status(-100123, 7) == "administrator"
    client.get_chat_member.assert_called_once_with(chat_id=-100123, user_id=7)
    assert gateway.refresh(MEDIA).file_id == "fid-fresh"
    client.get_messages.assert_called_once_with(chat_id=5, message_ids=77)


def test_fake_gateway_offers_the_same_methods_as_the_real_one():
    for name in ("start", "stop", "stream", "refresh", "send_text", "edit_text", "send_document", "answer_callback",
                 "on_update", "member_status"):
        real = list(inspect.signature(getattr(gw.KurigramGateway, name)).parameters)
        fake = list(inspect.signature(getattr(FakeGateway, name)).parameters)
        assert real == fake, f"{name}: {real} != {fake}"


@pytest.mark.parametrize("flood", [errors.FloodWait(value=45), errors.FloodPremiumWait(value=45),
                                   errors.SlowmodeWait(value=45)])
def test_every_kind_of_flood_becomes_a_quarantine_for_its_deadline(tmp_path, flood):
    class Flooding(FakeGateway):
        def stream(self, media, offset_chunks=0, limit_chunks=0):
            raise flood
            yield b""

    world = FakeTelegram()
    with pytest.raises(RateLimited) as caught:
        download(Flooding(world, "API-1", tmp_path, False), MEDIA, tmp_path / "f", 10_000)
    assert caught.value.retry_after == 45.0
    if isinstance(flood, errors.FloodPremiumWait):
        assert not isinstance(flood, errors.FloodWait), "why we catch the 420 base class, Flood"


def test_coroutines_come_from_beneath_pyrograms_sync_wrappers(tmp_path):
    loop = asyncio.new_event_loop()
    try:
        gateway = gw.KurigramGateway("API-1", 1, "h" * 32, "1:x", tmp_path, receive_updates=False)
        gateway.client = RealClient(**gw.client_kwargs("API-1", 1, "h" * 32, "1:x", tmp_path, False, 1, loop))
        for name in ("start", "get_messages", "send_message"):
            assert inspect.iscoroutinefunction(gateway._method(name)), name
        streaming = gateway._method("stream_media")
        assert inspect.isasyncgenfunction(streaming)
    finally:
        loop.close()


def test_a_reply_with_a_random_id_goes_out_as_a_real_raw_call_and_a_repeat_is_absorbed(real_gateway):
    from pyrogram import raw

    gateway, client = real_gateway
    peer = raw.types.InputPeerUser(user_id=5, access_hash=1)
    client.resolve_peer.return_value = peer
    client.invoke.return_value = raw.types.UpdateShortSentMessage(id=321, pts=1, pts_count=1, date=0)
    assert gateway.send_text(5, "*not markdown*", 77, random_id=-42) == 321
    client.invoke.return_value = raw.types.UpdateShortSentMessage(id=322, pts=1, pts_count=1, date=0)
    assert gateway.send_text(5, "with buttons", 77, [[("Translate", "tr:j")]], random_id=-43) == 322
    (call,), _ = client.invoke.call_args
    assert call.reply_markup.rows[0].buttons[0].text == "Translate"
    call.write()
    client.invoke.return_value = raw.types.UpdateShortSentMessage(id=321, pts=1, pts_count=1, date=0)
    assert gateway.send_text(5, "*not markdown*", 77, random_id=-42) == 321
    (call,), _ = client.invoke.call_args
    assert isinstance(call, raw.functions.messages.SendMessage)
    assert (call.peer, call.message, call.random_id, call.reply_to.reply_to_msg_id) == (peer, "*not markdown*", -42, 77)
    call.write()  # it serialises as the TL schema says

    client.save_file.return_value = raw.types.InputFile(id=1, parts=1, name="t.txt", md5_checksum="")
    client.invoke.return_value = raw.types.Updates(updates=[raw.types.UpdateMessageID(id=555, random_id=7)],
                                                   users=[], chats=[], date=0, seq=0)
    assert gateway.send_document(5, "t.txt", b"all of it", "caption", 77, random_id=7) == 555
    (call,), _ = client.invoke.call_args
    assert isinstance(call, raw.functions.messages.SendMedia) and call.random_id == 7
    assert call.media.attributes[0].file_name == "t.txt" and call.reply_markup is None
    call.write()
    client.invoke.return_value = raw.types.Updates(updates=[raw.types.UpdateMessageID(id=556, random_id=8)],
                                                   users=[], chats=[], date=0, seq=0)
    assert gateway.send_document(5, "t.txt", b"all of it", "", 77, random_id=8, buttons=[[("SRT", "srt:j")]]) == 556
    (call,), _ = client.invoke.call_args
    button = call.reply_markup.rows[0].buttons[0]
    assert (getattr(button, "data", None) or button.type.data) == b"srt:j", "the buttons under a transcript file"
    call.write()

    client.invoke.side_effect = errors.RandomIdDuplicate()
    assert gateway.send_text(5, "again", 77, random_id=-42) is None, "Telegram had it already: not an error"


def test_the_fake_refuses_a_repeated_random_id_like_telegram(tmp_path):
    world = FakeTelegram()
    gateway = FakeGateway(world, "API-1", tmp_path, False)
    assert gateway.send_text(5, "once", 1, random_id=9) is not None
    assert gateway.send_text(5, "once", 1, random_id=9) is None
    assert gateway.send_text(5, "plain", 1) is not None and gateway.send_text(5, "plain", 1) is not None
    assert [s.text for s in world.sent] == ["once", "plain", "plain"] and world.refused_repeats == 1
