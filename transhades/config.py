"""config.yaml: load, expand ``${VAR}`` / ``${VAR:-default}`` from the environment and ``.env``, validate.

Every problem is collected and reported as one line naming its key (``providers[1].instances: must be >= 1``),
so an operator fixes the whole file in one pass. Secrets never live in the YAML: they arrive through variables,
and a remote provider whose key variable is unset is *disabled* (with a reason), not an error, so the shipped
config runs on a machine with no keys.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ConfigError

PROVIDER_KINDS = ("local", "openai", "deepgram")
CACHE_BACKENDS = ("memory", "sqlite", "redis")
ESCALATIONS = ("mark_failed", "stop_tree")
AUDIO_CODECS = ("opus", "mp3")

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# The original bot's .env names its credentials TELEGRAM_API_ID, TELEGRAM_API_ID_2, ... TELEGRAM_API_ID_5.
_SEED_CREDENTIAL = re.compile(r"TELEGRAM_API_ID(?:_(\d+))?")
# No setting needs more: a billion seconds is 31 years, and anything larger overflows timers and sleeps.
NUMBER_CEILING = 1e9


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    model: str
    instances: int = 1
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_variable: str | None = None
    max_upload_mb: float = 25.0
    timeout_seconds: float = 120.0
    beam_size: int = 1
    cpu_threads: int = 0
    http_attempts: int = 3
    retry_min_seconds: float = 0.5
    retry_max_seconds: float = 8.0
    breaker_failures: int = 3
    breaker_seconds: float = 30.0
    auto_language: str | None = None
    enabled: bool = True
    disabled_reason: str | None = None


@dataclass(frozen=True)
class CacheConfig:
    backend: str = "sqlite"
    path: str = "data/cache.sqlite3"
    url: str | None = field(default=None, repr=False)
    max_items: int = 10_000


@dataclass(frozen=True)
class DispatcherConfig:
    max_concurrent_jobs: int = 5
    per_user_limit: int = 3
    retries: int = 2


@dataclass(frozen=True)
class BackoffConfig:
    min_seconds: float = 0.5
    max_seconds: float = 30.0
    jitter: float = 0.2


@dataclass(frozen=True)
class SupervisionConfig:
    max_restarts: int = 5
    within_seconds: float = 60.0
    backoff: BackoffConfig = BackoffConfig()
    escalation: str = "mark_failed"
    shutdown_seconds: float = 5.0


@dataclass(frozen=True)
class AudioConfig:
    workers: int = 2
    codec: str = "opus"
    bitrate_kbps: int = 24
    max_duration_seconds: float = 6 * 3600
    ffmpeg_timeout_seconds: float = 1800
    temp_dir: str | None = None
    chunk_seconds: float = 600.0
    overlap_seconds: float = 1.0
    max_job_disk_mb: float = 512.0


@dataclass(frozen=True)
class CredentialConfig:
    name: str
    api_id: int
    api_hash: str = field(repr=False)


@dataclass(frozen=True)
class TelegramConfig:
    bot_token: str | None = field(default=None, repr=False)
    bot_token_variable: str | None = None
    session_dir: str = "data/sessions"
    credentials: tuple[CredentialConfig, ...] = ()
    skipped: tuple[str, ...] = ()  # "name: why", for credentials left out
    unset: tuple[str, ...] = ()  # variables the token and the first credential need but are not set
    unused: tuple[str, ...] = ()  # TELEGRAM_API_ID_N variables that are set but that no credential reads
    max_file_mb: float = 2000.0
    allowed_users: tuple[int, ...] = ()
    admins: tuple[int, ...] = ()
    downloads_per_credential: int = 2
    downloads_per_minute: int = 0  # per credential: paces each session; 0: no pacing
    send_interval_seconds: float = 1.0  # per chat
    send_per_second: int = 30  # in all chats: Telegram's limit for a bot (higher only with paid broadcasts)
    edit_interval_seconds: float = 3.0  # per status message
    status_delay_seconds: float = 1.0  # no status message for a job answered within this time
    user_jobs_per_minute: int = 10  # per user (admins are exempt); 0: no limit
    journal_keep_hours: float = 24.0  # finished jobs stay in the journal this long
    drain_seconds: float = 15.0  # on SIGTERM, in-flight jobs get this long to finish before they are parked


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080  # 0: no HTTP endpoint (transhades run only; the CLI never serves one)


@dataclass(frozen=True)
class LoggingConfig:
    format: str = "plain"  # plain | json, one line per record on stdout
    level: str = "info"


@dataclass(frozen=True)
class Config:
    providers: tuple[ProviderConfig, ...]
    cache: CacheConfig = CacheConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    audio: AudioConfig = AudioConfig()
    data_dir: str = "data"
    source: str | None = None
    telegram: TelegramConfig | None = None
    http: HttpConfig = HttpConfig()
    logging: LoggingConfig = LoggingConfig()
    languages: tuple[str, ...] = ()  # what auto-detection may choose among; empty: any language

    @property
    def enabled_providers(self) -> tuple[ProviderConfig, ...]:
        return tuple(p for p in self.providers if p.enabled)

    def secrets(self) -> list[str]:
        """Every secret value the config holds, for the log redactor."""
        values = [p.api_key for p in self.providers if p.api_key]
        if self.telegram:
            values += [self.telegram.bot_token or ""] + [c.api_hash for c in self.telegram.credentials]
        if self.cache.url and "@" in self.cache.url:
            values.append(self.cache.url)
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
        kind = "a whole number" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problems.append(f"{self._key(key)}: must be {kind}, got {value!r}")
            return default
        if not math.isfinite(value):  # YAML's .inf and .nan; int() of them would raise
            self.problems.append(f"{self._key(key)}: must be a finite number, got {value!r}")
            return default
        if integer and int(value) != value:
            self.problems.append(f"{self._key(key)}: must be {kind}, got {value!r}")
            return default
        if minimum is not None and value < minimum:
            self.problems.append(f"{self._key(key)}: must be >= {minimum:g}")
            return default
        ceiling = NUMBER_CEILING if maximum is None else maximum
        if value > ceiling:
            self.problems.append(f"{self._key(key)}: must be <= {ceiling:g}")
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


_PROVIDER_KEYS = ("name", "kind", "model", "base_url", "api_key", "max_upload_mb", "instances", "timeout_seconds",
                  "beam_size", "cpu_threads", "http_attempts", "retry_min_seconds", "retry_max_seconds",
                  "breaker_failures", "breaker_seconds", "auto_language")
_DEFAULT_MODELS = {"local": "base", "openai": "whisper-large-v3-turbo", "deepgram": "nova-3"}


def _provider(raw: Any, index: int, raw_key: Any, env_missing: set[str], problems: list[str]) -> ProviderConfig | None:
    where = f"providers[{index}]"
    s = _Section(raw, where, problems, _PROVIDER_KEYS)
    name = s.text("name", None)
    kind = s.text("kind", None, choices=PROVIDER_KINDS)
    if not name:
        problems.append(f"{where}.name: is required (a unique name such as 'groq')")
    elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", name):
        problems.append(f"{where}.name: use letters, digits, '-', '_' or '.', got {name!r}")
    if kind is None and "kind" not in s.data:
        problems.append(f"{where}.kind: is required, one of {', '.join(PROVIDER_KINDS)}")
    kind = kind or "local"
    model = s.text("model", _DEFAULT_MODELS[kind]) or _DEFAULT_MODELS[kind]
    base_url = s.text("base_url", None)
    api_key = s.text("api_key", None)
    instances = s.number("instances", 1, minimum=1, maximum=64, integer=True)
    max_upload_mb = s.number("max_upload_mb", 25.0, minimum=0.01)
    timeout = s.number("timeout_seconds", 120.0, minimum=1)
    beam_size = s.number("beam_size", 1, minimum=1, maximum=10, integer=True)
    cpu_threads = s.number("cpu_threads", 0, minimum=0, maximum=256, integer=True)
    http_attempts = s.number("http_attempts", 3, minimum=1, maximum=10, integer=True)
    retry_min = s.number("retry_min_seconds", 0.5, minimum=0)
    retry_max = s.number("retry_max_seconds", 8.0, minimum=0)
    breaker_failures = s.number("breaker_failures", 3, minimum=1, integer=True)
    breaker_seconds = s.number("breaker_seconds", 30.0, minimum=0.01)
    auto_language = s.text("auto_language", None)
    if auto_language is None and kind == "openai" and base_url and "together.xyz" in base_url:
        auto_language = "auto"  # Together transcribes as English unless told to detect
    enabled, reason = True, None
    key_variable = None
    if isinstance(raw_key, str):
        m = _VAR.search(raw_key)
        key_variable = m.group(1) if m else None
    if kind != "local":
        if not base_url:
            problems.append(f"{where}.base_url: is required for kind {kind}")
        elif not re.match(r"https?://", base_url):
            problems.append(f"{where}.base_url: must start with http:// or https://, got {base_url!r}")
        if not api_key and key_variable:  # a key was asked for and is missing: off, with the reason
            enabled = False
            reason = f"{key_variable} is not set"
        # no api_key at all: a self-hosted server without auth (faster-whisper-server, LocalAI, vLLM)
    return ProviderConfig(name=name or f"provider{index}", kind=kind, model=model, instances=instances,
                          base_url=base_url.rstrip("/") if base_url else None, api_key=api_key or None,
                          api_key_variable=key_variable, max_upload_mb=max_upload_mb, timeout_seconds=timeout,
                          beam_size=beam_size, cpu_threads=cpu_threads, http_attempts=http_attempts,
                          retry_min_seconds=retry_min, retry_max_seconds=retry_max, breaker_failures=breaker_failures,
                          breaker_seconds=breaker_seconds, auto_language=auto_language or None, enabled=enabled,
                          disabled_reason=reason)


def parse(document: Any, env: Mapping[str, str], source: str | None = None) -> Config:
    problems: list[str] = []
    top = _Section(document, "", problems,
                   ("providers", "cache", "dispatcher", "supervision", "audio", "data_dir", "telegram", "logging",
                    "http", "languages"))
    raw_providers = top.data.get("providers")
    providers: list[ProviderConfig] = []
    if not isinstance(raw_providers, list) or not raw_providers:
        problems.append("providers: must be a non-empty list (the failover order)")
        raw_providers = []
    for index, raw in enumerate(raw_providers):
        missing: set[str] = set()
        expanded = expand(raw, env, missing)
        raw_key = raw.get("api_key") if isinstance(raw, dict) else None
        provider = _provider(expanded, index, raw_key, missing, problems)
        if provider:
            providers.append(provider)
    names = [p.name for p in providers]
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.append(f"providers[{index}].name: {name!r} is used twice; names must be unique")

    missing_top: set[str] = set()
    c = _Section(expand(top.data.get("cache"), env, missing_top), "cache", problems,
                 ("backend", "path", "url", "max_items"))
    cache = CacheConfig(
        backend=c.text("backend", "sqlite", choices=CACHE_BACKENDS),
        path=c.text("path", "data/cache.sqlite3"),
        url=c.text("url", None),
        max_items=c.number("max_items", 10_000, minimum=1, integer=True),
    )
    if cache.backend == "redis" and not cache.url:
        problems.append("cache.url: is required for backend redis (e.g. redis://127.0.0.1:6379/0)")

    d = _Section(expand(top.data.get("dispatcher"), env, missing_top), "dispatcher", problems,
                 ("max_concurrent_jobs", "per_user_limit", "retries"))
    dispatcher = DispatcherConfig(
        max_concurrent_jobs=d.number("max_concurrent_jobs", 5, minimum=1, integer=True),
        per_user_limit=d.number("per_user_limit", 3, minimum=1, integer=True),
        retries=d.number("retries", 2, minimum=0, maximum=20, integer=True),
    )

    sv = _Section(expand(top.data.get("supervision"), env, missing_top), "supervision", problems,
                  ("max_restarts", "within_seconds", "backoff", "escalation", "shutdown_seconds"))
    b = _Section(sv.data.get("backoff"), "supervision.backoff", problems, ("min_seconds", "max_seconds", "jitter"))
    backoff = BackoffConfig(
        min_seconds=b.number("min_seconds", 0.5, minimum=0),
        max_seconds=b.number("max_seconds", 30.0, minimum=0),
        jitter=b.number("jitter", 0.2, minimum=0, maximum=1),
    )
    if backoff.max_seconds < backoff.min_seconds:
        problems.append("supervision.backoff.max_seconds: must be >= min_seconds")
    supervision = SupervisionConfig(
        max_restarts=sv.number("max_restarts", 5, minimum=0, integer=True),
        within_seconds=sv.number("within_seconds", 60.0, minimum=0.001),
        backoff=backoff,
        escalation=sv.text("escalation", "mark_failed", choices=ESCALATIONS),
        shutdown_seconds=sv.number("shutdown_seconds", 5.0, minimum=0.1),
    )

    a = _Section(expand(top.data.get("audio"), env, missing_top), "audio", problems,
                 ("workers", "codec", "bitrate_kbps", "max_duration_seconds", "ffmpeg_timeout_seconds", "temp_dir",
                  "chunk_seconds", "overlap_seconds", "max_job_disk_mb"))
    audio = AudioConfig(
        workers=a.number("workers", 2, minimum=1, maximum=64, integer=True),
        codec=a.text("codec", "opus", choices=AUDIO_CODECS),
        bitrate_kbps=a.number("bitrate_kbps", 24, minimum=6, maximum=320, integer=True),
        max_duration_seconds=a.number("max_duration_seconds", 6 * 3600, minimum=1),
        ffmpeg_timeout_seconds=a.number("ffmpeg_timeout_seconds", 1800, minimum=1),
        temp_dir=a.text("temp_dir", None),
        chunk_seconds=a.number("chunk_seconds", 600.0, minimum=10),
        overlap_seconds=a.number("overlap_seconds", 1.0, minimum=0, maximum=10),
        max_job_disk_mb=a.number("max_job_disk_mb", 512.0, minimum=1),
    )
    data_dir = expand(top.data.get("data_dir", "data"), env, missing_top)
    if not isinstance(data_dir, str) or not data_dir:
        problems.append("data_dir: must be a directory path")
        data_dir = "data"
    telegram = _telegram(top.data.get("telegram"), env, problems) if "telegram" in top.data else None
    h = _Section(expand(top.data.get("http"), env, missing_top), "http", problems, ("host", "port"))
    http = HttpConfig(host=h.text("host", "127.0.0.1"), port=h.number("port", 8080, minimum=0, maximum=65535,
                                                                       integer=True))
    lg = _Section(expand(top.data.get("logging"), env, missing_top), "logging", problems, ("format", "level"))
    logging_config = LoggingConfig(format=lg.text("format", "plain", choices=("plain", "json")),
                                   level=lg.text("level", "info", choices=("debug", "info", "warning", "error")))
    languages = _languages(expand(top.data.get("languages"), env, missing_top), problems)
    if missing_top:
        for name in sorted(missing_top):
            problems.append(f"${{{name}}}: is used in the config but not set; set it in the environment or .env")
    if problems:
        raise ConfigError(problems)
    return Config(tuple(providers), cache, dispatcher, supervision, audio, data_dir, source, telegram, http,
                  logging_config, languages)


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
    def unset_in(*values: Any) -> list[str]:
        return [m.group(1) for v in values if isinstance(v, str) for m in _VAR.finditer(v) if not env.get(m.group(1))]

    needed = unset_in(raw.get("bot_token")) if isinstance(raw, dict) else []
    raw_token = raw.get("bot_token") if isinstance(raw, dict) else None
    token_var = _VAR.search(raw_token).group(1) if isinstance(raw_token, str) and _VAR.search(raw_token) else None
    t = _Section(expand(raw, env, set()), "telegram", problems,
                 ("bot_token", "session_dir", "credentials", "max_file_mb", "allowed_users", "admins",
                  "downloads_per_credential", "downloads_per_minute", "send_interval_seconds", "send_per_second",
                  "edit_interval_seconds",
                  "status_delay_seconds", "user_jobs_per_minute", "journal_keep_hours", "drain_seconds"))
    credentials: list[CredentialConfig] = []
    skipped: list[str] = []
    raw_list = t.data.get("credentials") or []
    if not isinstance(raw_list, list):
        problems.append("telegram.credentials: must be a list of {name, api_id, api_hash}")
        raw_list = []
    for index, item in enumerate(raw_list):
        c = _Section(item, f"telegram.credentials[{index}]", problems, ("name", "api_id", "api_hash"))
        name = c.text("name", f"API-{index + 1}") or f"API-{index + 1}"
        api_id, api_hash = str(c.data.get("api_id") or "").strip(), str(c.data.get("api_hash") or "").strip()
        if not api_id or not api_hash:
            skipped.append(f"{name}: api_id or api_hash is empty")
            continue
        if not api_id.isdigit():
            problems.append(f"telegram.credentials[{index}].api_id: must be a number from my.telegram.org")
            continue
        credentials.append(CredentialConfig(name, int(api_id), api_hash))
    unexpanded = raw.get("credentials") if isinstance(raw, dict) else None
    if not credentials and isinstance(unexpanded, list) and unexpanded and isinstance(unexpanded[0], dict):
        needed += unset_in(unexpanded[0].get("api_id"), unexpanded[0].get("api_hash"))  # name what it lacks
    names = [c.name for c in credentials]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"telegram.credentials: name {name!r} is used twice")
    read = {m.group(1) for m in _VAR.finditer(repr(raw.get("credentials") if isinstance(raw, dict) else None))}
    unused = tuple(sorted((n for n in env if _SEED_CREDENTIAL.fullmatch(n) and env[n] and n not in read),
                          key=lambda n: int(_SEED_CREDENTIAL.fullmatch(n).group(1) or 1)))
    return TelegramConfig(
        bot_token=t.text("bot_token", None) or None, bot_token_variable=token_var, unset=tuple(needed),
        session_dir=t.text("session_dir", "data/sessions"), credentials=tuple(credentials), skipped=tuple(skipped),
        unused=unused,
        max_file_mb=t.number("max_file_mb", 2000.0, minimum=1, maximum=4000),
        allowed_users=_ids(t.data.get("allowed_users"), "telegram.allowed_users", problems),
        admins=_ids(t.data.get("admins"), "telegram.admins", problems),
        downloads_per_credential=t.number("downloads_per_credential", 2, minimum=1, maximum=8, integer=True),
        downloads_per_minute=t.number("downloads_per_minute", 0, minimum=0, maximum=10_000, integer=True),
        send_interval_seconds=t.number("send_interval_seconds", 1.0, minimum=0),
        send_per_second=t.number("send_per_second", 30, minimum=1, maximum=1000, integer=True),
        edit_interval_seconds=t.number("edit_interval_seconds", 3.0, minimum=0),
        status_delay_seconds=t.number("status_delay_seconds", 1.0, minimum=0),
        user_jobs_per_minute=t.number("user_jobs_per_minute", 10, minimum=0, integer=True),
        journal_keep_hours=t.number("journal_keep_hours", 24.0, minimum=0),
        drain_seconds=t.number("drain_seconds", 15.0, minimum=0, maximum=20),
    )


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
