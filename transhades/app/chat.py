"""``transhades chat``: the whole bot (the same tree ``run`` starts) against an in-process Telegram, from a terminal
or a script. No token, no network: configured credentials become simulated sessions (two when none are
configured). It is how a new user tries the bot, and how conversations are tested.

Input, a line at a time: ``/send PATH`` sends the file as Telegram would classify it (a voice note for .ogg/.oga
opus, audio, video, or a document); ``/press LABEL`` presses that button on the latest bot message that has
buttons; any other line is a text message (commands too). Output: every message the bot sends or edits, in order
(``--json``: one object per line, flushed). When input is not a terminal, each line is sent once the bot is idle
(a script reads each answer before it sends the next line), unless ``--live``: then, as on a terminal, every line is
sent at once, while jobs run, and what the bot says shows up when it happens, so /cancel, /forget, /status or a
second note go in mid-job as they do in Telegram; ``/wait`` waits until the bot is idle. The command ends, exit 0,
once input ends and the bot is idle.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from transhades.config import Config, CredentialConfig, TelegramConfig

KINDS = {".ogg": ("voice", "audio/ogg"), ".oga": ("voice", "audio/ogg"), ".opus": ("voice", "audio/ogg"),
         ".mp3": ("audio", "audio/mpeg"), ".m4a": ("audio", "audio/mp4"), ".wav": ("audio", "audio/wav"),
         ".flac": ("audio", "audio/flac"), ".aac": ("audio", "audio/aac"), ".mp4": ("video", "video/mp4"),
         ".mov": ("video", "video/quicktime"), ".mkv": ("video", "video/x-matroska"), ".webm": ("video", "video/webm")}
SIMULATED = (CredentialConfig("API-1", 1, "s" * 32), CredentialConfig("API-2", 2, "t" * 32))


def chat_config(cfg: Config, scratch: Path, shared_cache: bool = False) -> Config:
    """The config as ``run`` would use it, with simulated sessions, no pacing (no real Telegram to spare), and a
    journal, settings, history and cache of its own (a chat is a sandbox: nothing one session said reaches
    another; ``shared_cache`` keeps the config's cache); the models already on this machine are used."""
    tg = cfg.telegram or TelegramConfig()
    credentials = tg.credentials or SIMULATED
    sessions = scratch / "sessions"
    data = scratch / "data"
    data.mkdir(parents=True, exist_ok=True)
    models = Path(cfg.data_dir) / "models"
    models.mkdir(parents=True, exist_ok=True)
    (data / "models").symlink_to(models.resolve(), target_is_directory=True)
    cache = cfg.cache if shared_cache else replace(cfg.cache, backend="sqlite", path=str(data / "cache.sqlite3"))
    return replace(cfg, data_dir=str(data), cache=cache, database_url=None,
                   telegram=replace(tg, bot_token=tg.bot_token, credentials=credentials,
                                         session_dir=str(sessions), send_interval_seconds=0.0,
                                         edit_interval_seconds=0.0, status_delay_seconds=min(tg.status_delay_seconds,
                                                                                             0.5)))


class Transcript:
    """Prints what the bot sends, in order, as it arrives; documents are written to ``files``."""

    def __init__(self, world: Any, out: TextIO, as_json: bool, files: Path, chat_id: int) -> None:
        self.world, self.out, self.as_json, self.files, self.chat_id = world, out, as_json, files, chat_id
        self.shown = 0
        self.lock = threading.Lock()

    def user(self, text: str) -> None:
        if self.as_json:
            self._line({"event": "user", "text": text})

    def catch_up(self) -> None:
        with self.lock:
            sent = list(self.world.sent)
            for item in sent[self.shown:]:
                if item.kind != "callback" and item.chat_id == self.chat_id:
                    self._show(item)
            self.shown = len(sent)

    def _show(self, item: Any) -> None:
        labels = [label for row in item.buttons or [] for label, _ in row]
        path = None
        if item.kind == "document":
            path = self.files / f"{item.message_id}-{Path(item.file_name or 'file').name}"
            path.write_bytes(item.data or b"")
        if self.as_json:
            self._line({"event": {"text": "send"}.get(item.kind, item.kind), "message_id": item.message_id,
                        "text": item.text, "buttons": labels, "file": str(path) if path else None})
            return
        head = {"edit": f"bot (edited {item.message_id})", "document": f"bot sent {path}"}.get(item.kind, "bot")
        self.out.write(f"{head}: {item.text}" + (f"   [{' | '.join(labels)}]" if labels else "") + "\n")
        self.out.flush()

    def _line(self, data: dict[str, Any]) -> None:
        self.out.write(json.dumps(data, ensure_ascii=False) + "\n")
        self.out.flush()


def run(cfg: Config, start_tree: Any, lines: TextIO, out: TextIO, err: TextIO, user_id: int = 1,
        language: str = "en", as_json: bool = False, files: Path | None = None, shared_cache: bool = False,
        live: bool = False) -> int:
    from transhades.telegram.fake import FakeGateway, FakeTelegram

    interactive = lines.isatty()
    live = live or interactive
    with tempfile.TemporaryDirectory(prefix="transhades-chat-") as scratch:
        files = files or Path(scratch) / "files"
        files.mkdir(parents=True, exist_ok=True)
        world = FakeTelegram()
        cfg = chat_config(cfg, Path(scratch), shared_cache)
        tree = start_tree(cfg, gateway_factory=lambda c, r: FakeGateway(world, c.name, Path(scratch) / "sessions", r))
        try:
            _wait(lambda: world.receiver is not None, 30)
            me = user = world.user(user_id, language)
            shown = Transcript(world, out, as_json, files, user.id)
            printer = _Printer(shown) if live else None
            for raw in _lines(lines, interactive, err):
                line = raw.strip()
                if not line:
                    continue
                shown.user(line)
                if line == "/wait":
                    _settle(tree, shown)
                    continue
                if line.startswith(("/group", "/private")):
                    problem, speaker = _move(world, me, line, shown)
                    user = speaker or user
                else:
                    problem = _send(world, user, line, shown.chat_id)
                if problem:
                    print(f"error: {problem}", file=err, flush=True)
                if not live:  # every answer is out before the next line is read: a program can wait for it
                    _settle(tree, shown)
            _settle(tree, shown)
            if printer is not None:
                printer.stop()
        finally:
            tree.stop()
    return 0


def _lines(lines: TextIO, interactive: bool, err: TextIO) -> Any:
    while True:
        if interactive:
            err.write("> ")
            err.flush()
        line = lines.readline()
        if not line:
            return
        yield line


GROUP_ID = -1001000000001  # the simulated group of ``/group``


def _move(world: Any, me: Any, line: str, shown: Transcript) -> tuple[str | None, Any]:
    """``/group admin|member``: talk in a group as its admin (an account of its own) or as yourself, a plain
    member (the bot sees what a bot in a group sees: mentions, replies, and every voice note once an admin turned
    /auto on); ``/private``: back to your private chat. Returns (what is wrong, who speaks now)."""
    from pyrogram import enums

    if line.strip() == "/private":
        shown.chat_id = me.id
        return None, me
    role = line[len("/group"):].strip() or "member"
    if role not in ("admin", "member"):
        return "/group: say /group admin or /group member", None
    group = world.chat(GROUP_ID, enums.ChatType.SUPERGROUP, title="transhades chat group")
    speaker = me if role == "member" else world.user(me.id + 1_000_000, me.language_code, "Admin")
    world.join(group, speaker, "administrator" if role == "admin" else "member")
    shown.chat_id = GROUP_ID
    return None, speaker


def _send(world: Any, user: Any, line: str, chat_id: int) -> str | None:
    """The line as the user's update in the chat they are in; what is wrong with it, if anything (one line)."""
    from pyrogram import enums

    chat = world.chat(chat_id, enums.ChatType.SUPERGROUP) if chat_id == GROUP_ID else None
    if line.startswith("/send"):
        path = Path(line[len("/send"):].strip()).expanduser()
        if not path.is_file():
            return f"/send: no such file {str(path)!r}; give the path of a recording"
        kind, mime = KINDS.get(path.suffix.lower(), ("document", "application/octet-stream"))
        data = path.read_bytes()
        unique = "AgAD" + hashlib.sha256(data).hexdigest()[:24]  # the same file, the same id; never another's
        world.deliver(world.media_message(user, data, kind=kind, mime_type=mime, duration=_seconds(path),
                                          file_name=path.name, unique=unique, chat=chat))
        return None
    if line.startswith("/press"):
        label = line[len("/press"):].strip()
        for item in reversed(list(world.sent)):
            if item.buttons and item.chat_id == chat_id:
                pressed = next((d for row in item.buttons for text, d in row if text == label), None)
                if pressed is None:
                    labels = ", ".join(text for row in item.buttons for text, _ in row)
                    return f"/press: no button {label!r} on the latest message with buttons; it has: {labels}"
                world.deliver(world.callback(user, pressed, item.message_id, chat_id))
                return None
        return "/press: no message with buttons yet"
    world.deliver(world.text_message(user, line, chat=chat))
    return None


def _seconds(path: Path) -> int:
    try:
        from transhades.audio.prepare import probe

        return int(probe(path).duration or 0)
    except Exception:
        return 0


def _settle(tree: Any, shown: Transcript, seconds: float = 600.0) -> None:
    """Until the bot is idle (nothing running, queued or left to send), then print what it sent."""
    deadline = time.monotonic() + seconds
    while not tree.quiet() and time.monotonic() < deadline:
        shown.catch_up()
        time.sleep(0.05)
    shown.catch_up()


class _Printer:
    """On a terminal, what the bot sends shows up while the user types."""

    def __init__(self, shown: Transcript) -> None:
        self.shown = shown
        self.stopped = threading.Event()
        threading.Thread(target=self._run, name="chat-printer", daemon=True).start()

    def _run(self) -> None:
        while not self.stopped.wait(0.1):
            self.shown.catch_up()

    def stop(self) -> None:
        self.stopped.set()


def _wait(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the simulated Telegram session did not start")
        time.sleep(0.01)

