"""The ``transhades`` command.

- ``transhades transcribe FILE...``: the offline path. It starts the same supervisor, dispatcher, cache and
  provider actors as the bot (no Telegram), submits one job per file, prints each result in file order.
- ``transhades check-config``: validates the config and prints the actor tree that would start.
- ``transhades run``: the Telegram bot (see the README for its state).

User errors end in one ``error: ...`` line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import re
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn, TextIO

from transhades import config as config_lib
from transhades.app import logs, service
from transhades.config import Config, ConfigError
from transhades.dispatch.routing import failover_order
from transhades.formats import FORMATS, render
from transhades.links.fetch import is_link, shown
from transhades.media import LocalFile, WebLink
from transhades.messages import Completed, Failed, JobRequest, Partial, Queued, Stage, SubmitJob, Waiting
from transhades.speakers.local import MISSING as SPEAKERS_MISSING
from transhades.speakers.local import available as speakers_available
from transhades.telegram.texts import say
from transhades.vocabulary.terms import MOST_TERMS, VocabularyProblem, merged
from transhades.vocabulary.terms import parse as parse_vocabulary

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_STRICT_MISSED = 2  # bench --strict: every step measured, a target missed
log = logging.getLogger("transhades.cli")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "transhades"


def embedded_config() -> Config:
    """What ``transcribe`` uses when there is no config file at all: the local model, a persistent cache."""
    data = default_data_dir()
    return config_lib.parse(
        {
            "providers": [{"name": "local", "kind": "local", "model": "base", "instances": 1}],
            "cache": {"backend": "sqlite", "path": str(data / "cache.sqlite3")},
            "data_dir": str(data),
        },
        env={},
        source="(embedded default)",
    )


def load_config(explicit: str | None, allow_embedded: bool) -> Config:
    path = config_lib.resolve_path(explicit)
    if allow_embedded and not explicit and not os.environ.get("TRANSHADES_CONFIG") and not path.exists():
        return embedded_config()
    return config_lib.load(path)


def _language(value: str) -> str | None:
    value = value.strip().lower()
    if value in ("", "auto"):
        return None
    if not re.fullmatch(r"[a-z]{2,3}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a language code; use a code such as en or id, or auto")
    return value


def _vocabulary(value: str) -> tuple[str, ...]:
    try:
        terms = parse_vocabulary(value)
    except VocabularyProblem as problem:
        raise argparse.ArgumentTypeError(say("en", problem.key, **problem.values)) from None
    if len(terms) > MOST_TERMS:
        raise argparse.ArgumentTypeError(f"{len(terms)} terms; give at most {MOST_TERMS}")
    return terms


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line and exit 2, as for every other user error
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")  # prog: "transhades [command]"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="transhades", description="Voice notes, audio and video to text.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("transcribe", help="transcribe files offline through the actor system")
    t.add_argument("files", nargs="+", metavar="FILE", help="a file, or an http(s) link to a recording")
    t.add_argument("--format", choices=FORMATS, default="text")
    t.add_argument("--words", action="store_true",
                   help="srt: a cue per word, where the provider timed the words (json and vtt carry them anyway)")
    t.add_argument("--provider", help="provider name to try first (see check-config)")
    t.add_argument("--language", type=_language, default=None, help="language code, or auto (default)")
    t.add_argument("--config", help="config file (default: $TRANSHADES_CONFIG, ./config.yaml, embedded)")
    t.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    t.add_argument("--speakers", action="store_const", const="on", default=None,
                   help="who said what: 'Speaker 1: ...' (default: the config's speakers.mode, off unless set); "
                        "offline, in the base install")
    t.add_argument("--vocab", type=_vocabulary, default=(), metavar='"A, B"',
                   help="names and terms to spell right, comma-separated (with the config's vocabulary)")

    h = sub.add_parser("chat", help="talk to the whole bot from a terminal, against a simulated Telegram")
    h.add_argument("--config", help="config file (default: $TRANSHADES_CONFIG, ./config.yaml, embedded)")
    h.add_argument("--user", type=int, default=1, help="the Telegram user id you are (default 1)")
    h.add_argument("--language", default="en", help="your Telegram language code (default en)")
    h.add_argument("--json", action="store_true", help="one JSON object per line")
    h.add_argument("--live", action="store_true",
                   help="send each line at once, while jobs run (as a terminal does); /wait waits for the bot")
    h.add_argument("--out", help="where the documents the bot sends are written (default: a temporary folder)")
    h.add_argument("--cache", choices=("session", "config"), default="session",
                   help="session: a cache of this chat's own (default); config: the config's cache")

    c = sub.add_parser("check-config", help="validate the config and print the actor tree")
    c.add_argument("--config")

    r = sub.add_parser("run", help="run the Telegram bot")
    r.add_argument("--config")
    r.add_argument("--role", choices=("all", "front", "worker"), default="all",
                   help="all: the whole bot in this process (default); front/worker: one part of a cluster "
                        "sharing work through Redis (cluster.redis_url)")

    s = sub.add_parser("simulate", help="the actor system against a simulated Telegram, with faults injected")
    s.add_argument("--jobs", type=int, default=200)
    s.add_argument("--users", type=int, default=50)
    s.add_argument("--credentials", type=int, default=3)
    s.add_argument("--providers", type=int, default=2)
    s.add_argument("--crash-rate", type=float, default=0.0, help="chance a worker crashes handling a task")
    s.add_argument("--flood-rate", type=float, default=0.0, help="chance a download raises FloodWait")
    s.add_argument("--provider-error-rate", type=float, default=0.0, help="chance of a 429, 5xx or timeout")
    s.add_argument("--duplicate-rate", type=float, default=0.0, help="chance a message forwards an earlier file")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--cluster", action="store_true",
                   help="a front, a standby and --workers worker processes against Redis and PostgreSQL servers of "
                        "the simulation's own, with the --faults injected on a schedule")
    s.add_argument("--workers", type=int, default=3, help="with --cluster: worker processes")
    s.add_argument("--faults", default="all",
                   help="with --cluster: comma-separated, in order: redis-restart, redis-wipe, postgres-restart, "
                        "worker-kill, worker-stop, front-kill (or all)")
    s.add_argument("--gap", type=float, default=6.0, help="with --cluster: seconds between faults")

    from transhades.devtools.catalog import step_help

    b = sub.add_parser("bench", help="measure the brief's numbers against baselines in the same run; exits 1 when a "
                                     "step failed (and 2 with --strict when a target was missed)")
    b.add_argument("--quick", action="store_true", help="smaller inputs; about 5 minutes on 2 cores")
    b.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    b.add_argument("--out", help="also write the JSON here, and a PNG of latency distributions beside it")
    b.add_argument("--history", help="append this run as one line to a JSON-lines file")
    b.add_argument("--only", help=f"comma-separated benchmarks to run: {step_help()}")
    b.add_argument("--strict", action="store_true", help="exit 2 when a figure missed its target")
    b.add_argument("--markdown", metavar="DIR", nargs="?", const="bench",
                   help="run nothing: print the README's performance section from DIR/latest-quick.json and "
                        "DIR/latest-full.json (default bench)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # transcribe's stderr is for the user: only errors unless asked (-v: operations, -vv: everything)
    quiet = logging.ERROR if args.command in ("transcribe", "bench", "simulate") else logging.WARNING
    level = quiet if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    redactor = logs.setup(level)
    if args.command in ("bench", "simulate") and args.verbose == 0:
        logging.getLogger("pykka").setLevel(logging.CRITICAL)  # their crashes are on purpose
    commands = {
        "check-config": lambda: check_config(args, sys.stdout),
        "transcribe": lambda: _transcribe_command(args, redactor),
        "bench": lambda: bench(args),
        "simulate": lambda: simulate(args),
        "chat": lambda: chat(args),
        # the tree's modules load after the stop handlers are in place
        "run": lambda: service.main(args.config, args.verbose, _start_tree, _kurigram_gateways, args.role),
    }
    try:
        if args.command in commands:
            return commands[args.command]()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `transhades ... | head`: the reader left; nothing more to say, no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    return EXIT_USAGE


# ------------------------------------------------------------------------------------------------ check-config


Row = tuple[str, str, str]  # (kind, count, detail) of one line of the tree


def describe_tree(cfg: Config) -> list[str]:
    s = cfg.supervision
    lines = [
        f"config: {cfg.source} (valid)",
        f"supervisor: one_for_one, more than {s.max_restarts} restarts within {s.within_seconds:g} s escalates "
        f"({s.escalation}); backoff {s.backoff.min_seconds:g}..{s.backoff.max_seconds:g} s, jitter "
        f"{s.backoff.jitter:g}",
    ]
    d = cfg.dispatcher
    rows = [*_cache_and_audio_rows(cfg), *(_provider_row(p) for p in cfg.providers), *_telegram_rows(cfg),
            ("dispatcher", "1", f"dispatcher (max {d.max_concurrent_jobs} jobs, {d.per_user_limit} per user, "
                                f"{d.retries} retries)"), *_llm_rows(cfg), *_bot_rows(cfg)]
    width = max(len(r[0]) for r in rows)
    for index, (kind, count, detail) in enumerate(rows):
        branch = "└─" if index == len(rows) - 1 else "├─"
        lines.append(f"{branch} {kind.ljust(width)}  x{count}  {detail}")
    order = failover_order((p.name, p.kind) for p in cfg.enabled_providers)
    lines.append(f"failover order: {' -> '.join(order) if order else 'none: no provider is enabled'}")
    return lines


def _cache_and_audio_rows(cfg: Config) -> list[Row]:
    where = {"sqlite": cfg.cache.path, "memory": f"max {cfg.cache.max_items} items"}.get(cfg.cache.backend, "redis")
    workers = ", ".join(f"audio-{i}" for i in range(1, cfg.audio.workers + 1))
    return [("cache", "1", f"cache ({cfg.cache.backend}, {where})"),
            ("audio", str(cfg.audio.workers), f"{workers} ({_codec_words(cfg)})")]


def _codec_words(cfg: Config) -> str:
    codec = cfg.audio_codec
    words = "16 kHz PCM" if codec == "wav" else f"{codec} {cfg.audio.bitrate_kbps} kbps"
    return f"{words}, chosen automatically" if cfg.audio.codec == "auto" else words


def _provider_row(p: Any) -> Row:
    if not p.enabled:
        return f"provider:{p.name}", "0", f"disabled: {p.disabled_reason}"
    names = ", ".join(f"provider:{p.name}-{i}" for i in range(1, p.instances + 1))
    where = f"model {p.model}" + (f", {p.base_url}, upload limit {p.max_upload_mb:g} MB" if p.base_url else "")
    return f"provider:{p.name}", str(p.instances), f"{names} ({p.kind}, {where})"


def _telegram_rows(cfg: Config) -> list[Row]:
    tg = cfg.telegram
    if tg is None:
        return []
    rows = []
    for index, c in enumerate(tg.credentials):
        role = "receives updates, sends replies" if index == 0 else "downloads only (no_updates)"
        rows.append((f"credential:{c.name}", "1",
                     f"credential:{c.name} ({role}, {tg.downloads_per_credential} downloads at once)"))
    for skipped in tg.skipped:
        name, _, why = skipped.partition(": ")
        rows.append((f"credential:{name}", "0", f"skipped: {why}"))
    return rows


def _llm_rows(cfg: Config) -> list[Row]:
    """The language model actor behind /translate and /summary (started with the bot)."""
    llm = cfg.llm
    if llm is None or cfg.telegram is None:
        return []
    if not llm.enabled:
        return [("llm", "0", f"disabled: {llm.disabled_reason} (/translate en uses the local model)")]
    names = ", ".join(f"llm-{i}" for i in range(1, llm.instances + 1))
    return [("llm", str(llm.instances), f"{names} (model {llm.model}, {llm.base_url}; /translate, /summary)")]


def _bot_rows(cfg: Config) -> list[Row]:
    if cfg.telegram is None:
        return []
    missing = service.missing_for_run(cfg)
    if missing:
        return [("bot", "0", f"not started: needs {', '.join(missing)}")]
    return [("bot", "1", "bot (transhades run)")]


def check_config(args: argparse.Namespace, out: TextIO) -> int:
    cfg = load_config(args.config, allow_embedded=False)
    for line in describe_tree(cfg):
        print(line, file=out)
    for warning in service.unused_credential_warnings(cfg):
        print(f"warning: {warning}", file=sys.stderr)
    if not cfg.enabled_providers:
        print("error: no provider is enabled; set a provider's key variable or add a local provider",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ simulate


def simulate(args: argparse.Namespace) -> int:
    import json

    if args.cluster:
        return simulate_cluster(args)
    from transhades.devtools.simulate import Options
    from transhades.devtools.simulate import run as run_simulation

    for name in ("crash_rate", "flood_rate", "provider_error_rate", "duplicate_rate"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            print(f"error: --{name.replace('_', '-')} must be between 0 and 1", file=sys.stderr)
            return EXIT_USAGE
    if args.jobs < 1 or args.users < 1 or args.credentials < 1 or args.providers < 1:
        print("error: --jobs, --users, --credentials and --providers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    result = run_simulation(Options(args.jobs, args.users, args.credentials, args.providers, args.crash_rate,
                                    args.flood_rate, args.provider_error_rate, args.duplicate_rate, args.seed))
    print(json.dumps(result, indent=2) if args.json else _simulation_table(result))
    if result.get("tree_stopped"):
        print(f"error: the actor tree stopped during the simulation: {result['tree_stopped']}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if result["lost"] or result["duplicate_replies"] else EXIT_OK


def simulate_cluster(args: argparse.Namespace) -> int:
    import json

    from transhades.devtools.cluster_sim import FAULTS, ClusterOptions
    from transhades.devtools.cluster_sim import run as run_cluster

    faults = FAULTS if args.faults == "all" else tuple(f.strip() for f in args.faults.split(",") if f.strip())
    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults:
        print(f"error: --faults: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(FAULTS)} or "
              f"all", file=sys.stderr)
        return EXIT_USAGE
    if args.workers < 1 or args.gap <= 0:
        print("error: --workers must be at least 1 and --gap above 0", file=sys.stderr)
        return EXIT_USAGE
    say = (lambda line: print(line, file=sys.stderr)) if args.verbose else None
    report = run_cluster(ClusterOptions(workers=args.workers, faults=faults, gap=args.gap, seed=args.seed), say)
    if report.skipped:
        print(f"simulate --cluster: skipped: {report.skipped}", file=sys.stderr)
        return EXIT_OK
    result = report.as_dict()
    print(json.dumps(result, indent=2) if args.json else
          "\n".join(f"{key:18} {value}" for key, value in result.items() if key != "skipped"))
    return EXIT_FAILED if report.lost or report.duplicated else EXIT_OK


def _simulation_table(result: dict[str, Any]) -> str:
    lines = []
    for key in ("submitted", "completed", "failed", "lost", "duplicate_replies", "refused_repeats", "restarts",
                "quarantines", "throughput_jobs_per_s", "ideal_jobs_per_s"):
        value = result[key]
        lines.append(f"{key:24} {value:.2f}" if isinstance(value, float) else f"{key:24} {value}")
    for key in ("latency_ms", "failover_ms", "cache_hit_ms"):
        lines.append(f"{key:24} " + ", ".join(f"{p} {'n/a' if v is None else f'{v:.1f}'}"
                                              for p, v in result[key].items()))
    return "\n".join(lines)


def _transcribe_command(args: argparse.Namespace, redactor: Any) -> int:
    cfg = load_config(args.config, allow_embedded=True)
    redactor.add(cfg.secrets())
    return transcribe(cfg, args, sys.stdout, sys.stderr)


def chat(args: argparse.Namespace) -> int:
    from transhades.app import chat as chat_lib

    if args.verbose == 0:
        logging.getLogger().setLevel(logging.WARNING)  # the conversation, not the bot's log
    return chat_lib.run(load_config(args.config, allow_embedded=True), _start_tree, sys.stdin, sys.stdout,
                        sys.stderr, args.user, args.language, args.json, Path(args.out) if args.out else None,
                        args.cache == "config", live=args.live)


def _start_tree(*args: Any, **kwargs: Any) -> Any:
    import transhades.app.tree as supervisor

    return supervisor.start_tree(*args, **kwargs)


def _kurigram_gateways(cfg: Config) -> Any:
    import transhades.app.tree as supervisor

    return supervisor.kurigram_gateways(cfg)


# ------------------------------------------------------------------------------------------------ bench


def bench(args: argparse.Namespace) -> int:
    import json

    from transhades.devtools import catalog, registry, report

    if args.markdown is not None:
        folder = Path(args.markdown)
        print(report.markdown(catalog.REGISTRY, report.load(folder / "latest-quick.json"),
                              report.load(folder / "latest-full.json")))
        return EXIT_OK
    only = tuple(name.strip() for name in (args.only or "").split(",") if name.strip())
    unknown = [name for name in only if name not in catalog.STEPS]
    if unknown:
        print(f"error: --only: unknown {', '.join(unknown)}; choose from {', '.join(catalog.STEPS)}",
              file=sys.stderr)
        return EXIT_USAGE
    from transhades.devtools import bench as bench_lib

    result = catalog.run(args.quick, progress=lambda label: print(f"bench: {label}…", file=sys.stderr), only=only)
    if args.out:
        bench_lib.write(result, Path(args.out))
    result.pop("_latencies", None)
    if args.history:
        with open(args.history, "a", encoding="utf-8") as history:
            history.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2) if args.json else report.table(result, catalog.REGISTRY))
    failed = registry.failed_steps(result)
    for key, reason in failed.items():
        print(f"error: bench step {key} failed: {reason}", file=sys.stderr)
    if failed:
        return EXIT_FAILED
    missed = registry.missed(result)
    if missed:
        print(f"bench: missed targets: {', '.join(missed)}", file=sys.stderr)
    return EXIT_STRICT_MISSED if args.strict and missed else EXIT_OK


# ------------------------------------------------------------------------------------------------ run


def run(cfg: Config, err: TextIO, gateway_factory: Any = None, stop_event: Any = None) -> int:
    """The bot (``transhades run``): the service loop over the application's tree."""
    import transhades.app.tree as supervisor

    return service.run(cfg, err, supervisor.start_tree, supervisor.kurigram_gateways, gateway_factory, stop_event)


# ------------------------------------------------------------------------------------------------ transcribe


class _Bar:
    """A progress bar on stderr, only on a terminal and only for work that lasts more than a moment."""

    def __init__(self, enabled: bool, stream: TextIO) -> None:
        self.enabled = enabled and stream.isatty()
        self.stream = stream
        self.bars: dict[str, Any] = {}

    def update(self, label: str, job_id: str, fraction: float | None, text: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(job_id)
        if bar is None:
            bar = self.bars[job_id] = tqdm(total=100, desc=label, file=self.stream, delay=2, leave=False,
                                           bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")
        bar.set_postfix_str(text, refresh=False)
        if fraction is not None:
            bar.n = int(fraction * 100)
        bar.refresh()

    def close(self, job_id: str) -> None:
        bar = self.bars.pop(job_id, None)
        if bar is not None:
            bar.close()


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived while a command was working."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread while the block runs."""
    import signal

    def raise_interrupted(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install handlers (in-process tests call from others)
        return
    previous = {sig: signal.signal(sig, raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


INTERRUPTED_STOP_SECONDS = 1.0  # an interrupted command stops its actors this quickly; nothing is worth keeping


def _unusable(cfg: Config, args: argparse.Namespace) -> str | None:
    """Why ``transcribe`` cannot run with this config and these options, or None."""
    if not cfg.enabled_providers:
        return "no provider is enabled; run 'transhades check-config' to see why"
    if args.provider and args.provider not in {p.name for p in cfg.enabled_providers}:
        names = ", ".join(p.name for p in cfg.enabled_providers)
        return f"--provider {args.provider}: no such enabled provider; enabled: {names}"
    return None


def transcribe(cfg: Config, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One job per file through the very same tree as the bot; results in file order. On SIGINT or SIGTERM every
    ffmpeg is stopped, the temporary files go, and the exit code is 128 + the signal's number, at once."""
    from transhades.app.tree import start_tree, temp_root_of
    from transhades.audio import prepare as audio_lib

    problem = _unusable(cfg, args)
    if problem:
        print(f"error: {problem}", file=err)
        return EXIT_USAGE
    speakers = getattr(args, "speakers", None) or cfg.speakers.mode
    if speakers != "off" and not speakers_available() and not any(p.kind == "deepgram" for p in cfg.enabled_providers):
        print(f"warning: {SPEAKERS_MISSING}; the transcripts come without speaker labels", file=err)
    audio_lib.CHILDREN.reopen()
    events: queue.Queue = queue.Queue()
    tree = None
    stop_seconds = 25.0
    try:
        with signals_interrupt():
            tree = start_tree(cfg)
            jobs: list[tuple[str, str]] = []
            for file in args.files:
                job_id = uuid.uuid4().hex
                jobs.append((job_id, shown(file) if is_link(file) else file))  # a link's token is not repeated
                media = WebLink(file) if is_link(file) else LocalFile(str(Path(file).absolute()))
                request = JobRequest(job_id, "cli", media, provider=args.provider, language=args.language,
                                     speakers=speakers, vocabulary=merged(getattr(args, "vocab", ()), cfg.vocabulary))
                if not tree.tell_dispatcher(SubmitJob(request, events.put)):
                    print("error: the dispatcher is not running; see the log above", file=err)
                    return EXIT_FAILED
            return _collect(jobs, events, args, out, err)
    except Interrupted as exc:
        audio_lib.CHILDREN.stop_all()  # first, so nothing writes into the directories about to go
        stop_seconds = INTERRUPTED_STOP_SECONDS
        if tree is None:  # interrupted while starting: the tree's handle never came back
            shutil.rmtree(temp_root_of(cfg), ignore_errors=True)
        print("interrupted: stopped; the files not printed above were not transcribed", file=err)
        return 128 + exc.signum
    finally:
        if tree is not None:
            tree.stop(timeout=stop_seconds)  # also removes the temporary files


def _collect(jobs: list[tuple[str, str]], events: queue.Queue, args: argparse.Namespace, out: TextIO,
             err: TextIO) -> int:
    files = dict(jobs)
    results: dict[str, Completed | Failed] = {}
    bar = _Bar(not args.no_progress, err)
    printed = 0
    failures = 0
    live = _Live(out, args.format)
    while printed < len(jobs):
        try:  # never block for good: a signal delivered to another thread runs its handler only when the
            event = events.get(timeout=0.2)  # main thread wakes up
        except queue.Empty:
            continue
        job_id = event.job_id
        if isinstance(event, (Completed, Failed)):
            bar.close(job_id)
            results[job_id] = event
        elif isinstance(event, Stage):
            part = f" part {event.part} of {event.parts}" if event.parts > 1 else ""
            bar.update(Path(files[job_id]).name, job_id, event.fraction, f"{event.stage}{part}")
        elif isinstance(event, Waiting):
            print(f"{files[job_id]}: waiting {event.seconds:.0f} s: {event.reason}", file=err)
        elif isinstance(event, Queued):
            bar.update(Path(files[job_id]).name, job_id, None, f"queued, position {event.position}")
        elif isinstance(event, Partial) and len(jobs) == 1:
            bar.close(job_id)
            live.partial(event.transcript.text)
        while printed < len(jobs) and jobs[printed][0] in results:
            job_id, file = jobs[printed]
            outcome = results[job_id]
            if isinstance(outcome, Failed):
                failures += 1
                live.end()
                print(f"error: {file}: {outcome.error}", file=err)
            elif not live.finish(outcome.transcript.text):
                _print_result(file, outcome, args.format, len(jobs) > 1, out, getattr(args, "words", False))
            printed += 1
    return EXIT_FAILED if failures else EXIT_OK


class _Live:
    """On a terminal, plain text of one long recording is printed as its parts are done, not all at the end."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out = out
        self.on = fmt == "text" and out.isatty()
        self.shown = ""

    def partial(self, text: str) -> None:
        text = text.strip()
        if self.on and text.startswith(self.shown) and len(text) > len(self.shown):
            self.out.write(("" if not self.shown else " ") + text[len(self.shown):].lstrip())
            self.out.flush()
            self.shown = text

    def finish(self, text: str) -> bool:
        """Print what is left of the final text; False when nothing was shown live (print it as usual)."""
        if not self.shown:
            return False
        text = text.strip()
        rest = text[len(self.shown):].lstrip() if text.startswith(self.shown) else "\n" + text
        self.out.write((" " + rest if rest and not rest.startswith("\n") else rest) + "\n")
        self.out.flush()
        return True

    def end(self) -> None:
        if self.shown:
            self.out.write("\n")


def _print_result(file: str, done: Completed, fmt: str, several: bool, out: TextIO, words: bool = False) -> None:
    if fmt == "json":
        print(render(done.transcript, "json", file=file, cached=done.cached), file=out)
        return
    if several:
        print(f"==> {file} <==", file=out)
    print(render(done.transcript, fmt, words=words), file=out)
    out.flush()


if __name__ == "__main__":
    sys.exit(main())
