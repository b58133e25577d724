"""Groups and channels that run themselves: settings only their admins change (as Telegram's getChatMember says, in
the fake as in the real gateway), /auto, /silent, the chat's own language and format, a limit per chat, channel
posts; in English and Indonesian."""

from __future__ import annotations

from conftest import SAMPLES, wait_for
from pyrogram import enums, types
from test_telegram import Bot, tone_bytes  # noqa: F401  (the module fixture)
from test_tree import Script

GROUP = -100777


def group_bot(tmp_path, **telegram) -> tuple[Bot, types.Chat, types.User, types.User]:
    b = Bot(tmp_path, Script(), **telegram)
    group = b.world.chat(GROUP, enums.ChatType.SUPERGROUP, title="Tim Rapat")
    admin, member = b.world.user(601, "en", "Sari"), b.world.user(602, "id", "Budi")
    b.world.join(group, admin, "administrator")
    b.world.join(group, member, "member")
    return b, group, admin, member


def say_in(b: Bot, user: types.User, text: str, chat: types.Chat) -> None:
    b.send(b.world.text_message(user, text, chat=chat))


def test_only_admins_turn_auto_on_and_then_every_voice_note_and_video_note_is_transcribed(tmp_path, tone_bytes):
    b, group, admin, member = group_bot(tmp_path)
    try:
        say_in(b, member, "/auto on", group)
        b.wait_text("Hanya admin obrolan ini", chat_id=GROUP)  # Budi reads it in Indonesian
        b.voice(tone_bytes, user=member, chat=group)
        wait_for(b.tree.quiet, what="a voice note the group did not ask for")
        assert not b.world.downloads, "auto is still off: nothing is transcribed unasked"

        say_in(b, admin, "/auto@transhades_bot on", group)
        b.wait_text("every voice note and video note", chat_id=GROUP)
        note = b.voice(tone_bytes, user=member, chat=group)
        circle = b.voice(tone_bytes, user=member, chat=group, kind="video_note", mime_type="video/mp4")
        b.voice(tone_bytes, user=member, chat=group, kind="audio", mime_type="audio/mpeg")  # a file: only if asked
        wait_for(lambda: len([s for s in b.world.sent if s.chat_id == GROUP and "by alpha" in s.text]) == 2,
                 timeout=30, what="both notes transcribed")
        wait_for(b.tree.quiet, what="the group to settle")
        replies = {s.reply_to for s in b.world.sent if s.chat_id == GROUP and "by alpha" in s.text}
        assert replies == {note.id, circle.id}, "each transcript answers its own note; the audio file was not asked"
        assert b.world.member_lookups[(GROUP, 602)] == 1 and b.world.member_lookups[(GROUP, 601)] == 1, \
            "each member's status asked once, then remembered for a minute"
    finally:
        b.stop()


def test_a_silent_group_sees_no_status_message_only_the_transcript_as_a_reply(tmp_path, tone_bytes):
    b, group, admin, member = group_bot(tmp_path, status_delay_seconds=0)
    b.script.delay["alpha"] = 1.0  # long enough for a status message to go out, where one is wanted
    try:
        say_in(b, admin, "/auto on", group)
        say_in(b, admin, "/silent on", group)
        b.wait_text("Quiet mode", chat_id=GROUP)
        before = len(b.world.sent)
        note = b.voice(tone_bytes, user=member, chat=group)
        b.wait_text("by alpha", chat_id=GROUP)
        wait_for(b.tree.quiet, what="the job to finish")
        after = [s for s in b.world.sent[before:] if s.chat_id == GROUP]
        assert [(s.kind, s.reply_to) for s in after] == [("text", note.id)], after
        assert not [s for s in b.world.sent[before:] if s.kind == "edit"], "no status message was edited either"

        say_in(b, admin, "/silent off", group)
        b.wait_text("Status messages are back on", chat_id=GROUP)
        before = len(b.world.sent)
        b.voice((SAMPLES / "hello-en.ogg").read_bytes(), user=member, chat=group)  # new bytes: no cache hit
        wait_for(lambda: len([s for s in b.world.sent[before:] if s.chat_id == GROUP and "by alpha" in s.text]),
                 what="the next transcript")
        assert len([s for s in b.world.sent[before:] if s.chat_id == GROUP]) >= 2, "a status message again"
    finally:
        b.stop()


def test_an_anonymous_admin_may_change_settings_and_a_stranger_to_the_chat_may_not(tmp_path):
    b, group, admin, member = group_bot(tmp_path)
    try:
        anonymous = types.Message(id=9001, chat=group, sender_chat=group, text="/silent on",
                                  from_user=types.User(id=1087968824, is_bot=True, first_name="Group"))
        anonymous.from_user.is_bot = False  # the GroupAnonymousBot's updates reach bots as the group's own
        b.send(anonymous)
        b.wait_text("Quiet mode", chat_id=GROUP)
        stranger = b.world.user(700, "en", "Eve")  # never joined: Telegram answers USER_NOT_PARTICIPANT
        say_in(b, stranger, "/silent off", group)
        b.wait_text("Only this chat's admins", chat_id=GROUP)
        say_in(b, member, "/settings", group)
        b.wait_text("mode senyap aktif", chat_id=GROUP)  # anyone may read them; still quiet
    finally:
        b.stop()


def test_the_chats_language_and_format_apply_to_every_members_recording(tmp_path, tone_bytes):
    b, group, admin, member = group_bot(tmp_path, status_delay_seconds=0)
    try:
        say_in(b, admin, "/language id", group)
        say_in(b, admin, "/format srt", group)
        b.wait_text("format srt", chat_id=GROUP)
        say_in(b, member, "/language en", group)  # a member cannot change the chat's language
        b.wait_text("Hanya admin obrolan ini", chat_id=GROUP)
        note = b.voice(tone_bytes, user=member, chat=group)
        b.send(b.world.text_message(member, "/transcribe", chat=group, reply_to=note))
        wait_for(lambda: any(s.kind == "document" and s.chat_id == GROUP for s in b.world.sent), timeout=30,
                 what="the transcript as an SRT file")
        assert b.script.languages[-1] == "id", "the chat's language, not detection"
    finally:
        b.stop()


def test_one_busy_group_cannot_take_every_slot(tmp_path, tone_bytes):
    b, group, admin, member = group_bot(tmp_path, chat_jobs_per_minute=2, user_jobs_per_minute=0)
    try:
        say_in(b, admin, "/auto on", group)
        b.wait_text("every voice note", chat_id=GROUP)
        for _ in range(3):
            b.voice(tone_bytes, user=member, chat=group)
        b.wait_text("Obrolan ini sudah mengirim 2 rekaman", chat_id=GROUP)
        wait_for(b.tree.quiet, what="the group's two jobs")
        assert len([s for s in b.world.sent if s.chat_id == GROUP and "by alpha" in s.text]) == 2
        b.voice(tone_bytes, user=member)  # the same member, in a private chat: not the group's share
        b.wait_text("by alpha", chat_id=member.id)
    finally:
        b.stop()


def test_a_channel_turns_auto_on_by_a_post_and_its_voice_posts_get_their_transcript(tmp_path, tone_bytes):
    b = Bot(tmp_path, Script())
    try:
        channel = b.world.chat(-100888, enums.ChatType.CHANNEL, title="Warta")
        b.send(b.world.channel_post(channel, text="/auto on"))
        b.wait_text("every voice note", chat_id=-100888)  # only a channel's admins can post in it
        post = b.world.channel_post(channel, tone_bytes)
        b.send(post)
        b.wait_text("by alpha", chat_id=-100888)
        assert any(s.reply_to == post.id and "by alpha" in s.text for s in b.world.sent)
    finally:
        b.stop()


def test_when_telegram_cannot_say_who_is_admin_the_change_is_refused_and_asked_again_next_time():
    """A failed getChatMember (a session restarting, a Telegram error) never grants a change, and is not
    remembered: the admin's next try, once Telegram answers, goes through."""
    from pyrogram import errors

    from transhades.sql import Database
    from transhades.telegram.fake import FakeTelegram
    from transhades.telegram.groups import ChatSettings, Groups
    from transhades.telegram.outbox import Outbox

    world, outbox = FakeTelegram(), Outbox()
    groups = Groups(ChatSettings(Database(":memory:")), outbox, now=lambda: 0.0)
    answers = [errors.RPCError("the sending session is restarting"), "administrator"]

    def lookup(chat_id: int, user_id: int) -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    groups.lookup = lookup
    group = world.chat(GROUP, enums.ChatType.SUPERGROUP)
    sari = world.user(601, "en", "Sari")
    groups.command("auto", world.text_message(sari, "/auto on", chat=group), "on", "en")
    assert outbox.queue[-1].text == "I could not check your admin status with Telegram just now; try again in a minute."
    assert groups.settings.get(GROUP).auto is False
    groups.command("auto", world.text_message(sari, "/auto on", chat=group), "on", "en")
    assert groups.settings.get(GROUP).auto is True and "every voice note" in outbox.queue[-1].text


def test_an_admin_check_telegram_cannot_answer_is_said_as_such_and_the_bot_keeps_running(tmp_path):
    """getChatMember timing out (the real gateway's Future.result), a FloodWait or an RPC error: the admin is told
    the check could not be made (not "only admins"), nothing changes, the bot is not restarted, and the next try
    works."""
    from pyrogram import errors

    b, group, admin, member = group_bot(tmp_path)
    try:
        for fail in (TimeoutError("no answer within 10 s"), errors.FloodWait(value=30), errors.InternalServerError()):
            b.world.member_fails.append(fail)
            before = len(b.texts(GROUP))
            say_in(b, admin, "/auto on", group)
            wait_for(lambda n=before: len(b.texts(GROUP)) > n, what="the answer")
            assert b.texts(GROUP)[-1] == "I could not check your admin status with Telegram just now; try again " \
                                         "in a minute.", b.texts(GROUP)[-1]
        assert b.status()["bot"]["total_restarts"] == 0 and b.status()["bot"]["state"] == "running"
        say_in(b, admin, "/auto on", group)
        b.wait_text("every voice note and video note", chat_id=GROUP)
    finally:
        b.stop()


def test_every_command_answers_and_the_bot_keeps_running_while_telegram_errs(tmp_path, tone_bytes):
    """No single update stops the bot: each command, in a private chat and in a group, while Telegram's next send
    floods (FloodWait) and its next admin check times out, is answered, and the bot actor never restarts."""

    from transhades.telegram.commands import COMMANDS
    from transhades.telegram.groups import COMMANDS as CHAT_COMMANDS

    b, group, admin, member = group_bot(tmp_path)
    try:
        b.voice(tone_bytes)  # something kept, for /history, /export, /search and the rest
        b.wait_text("by alpha")
        arguments = {"search": "alpha", "speakers": "name 1 Budi", "language": "id", "format": "srt",
                     "translate": "en", "export": "txt", "auto": "on", "silent": "off"}
        for where, commands in ((None, sorted(COMMANDS)), (group, sorted(CHAT_COMMANDS))):
            for command in commands:
                chat_id = GROUP if where is not None else b.user.id
                user = admin if where is not None else b.user
                before = len([s for s in b.world.sent if s.chat_id == chat_id])
                b.world.send_floods.append(1)
                b.world.member_fails.append(TimeoutError("no answer within 10 s"))
                text = f"/{command} {arguments.get(command, '')}".strip()
                b.send(b.world.text_message(user, text, chat=where) if where is not None
                       else b.world.text_message(user, text))
                wait_for(lambda c=chat_id, n=before: len([s for s in b.world.sent if s.chat_id == c]) > n,
                         timeout=20, what=f"an answer to {text!r}")
                b.world.member_fails.clear()
        bot = b.status()["bot"]
        assert bot["state"] == "running" and bot["total_restarts"] == 0, bot
    finally:
        b.stop()
