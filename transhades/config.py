"""config.yaml: load, expand ``${VAR}`` / ``${VAR:-default}`` from the environment and ``.env``, validate.

Every problem is collected and reported as one line naming its key (``providers[1].instances: must be >= 1``),
so an operator fixes the whole file in one pass. Secrets never live in the YAML: they arrive through variables,
and a remote provider whose key variable is unset is *disabled* (with a reason), not an error, so the shipped
config runs on a machine with no keys.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from transhades.errors import ConfigError
from transhades.redaction import redact
from transhades.vocabulary.terms import vocabulary_of_config

PROVIDER_KINDS = ("local", "openai", "deepgram")
CACHE_BACKENDS = ("memory", "sqlite", "redis")
ESCALATIONS = ("mark_failed", "stop_tree")
AUDIO_CODECS = ("auto", "opus", "mp3", "wav")

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# The original bot's .env names its credentials TELEGRAM_API_ID, TELEGRAM_API_ID_2, ... TELEGRAM_API_ID_5.
_SEED_CREDENTIAL = re.compile(r"TELEGRAM_API_ID(?:_(\d+))?")
# No setting needs more: a billion seconds is 31 years, and anything larger overflows timers and sleeps.
NUMBER_CEILING = 1e9


def setting(default: Any, *, minimum: float | None = None, maximum: float | None = None,
            choices: tuple[str, ...] | None = None, secret: bool = False) -> Any:
    """A key of config.yaml: its default and its bounds, written once; ``read`` checks a document against them."""
    return field(default=default, repr=not secret,
                 metadata={"minimum": minimum, "maximum": maximum, "choices": choices})


def derived(default: Any = None, *, secret: bool = False) -> Any:
    """Not a key of config.yaml: worked out while reading (a provider's state, the variable a secret came from)."""
    return field(default=default, repr=not secret, metadata={"derived": True})


@dataclass(frozen=True)
class ProviderConfig:
    name: str = setting(None)
    kind: str = setting(None, choices=PROVIDER_KINDS)
    model: str = setting(None)
    instances: int = setting(1, minimum=1, maximum=64)
    base_url: str | None = setting(None)
    api_key: str | None = setting(None, secret=True)
    max_upload_mb: float = setting(25.0, minimum=0.01)
    timeout_seconds: float = setting(120.0, minimum=1)
    beam_size: int = setting(1, minimum=1, maximum=10)
    cpu_threads: int = setting(0, minimum=0, maximum=256)
    device: str = setting("auto", choices=("auto", "cpu", "cuda"))  # local: auto takes a GPU when one works
    compute_type: str = setting("default")  # local: int8 on the CPU, float16 on a GPU, or any CTranslate2 type
    batch_size: int = setting(4, minimum=1, maximum=64)  # local: windows decoded together on long audio
    language_per_part: bool = setting(True)  # local, with several languages: each part of a recording in its own
    http_attempts: int = setting(3, minimum=1, maximum=10)
    retry_min_seconds: float = setting(0.5, minimum=0)
    retry_max_seconds: float = setting(8.0, minimum=0)
    breaker_failures: int = setting(3, minimum=1)
    breaker_seconds: float = setting(30.0, minimum=0.01)
    auto_language: str | None = setting(None)
    word_timestamps: bool = setting(False)  # words with their times (local: costs decoding time; openai: asks)
    api_key_variable: str | None = derived()
    enabled: bool = derived(True)
    disabled_reason: str | None = derived()


@dataclass(frozen=True)
class CacheConfig:
    backend: str = setting("sqlite", choices=CACHE_BACKENDS)
    path: str = setting("data/cache.sqlite3")
    url: str | None = setting(None, secret=True)
    max_items: int = setting(10_000, minimum=1)
    keep_days: float = setting(30.0, minimum=0, maximum=3650)  # a cached transcript lives this long; 0: until erased


@dataclass(frozen=True)
class DispatcherConfig:
    max_concurrent_jobs: int = setting(5, minimum=1)
    per_user_limit: int = setting(3, minimum=1)
    retries: int = setting(2, minimum=0, maximum=20)


@dataclass(frozen=True)
class BackoffConfig:
    min_seconds: float = setting(0.5, minimum=0)
    max_seconds: float = setting(30.0, minimum=0)
    jitter: float = setting(0.2, minimum=0, maximum=1)


@dataclass(frozen=True)
class SupervisionConfig:
    max_restarts: int = setting(5, minimum=0)
    within_seconds: float = setting(60.0, minimum=0.001)
    backoff: BackoffConfig = setting(BackoffConfig())
    escalation: str = setting("mark_failed", choices=ESCALATIONS)
    shutdown_seconds: float = setting(5.0, minimum=0.1)
    # a statement waits this long for PostgreSQL (database_url) to come back before its actor crashes and is restarted
    database_wait_seconds: float = setting(30.0, minimum=0.5, maximum=600)


@dataclass(frozen=True)
class AudioConfig:
    workers: int = setting(2, minimum=1, maximum=64)
    codec: str = setting("auto", choices=AUDIO_CODECS)  # auto: wav when every provider is local, else opus
    bitrate_kbps: int = setting(24, minimum=6, maximum=320)
    max_duration_seconds: float = setting(6 * 3600, minimum=1)
    ffmpeg_timeout_seconds: float = setting(1800, minimum=1)
    temp_dir: str | None = setting(None)
    chunk_seconds: float = setting(600.0, minimum=10)
    # with the local model alone, parts this long: another user's note waits at most one part's decoding (a few s)
    local_chunk_seconds: float = setting(180.0, minimum=10)
    overlap_seconds: float = setting(1.0, minimum=0, maximum=10)
    first_part_seconds: float = setting(60.0, minimum=0)  # a recording that is cut starts with a part this long
    max_job_disk_mb: float = setting(512.0, minimum=1)


@dataclass(frozen=True)
class CredentialConfig:
    name: str
    api_id: int
    api_hash: str = field(repr=False)


@dataclass(frozen=True)
class TelegramConfig:
    bot_token: str | None = setting(None, secret=True)
    session_dir: str = setting("data/sessions")
    credentials: tuple[CredentialConfig, ...] = setting(())  # read by _credentials
    max_file_mb: float = setting(2000.0, minimum=1, maximum=4000)
    allowed_users: tuple[int, ...] = setting(())  # read by _ids
    admins: tuple[int, ...] = setting(())
    downloads_per_credential: int = setting(2, minimum=1, maximum=8)
    downloads_per_minute: int = setting(0, minimum=0, maximum=10_000)  # per credential: paces each session; 0: off
    send_interval_seconds: float = setting(1.0, minimum=0)  # per chat
    send_per_second: int = setting(30, minimum=1, maximum=1000)  # in all chats: Telegram's limit for a bot
    edit_interval_seconds: float = setting(3.0, minimum=0)  # per status message
    status_delay_seconds: float = setting(1.0, minimum=0)  # no status message for a job answered within this time
    user_jobs_per_minute: int = setting(10, minimum=0)  # per user (admins are exempt); 0: no limit
    chat_jobs_per_minute: int = setting(30, minimum=0)  # per group or channel, whoever sends; 0: no limit
    journal_keep_hours: float = setting(24.0, minimum=0)  # finished jobs stay in the journal this long
    drain_seconds: float = setting(15.0, minimum=0, maximum=20)  # on SIGTERM, in-flight jobs get this long
    bot_token_variable: str | None = derived()
    skipped: tuple[str, ...] = derived(())  # "name: why", for credentials left out
    unset: tuple[str, ...] = derived(())  # variables the token and the first credential need but are not set
    unused: tuple[str, ...] = derived(())  # TELEGRAM_API_ID_N variables that are set but that no credential reads


@dataclass(frozen=True)
class HttpConfig:
    host: str = setting("127.0.0.1")
    port: int = setting(8080, minimum=0, maximum=65535)  # 0: no HTTP endpoint (transhades run only)


@dataclass(frozen=True)
class ClusterConfig:
    redis_url: str | None = setting(None, secret=True)  # or TRANSHADES_REDIS_URL; needed by --role front|worker
    lease_seconds: float = setting(15.0, minimum=1, maximum=600)  # a dead worker's jobs / front's role move after
    max_deliveries: int = setting(5, minimum=1, maximum=100)  # a job taken this often goes to the dead letters
    prefix: str = setting("transhades")  # of every Redis key: two bots can share one Redis


@dataclass(frozen=True)
class HistoryConfig:
    keep_days: float = setting(30.0, minimum=0, maximum=3650)  # each user's transcripts, for /history; 0: none


@dataclass(frozen=True)
class LinksConfig:
    """Links to recordings sent instead of files (``transhades.links``): safe by default."""

    enabled: bool = setting(True)
    allow_private: bool = setting(False)  # private, loopback, link-local addresses too (a LAN server; tests)
    allow_networks: tuple[str, ...] = setting(())  # or only these networks, e.g. [192.168.1.20/32]
    max_mb: float = setting(2000.0, minimum=0.001, maximum=100_000)  # a link's file is refused beyond this
    timeout_seconds: float = setting(30.0, minimum=0.1, maximum=600)  # to connect, and between two reads
    max_seconds: float = setting(300.0, minimum=1, maximum=86_400)  # the whole download, however slowly it comes
    workers: int = setting(2, minimum=1, maximum=32)  # links downloaded at once
    per_user: int = setting(1, minimum=1, maximum=32)  # of them, one user's at once (the rest wait their turn)
    extractors: bool = setting(False)  # pages (video sites, share pages) through yt-dlp: pip install ".[links]"


@dataclass(frozen=True)
class SpeakersConfig:
    """Who said what (``transhades.speakers``): the default for everyone; users and chats choose with /speakers."""

    mode: str = setting("off", choices=("off", "on", "auto"))  # auto: recordings of two minutes or more
    max_speakers: int = setting(6, minimum=2, maximum=20)
    workers: int = setting(1, minimum=1, maximum=8)  # transcripts whose speakers are told apart at once


@dataclass(frozen=True)
class LimitsConfig:
    """What one user can ask of the bot, so that nobody's request stalls or floods everyone else's."""

    max_reply_messages: int = setting(3, minimum=1, maximum=20)  # longer: the first message plus the file
    commands_per_minute: int = setting(20, minimum=0, maximum=10_000)  # per user (admins exempt); 0: no limit
    query_seconds: float = setting(2.0, minimum=0.05, maximum=60)  # a /search over this is "too broad"
    max_answer_chars: int = setting(50_000, minimum=1_000, maximum=10_000_000)  # a model's answer is cut here


@dataclass(frozen=True)
class LlmConfig:
    """An OpenAI-compatible chat-completions model for /translate and /summary (Groq, Together, OpenAI, a local
    server). Off while its key variable is unset, like a provider."""

    base_url: str | None = setting(None)
    model: str | None = setting(None)
    api_key: str | None = setting(None, secret=True)
    instances: int = setting(2, minimum=1, maximum=16)  # asks answered at once (each user has one at a time)
    timeout_seconds: float = setting(120.0, minimum=1)
    max_input_chars: int = setting(12_000, minimum=200, maximum=1_000_000)  # longer transcripts go in parts
    max_wait_seconds: float = setting(60.0, minimum=0, maximum=3600)  # a 429's Retry-After up to this is waited out
    http_attempts: int = setting(3, minimum=1, maximum=10)
    retry_min_seconds: float = setting(0.5, minimum=0)
    retry_max_seconds: float = setting(8.0, minimum=0)
    api_key_variable: str | None = derived()
    enabled: bool = derived(True)
    disabled_reason: str | None = derived()


@dataclass(frozen=True)
class LoggingConfig:
    format: str = setting("plain", choices=("plain", "json"))  # one line per record on stdout
    level: str = setting("info", choices=("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class Config:
    providers: tuple[ProviderConfig, ...] = setting(())
    cache: CacheConfig = setting(CacheConfig())
    dispatcher: DispatcherConfig = setting(DispatcherConfig())
    supervision: SupervisionConfig = setting(SupervisionConfig())
    audio: AudioConfig = setting(AudioConfig())
    data_dir: str = setting("data")
    telegram: TelegramConfig | None = setting(None)
    http: HttpConfig = setting(HttpConfig())
    logging: LoggingConfig = setting(LoggingConfig())
    languages: tuple[str, ...] = setting(())  # what auto-detection may choose among; empty: any language
    cluster: ClusterConfig = setting(ClusterConfig())
    history: HistoryConfig = setting(HistoryConfig())
    database_url: str | None = setting(None, secret=True)  # or DATABASE_URL: PostgreSQL for journal, settings, sessions
    llm: LlmConfig | None = setting(None)  # read by _llm
    limits: LimitsConfig = setting(LimitsConfig())
    links: LinksConfig = setting(LinksConfig())
    speakers: SpeakersConfig = setting(SpeakersConfig())
    vocabulary: tuple[str, ...] = setting(())  # names and terms for every chat (transhades.vocabulary); read by parse
    source: str | None = derived()

    @property
    def bot(self) -> TelegramConfig:
        """The telegram section, for the code that runs the bot (whose start checks that it is there)."""
        if self.telegram is None:
            raise ConfigError(["the config has no telegram section; add one (see config.yaml)"])
        return self.telegram

    @property
    def enabled_providers(self) -> tuple[ProviderConfig, ...]:
        return tuple(p for p in self.providers if p.enabled)

    @property
    def audio_codec(self) -> str:
        """``audio.codec``, with ``auto`` decided: PCM for the local model alone (nothing is uploaded, and it saves
        the encoding), opus when a remote provider may get the chunks."""
        if self.audio.codec != "auto":
            return self.audio.codec
        local = all(p.kind == "local" for p in self.enabled_providers)
        return "wav" if local and self.enabled_providers else "opus"

    @property
    def chunk_seconds(self) -> float:
        """How long a part of a recording is: ``audio.local_chunk_seconds`` when every provider is local (the one
        model is shared by every user, and users take turns part by part), else ``audio.chunk_seconds``."""
        if self.enabled_providers and all(p.kind == "local" for p in self.enabled_providers):
            return min(self.audio.chunk_seconds, self.audio.local_chunk_seconds)
        return self.audio.chunk_seconds

    def secrets(self) -> list[str]:
        """Every secret value the config holds, for the log redactor."""
        values = [p.api_key for p in self.providers if p.api_key]
        if self.llm and self.llm.api_key:
            values.append(self.llm.api_key)
        if self.telegram:
            values += [self.telegram.bot_token or ""] + [c.api_hash for c in self.telegram.credentials]
        values += [url for url in (self.cache.url, self.cluster.redis_url, self.database_url) if url and "@" in url]
        return values


# --------------------------------------------------------------------------------------------- environment


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; ``export`` prefixes, quotes and ``#`` comments allowed. Missing file: empty."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def environment(dotenv: Path | None = Path(".env")) -> dict[str, str]:
    """The process environment over the ``.env`` file: a variable set in the environment always wins."""
    merged = read_dotenv(dotenv) if dotenv else {}
    merged.update(os.environ)
    return merged


def expand(value: Any, env: Mapping[str, str], missing: set[str]) -> Any:
    """Expand variables in every string of a parsed YAML tree; names of unset variables go to ``missing``."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if env.get(name):
                return env[name]
            if default is not None:
                return default
            missing.add(name)
            return ""

        return _VAR.sub(substitute, value)
    if isinstance(value, list):
        return [expand(v, env, missing) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, env, missing) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------- validation


def _kind_of(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


_FLAGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


class _Section:
    """Reads typed values from one mapping, recording a problem per bad key instead of raising."""

    def __init__(self, data: Any, where: str, problems: list[str], known: tuple[str, ...]) -> None:
        self.where = where
        self.problems = problems
        if data is None:
            data = {}
        if not isinstance(data, dict):
            what = where or "the config file"
            problems.append(f"{what}: must be a mapping of keys to values, got {_kind_of(data)}")
            data = {}
        self.data = data
        for key in data:
            if key not in known:
                problems.append(f"{self._key(str(key))}: unknown key; known keys are {', '.join(known)}")

    def _key(self, key: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
            key = repr(key)  # a stray key with a newline or spaces still makes one readable line
        return f"{self.where}.{key}" if self.where else key

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _FLAGS:
            return _FLAGS[value.strip().lower()]
        self.problems.append(f"{self._key(key)}: must be true or false, got {_kind_of(value)}")
        return default

    def number(self, key: str, default: float, *, minimum: float | None = None, maximum: float | None = None,
               integer: bool = False) -> Any:
        value = self.data.get(key, default)
        if value is None or value == "":
            return default
        if isinstance(value, str):
            try:
                value = float(value) if not integer else int(value)
            except ValueError:
                pass
        problem = _number_problem(value, integer, minimum, NUMBER_CEILING if maximum is None else maximum)
        if problem:
            self.problems.append(f"{self._key(key)}: {problem}")
            return default
        return int(value) if integer else float(value)

    def text(self, key: str, default: str | None, *, choices: tuple[str, ...] | None = None) -> Any:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.problems.append(f"{self._key(key)}: must be a string")
            return default
        value = str(value)
        if choices and value not in choices:
            self.problems.append(f"{self._key(key)}: must be one of {', '.join(choices)}, got {value!r}")
            return default
        return value


def _number_problem(value: Any, integer: bool, minimum: float | None, ceiling: float) -> str | None:
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be {kind}, got {value!r}"
    if not math.isfinite(value):  # YAML's .inf and .nan; int() of them would raise
        return f"must be a finite number, got {value!r}"
    if integer and int(value) != value:
        return f"must be {kind}, got {value!r}"
    if minimum is not None and value < minimum:
        return f"must be >= {minimum:g}"
    if value > ceiling:
        return f"must be <= {ceiling:g}"
    return None


_TEXT = (str, str | None)


def settings(cls: type) -> tuple[str, ...]:
    """The keys config.yaml may hold for a section, from its dataclass."""
    return tuple(f.name for f in fields(cls) if not f.metadata.get("derived"))


def read(cls: type, data: Any, where: str, problems: list[str]) -> tuple[dict[str, Any], _Section]:
    """The values of ``cls``'s numbers, strings and nested sections found in ``data`` (the default for each key
    that is absent or wrong; a problem recorded for each wrong one). Lists are read by the caller."""
    section = _Section(data, where, problems, settings(cls))
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        kind, meta = hints[f.name], f.metadata
        if meta.get("derived"):
            continue
        default: Any = f.default
        if kind is bool:
            values[f.name] = section.flag(f.name, default)
        elif kind in (int, float):
            values[f.name] = section.number(f.name, default, minimum=meta["minimum"], maximum=meta["maximum"],
                                            integer=kind is int)
        elif kind in _TEXT:
            values[f.name] = section.text(f.name, default, choices=meta["choices"])
        elif isinstance(kind, type) and is_dataclass(kind):
            nested, _ = read(kind, section.data.get(f.name), f"{where}.{f.name}" if where else f.name, problems)
            values[f.name] = kind(**nested)
    return values, section


_DEFAULT_MODELS = {"local": "base", "openai": "whisper-large-v3-turbo", "deepgram": "nova-3"}


def _variable(raw: Any) -> str | None:
    """The variable a ``${VAR}`` value reads, if it is one."""
    match = _VAR.search(raw) if isinstance(raw, str) else None
    return match.group(1) if match else None


def _provider(raw: Any, index: int, env: Mapping[str, str], problems: list[str]) -> ProviderConfig:
    where = f"providers[{index}]"
    values, section = read(ProviderConfig, expand(raw, env, set()), where, problems)
    name, kind, base_url = values["name"], values["kind"], values["base_url"]
    problems += _name_problems(where, name)
    if kind is None and "kind" not in section.data:
        problems.append(f"{where}.kind: is required, one of {', '.join(PROVIDER_KINDS)}")
    kind = kind or "local"
    key_variable = _variable(raw.get("api_key") if isinstance(raw, dict) else None)
    reason = None if kind == "local" else _remote(where, kind, base_url, values["api_key"], key_variable, problems)
    together = kind == "openai" and "together.xyz" in (base_url or "")  # English unless told to detect
    return replace(ProviderConfig(**values), name=name or f"provider{index}", kind=kind,
                   model=values["model"] or _DEFAULT_MODELS[kind], base_url=base_url.rstrip("/") if base_url else None,
                   api_key=values["api_key"] or None, api_key_variable=key_variable,
                   auto_language=values["auto_language"] or ("auto" if together else None),
                   enabled=reason is None, disabled_reason=reason)


def _llm(raw: Any, env: Mapping[str, str], problems: list[str]) -> LlmConfig:
    values, _ = read(LlmConfig, expand(raw, env, set()), "llm", problems)
    if not values["model"]:
        problems.append("llm.model: is required (the chat model's name, e.g. llama-3.3-70b-versatile)")
    key_variable = _variable(raw.get("api_key") if isinstance(raw, dict) else None)
    reason = _remote("llm", "llm", values["base_url"], values["api_key"], key_variable, problems)
    base_url = values["base_url"]
    return replace(LlmConfig(**values), base_url=base_url.rstrip("/") if base_url else None,
                   api_key=values["api_key"] or None, api_key_variable=key_variable, enabled=reason is None,
                   disabled_reason=reason)


def _name_problems(where: str, name: str | None) -> list[str]:
    if not name:
        return [f"{where}.name: is required (a unique name such as 'groq')"]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", name):
        return [f"{where}.name: use letters, digits, '-', '_' or '.', got {name!r}"]
    return []


def _remote(where: str, kind: str, base_url: str | None, api_key: str | None, key_variable: str | None,
            problems: list[str]) -> str | None:
    """A remote provider's problems; returns why it is off, when a key was asked for and is missing. No api_key
    at all is a self-hosted server without auth (faster-whisper-server, LocalAI, vLLM)."""
    if not base_url:
        problems.append(f"{where}.base_url: is required " + (f"for kind {kind}" if kind != "llm" else
                                                               "(e.g. https://api.groq.com/openai/v1)"))
    elif not re.match(r"https?://", base_url):
        problems.append(f"{where}.base_url: must start with http:// or https://, got {base_url!r}")
    return f"{key_variable} is not set" if not api_key and key_variable else None


def _providers(raw: Any, env: Mapping[str, str], problems: list[str]) -> tuple[ProviderConfig, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append("providers: must be a non-empty list (the failover order)")
        return ()
    providers = [_provider(item, index, env, problems) for index, item in enumerate(raw)]
    names = [p.name for p in providers]
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.append(f"providers[{index}].name: {name!r} is used twice; names must be unique")
    return tuple(providers)


def parse(document: Any, env: Mapping[str, str], source: str | None = None) -> Config:
    problems: list[str] = []
    top = _Section(document, "", problems, settings(Config))
    providers = _providers(top.data.get("providers"), env, problems)
    missing: set[str] = set()  # variables used outside the providers and telegram that are not set

    def section(name: str, cls: type) -> Any:
        return cls(**read(cls, expand(top.data.get(name), env, missing), name, problems)[0])

    cache = section("cache", CacheConfig)
    if cache.backend == "redis" and not cache.url:
        problems.append("cache.url: is required for backend redis (e.g. redis://127.0.0.1:6379/0)")
    dispatcher = section("dispatcher", DispatcherConfig)
    supervision = section("supervision", SupervisionConfig)
    if supervision.backoff.max_seconds < supervision.backoff.min_seconds:
        problems.append("supervision.backoff.max_seconds: must be >= min_seconds")
    audio = section("audio", AudioConfig)
    data_dir = expand(top.data.get("data_dir", "data"), env, missing)
    if not isinstance(data_dir, str) or not data_dir:
        problems.append("data_dir: must be a directory path")
        data_dir = "data"
    telegram = _telegram(top.data.get("telegram"), env, problems) if "telegram" in top.data else None
    http, logging_config = section("http", HttpConfig), section("logging", LoggingConfig)
    languages = _languages(expand(top.data.get("languages"), env, missing), problems)
    cluster = section("cluster", ClusterConfig)
    history = section("history", HistoryConfig)
    limits = section("limits", LimitsConfig)
    links = _links(expand(top.data.get("links"), env, missing), problems)
    speakers = _speakers(expand(top.data.get("speakers"), env, missing), problems)
    vocabulary = vocabulary_of_config(expand(top.data.get("vocabulary"), env, missing), problems)
    if not cluster.redis_url and env.get("TRANSHADES_REDIS_URL"):
        cluster = replace(cluster, redis_url=env["TRANSHADES_REDIS_URL"])
    problems += _redis_url_problems(cache, cluster)
    database_url = _database_url(expand(top.data.get("database_url"), env, missing), env, problems)
    llm = _llm(top.data.get("llm"), env, problems) if top.data.get("llm") is not None else None
    problems += [f"${{{name}}}: is used in the config but not set; set it in the environment or .env"
                 for name in sorted(missing)]
    if problems:
        raise ConfigError(problems)
    return Config(providers, cache, dispatcher, supervision, audio, data_dir, telegram, http, logging_config,
                  languages, cluster, history, database_url, llm, limits, links, speakers, vocabulary, source)


def _speakers(raw: Any, problems: list[str]) -> SpeakersConfig:
    if isinstance(raw, dict) and isinstance(raw.get("mode"), bool):  # YAML reads off and on as booleans
        raw = {**raw, "mode": "on" if raw["mode"] else "off"}
    return SpeakersConfig(**read(SpeakersConfig, raw, "speakers", problems)[0])


def _links(raw: Any, problems: list[str]) -> LinksConfig:
    values, section = read(LinksConfig, raw, "links", problems)
    networks = section.data.get("allow_networks") or []
    if not isinstance(networks, list):
        problems.append("links.allow_networks: must be a list of networks, e.g. [192.168.1.20/32]")
        networks = []
    kept = []
    for network in networks:
        try:
            kept.append(str(ipaddress.ip_network(str(network), strict=False)))
        except ValueError:
            problems.append(f"links.allow_networks: {network!r} is not a network; write it as 192.168.1.0/24 "
                            "or one address")
    return replace(LinksConfig(**values), allow_networks=tuple(kept))


def _database_url(value: Any, env: Mapping[str, str], problems: list[str]) -> str | None:
    """``database_url``, else DATABASE_URL (the Procfile platforms' convention); PostgreSQL only."""
    url = value or env.get("DATABASE_URL") or None
    if url is not None and not (isinstance(url, str) and re.match(r"postgres(ql)?://", url)):
        problems.append(f"database_url: must be a PostgreSQL URL (postgresql://...), got {redact(str(url))!r}; "
                        f"leave it out to keep everything in SQLite under data_dir")
        return None
    if url is not None:
        found = _server_url_problems("database_url", url)
        problems += found
        return None if found else url
    return url


def _redis_url_problems(cache: CacheConfig, cluster: ClusterConfig) -> list[str]:
    if cluster.redis_url and not re.match(r"rediss?://", cluster.redis_url):
        return [f"cluster.redis_url: must start with redis:// or rediss://, got {redact(cluster.redis_url)!r}"]
    problems = _server_url_problems("cluster.redis_url", cluster.redis_url) if cluster.redis_url else []
    if cache.backend == "redis" and cache.url:
        problems += _server_url_problems("cache.url", cache.url)
    return problems


def _server_url_problems(key: str, url: str) -> list[str]:
    """A server's URL whose port is no port is a bad setting, said now: found later it would read as a server that
    cannot be reached, and a process supervisor restarts such a process for ever."""
    from urllib.parse import urlsplit

    netloc = urlsplit(url).netloc.rpartition("@")[2]
    port = netloc.rpartition("]")[2].rpartition(":")[2] if ":" in netloc.rpartition("]")[2] else ""
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return [f"{key}: the port {port!r} is not a number from 1 to 65535 in {redact(url)!r}; "
                f"write it as scheme://host:port/..."]
    return []


def _languages(value: Any, problems: list[str]) -> tuple[str, ...]:
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"[\s,]+", value) if v]  # "${LANGUAGES:-id,en}" works too
    if not isinstance(value, list):
        problems.append("languages: must be a list of language codes, e.g. [id, en]")
        return ()
    codes: list[str] = []
    for index, item in enumerate(value):
        code = str(item).strip().lower() if isinstance(item, str) else None
        if not code or not re.fullmatch(r"[a-z]{2,3}", code):
            problems.append(f"languages[{index}]: {item!r} is not a language code; use codes such as id or en")
        elif code not in codes:
            codes.append(code)
    return tuple(codes)


def _ids(value: Any, where: str, problems: list[str]) -> tuple[int, ...]:
    if value in (None, "", []):
        return ()
    if isinstance(value, (int, str)):
        value = [value]
    out = []
    for item in value if isinstance(value, list) else [value]:
        try:
            out.append(int(str(item).strip()))
        except ValueError:
            problems.append(f"{where}: {item!r} is not a Telegram user or chat id (a whole number)")
    return tuple(out)


def _telegram(raw: Any, env: Mapping[str, str], problems: list[str]) -> TelegramConfig:
    values, section = read(TelegramConfig, expand(raw, env, set()), "telegram", problems)
    raw = raw if isinstance(raw, dict) else {}
    credentials, skipped = _credentials(section.data.get("credentials") or [], problems)
    needed = _unset(env, raw.get("bot_token"))
    unexpanded = raw.get("credentials")
    if not credentials and isinstance(unexpanded, list) and unexpanded and isinstance(unexpanded[0], dict):
        needed += _unset(env, unexpanded[0].get("api_id"), unexpanded[0].get("api_hash"))  # name what it lacks
    read_names = {m.group(1) for m in _VAR.finditer(repr(unexpanded))}
    unused = tuple(sorted((n for n in env if _SEED_CREDENTIAL.fullmatch(n) and env[n] and n not in read_names),
                          key=lambda n: int(_SEED_CREDENTIAL.fullmatch(n).group(1) or 1)))  # type: ignore[union-attr]
    return replace(TelegramConfig(**values), bot_token=values["bot_token"] or None,
                   bot_token_variable=_variable(raw.get("bot_token")), unset=tuple(needed),
                   credentials=credentials, skipped=skipped, unused=unused,
                   allowed_users=_ids(section.data.get("allowed_users"), "telegram.allowed_users", problems),
                   admins=_ids(section.data.get("admins"), "telegram.admins", problems))


def _unset(env: Mapping[str, str], *values: Any) -> list[str]:
    """The variables these values read that are not set."""
    return [m.group(1) for v in values if isinstance(v, str) for m in _VAR.finditer(v) if not env.get(m.group(1))]


def _credentials(raw_list: Any, problems: list[str]) -> tuple[tuple[CredentialConfig, ...], tuple[str, ...]]:
    if not isinstance(raw_list, list):
        problems.append("telegram.credentials: must be a list of {name, api_id, api_hash}")
        return (), ()
    credentials: list[CredentialConfig] = []
    skipped: list[str] = []
    for index, item in enumerate(raw_list):
        c = _Section(item, f"telegram.credentials[{index}]", problems, ("name", "api_id", "api_hash"))
        name = c.text("name", f"API-{index + 1}") or f"API-{index + 1}"
        api_id, api_hash = str(c.data.get("api_id") or "").strip(), str(c.data.get("api_hash") or "").strip()
        if not api_id or not api_hash:
            skipped.append(f"{name}: api_id or api_hash is empty")
        elif not api_id.isdigit():
            problems.append(f"telegram.credentials[{index}].api_id: must be a number from my.telegram.org")
        else:
            credentials.append(CredentialConfig(name, int(api_id), api_hash))
    names = [c.name for c in credentials]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"telegram.credentials: name {name!r} is used twice")
    return tuple(credentials), tuple(skipped)


def resolve_path(explicit: str | None, env: Mapping[str, str] | None = None) -> Path:
    """``--config PATH``, else ``TRANSHADES_CONFIG``, else ``./config.yaml``."""
    env = os.environ if env is None else env
    return Path(explicit or env.get("TRANSHADES_CONFIG") or "config.yaml")


def load(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file. Raises :class:`ConfigError` with one line per problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file; pass --config PATH or set TRANSHADES_CONFIG"]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the config file ({exc.__class__.__name__})"]) from None
    try:
        document = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError([f"{path}: nested too deeply to be a config file; see config.yaml for its shape"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{path}: {problem}{where}"]) from None
    if env is None:
        env = environment(path.parent / ".env") if (path.parent / ".env").exists() else environment()
    try:
        return parse(document, env, source=str(path))
    except RecursionError:  # a document shallow enough for YAML can still be too deep to walk
        raise ConfigError([f"{path}: nested too deeply to be a config file; see config.yaml for its shape"]) from None
