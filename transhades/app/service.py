"""``transhades run`` and ``python supervisor.py``: the bot as a service, around the application's tree.

It checks what the bot needs, serves /healthz and /metrics, waits for SIGTERM or SIGINT (installed before anything
slow, so an early signal is a clean stop too), then drains, parks what is left in the journal and stops the tree
within Heroku's 30 s. The tree is handed in (``start_tree``), so this module sits below the entry points and above
nothing of theirs: ``supervisor.py`` and the CLI both call it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from transhades import config as config_lib
from transhades.app import logs
from transhades.config import Config, ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3  # 3: a server the config names is not there
log = logging.getLogger("transhades.cli")
TreeStarter = Callable[..., Any]  # supervisor.start_tree


def main(config_path: str | None, verbose: int, start_tree: TreeStarter,
         default_gateways: Callable[[Config], Any], role: str = "all") -> int:
    """Read the config, log to stdout in its format, and serve until told to stop."""
    with stop_signals() as stop:  # before anything slow: a SIGTERM from now on is a clean stop
        try:
            cfg = config_lib.load(config_lib.resolve_path(config_path))
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            return EXIT_USAGE
        level = getattr(logging, cfg.logging.level.upper()) if verbose == 0 else \
            logging.INFO if verbose == 1 else logging.DEBUG
        logs.setup(level, sys.stdout, cfg.secrets(), cfg.logging.format)  # a service logs to stdout
        return run(cfg, sys.stderr, start_tree, default_gateways, stop_event=stop, role=role)


def unused_credential_warnings(cfg: Config) -> list[str]:
    """A credential in the environment (the original bot's TELEGRAM_API_ID_N) that no config entry reads."""
    if cfg.telegram is None:
        return []
    out = []
    for variable in cfg.bot.unused:
        suffix = variable[len("TELEGRAM_API_ID"):]
        out.append(f"{variable} is set but no telegram.credentials entry reads it; add "
                   f'{{name: API{suffix.replace("_", "-") or "-1"}, api_id: "${{{variable}}}", '
                   f'api_hash: "${{TELEGRAM_API_HASH{suffix}}}"}} to telegram.credentials')
    return out


def missing_for_run(cfg: Config) -> list[str]:
    tg = cfg.telegram
    if tg is None:
        return ["a telegram section in the config (see config.yaml)"]
    missing = list(dict.fromkeys(tg.unset))
    if not tg.bot_token and not tg.bot_token_variable:
        missing.append("telegram.bot_token")
    if not tg.credentials and not missing:
        missing.append("at least one telegram.credentials entry with api_id and api_hash")
    return missing if (not tg.bot_token or not tg.credentials) else []


def run(cfg: Config, err: TextIO, start_tree: TreeStarter, default_gateways: Callable[[Config], Any],
        gateway_factory: Any = None, stop_event: Any = None, role: str = "all") -> int:
    """The bot: the whole tree with one actor per credential, until SIGTERM or SIGINT. A cluster's ``front`` or
    ``worker`` runs its part of it (see transhades.cluster.roles)."""
    missing = missing_for_run(cfg)
    if missing:
        print(f"error: the bot needs {', '.join(missing)}; set them in the environment or .env", file=err)
        return EXIT_USAGE
    if role != "all" and not cfg.cluster.redis_url:
        print(f"error: --role {role} needs a Redis for the cluster; set cluster.redis_url in the config or "
              f"TRANSHADES_REDIS_URL", file=err)
        return EXIT_USAGE
    for skipped in cfg.bot.skipped:
        log.info("credential %s; skipped", skipped)
    for warning in unused_credential_warnings(cfg):
        log.warning("%s", warning)
    for p in cfg.providers:
        if not p.enabled:
            log.info("provider %s disabled: %s", p.name, p.disabled_reason)
    if stop_event is not None:
        return _serve(cfg, err, start_tree, default_gateways, gateway_factory, stop_event, role)
    with stop_signals() as stop:
        return _serve(cfg, err, start_tree, default_gateways, gateway_factory, stop, role)


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """SIGTERM/SIGINT set the event (a clean stop: drain, park, exit 0); a second one exits at once. Installed
    from the first moment of ``run``, so a signal while the tree starts is a clean stop too; given back after."""
    import signal

    from transhades.app import early

    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        signals.append(signum)
        if len(signals) > 1:  # asked twice: leave now; every accepted job is in the journal already
            os.write(2, b"second signal: exiting at once; unfinished jobs resume on the next start\n")
            os._exit(128 + signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    for signum in early.taken():  # asked while the command was still loading
        on_signal(signum, None)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(cfg: Config, err: TextIO, start_tree: TreeStarter, default_gateways: Callable[[Config], Any],
           gateway_factory: Any, stop: Any, role_name: str = "all") -> int:
    problem = _data_dir_problem(cfg)
    if problem is None and gateway_factory is None and os.environ.get("TRANSHADES_FAKE_TELEGRAM"):
        gateway_factory, problem = _fake_telegram(cfg, os.environ["TRANSHADES_FAKE_TELEGRAM"])
    if problem is not None:
        print(f"error: {problem}", file=err)
        return EXIT_USAGE
    unreachable = _database_problem(cfg)
    role = _cluster_role(role_name, cfg, err) if unreachable is None else None
    if unreachable is not None or role is False:
        if unreachable:
            print(f"error: {unreachable}", file=err)
        return EXIT_UNREACHABLE
    if role is not None and not _wait_as_standby(cfg, role, stop):
        role.close()
        return EXIT_OK  # stopped while a standby
    tree = _start(cfg, err, start_tree, _fenced(gateway_factory or default_gateways(cfg), role), role)
    if tree is None:
        return EXIT_UNREACHABLE
    if role is not None:
        role.started(tree)
    return _run_tree(cfg, err, tree, role, stop, role_name)


def _fenced(factory: Any, role: Any) -> Any:
    """The gateway factory, its session store's writes carrying a front's lease term (fencing)."""
    sessions, lease = getattr(factory, "sessions", None), getattr(role, "lease", None)
    if sessions is not None and lease is not None:
        sessions.term = lambda: lease.term
    return factory


def _start(cfg: Config, err: TextIO, start_tree: TreeStarter, gateway_factory: Any, role: Any) -> Any:
    """The tree, or None when its database went away meanwhile (said in one line; the lease given back)."""
    from transhades.sql import DatabaseUnavailable

    try:
        return start_tree(cfg, gateway_factory=gateway_factory, **(role.tree_options() if role else {}))
    except Exception as exc:
        if role is not None:
            role.close()  # the lease goes back at once: a standby need not wait for it to run out
        if isinstance(exc, DatabaseUnavailable):
            print(f"error: {exc.message}", file=err)
            return None
        raise


def _readiness_checks(cfg: Config, role: Any) -> list[Callable[[], str | None]]:
    """What /readyz asks besides the tree: the database (database_url) and the cluster's Redis."""
    checks: list[Callable[[], str | None]] = [role.problem] if role is not None else []
    if cfg.database_url:
        from transhades.app.health import Unreachable
        from transhades.sql import reachable

        url = cfg.database_url
        checks.append(Unreachable("the database (database_url)", lambda: reachable(url, timeout=2)))
    return checks


def _wait_as_standby(cfg: Config, role: Any, stop: Any) -> bool:
    """Until this process may run its tree (a front holds the lease); a standby answers /healthz and /metrics
    meanwhile, and /readyz says it is a standby."""
    server, _ = _health_server(cfg, None, []) if role.role == "front" else (None, None)
    try:
        return role.wait(stop)
    finally:
        if server is not None:
            server.stop()


def _database_problem(cfg: Config) -> str | None:
    """PostgreSQL (``database_url``) unreachable at start: one line naming the setting, before any lease is taken."""
    if not cfg.database_url:
        return None
    from transhades.sql import reachable

    why = reachable(cfg.database_url)
    return None if why is None else (f"cannot reach the database at database_url ({why}); check database_url or "
                                     f"DATABASE_URL, and that PostgreSQL is up")


def _run_tree(cfg: Config, err: TextIO, tree: Any, role: Any, stop: Any, role_name: str) -> int:
    """Serve until told to stop, then drain and stop the tree within the shutdown budget."""
    server, problem = _health_server(cfg, tree, _readiness_checks(cfg, role))
    began = None
    try:
        if problem:
            print(f"error: {problem}", file=err)
            return EXIT_USAGE
        log.info("transhades is running (role %s) with %d credential(s); stop with SIGTERM or Ctrl-C", role_name,
                 len(cfg.bot.credentials))
        failed = _wait_for_stop(stop, tree, role)
        if failed:
            print(f"error: {failed}", file=err)
            return EXIT_FAILED
        began = time.monotonic()
        log.info("stopping: no new jobs; running ones get %.0f s to finish", cfg.bot.drain_seconds)
        worker = role is not None and role.role == "worker"
        left = role.drain(cfg.bot.drain_seconds) if worker else tree.drain(cfg.bot.drain_seconds)
        if left:
            log.info("stopping: %d job(s) or message(s) not finished; they are parked in the journal", left)
    finally:
        if server is not None:
            server.stop()
        if role is not None:
            role.close()
        spent = time.monotonic() - began if began is not None else 0.0
        tree.stop(timeout=max(2.0, SHUTDOWN_SECONDS - spent))
    log.info("stopped")
    return EXIT_OK


def _data_dir_problem(cfg: Config) -> str | None:
    from transhades.private import private_dir

    try:  # sessions, the journal and users' settings live there: say so now, not in a traceback later
        private_dir(Path(cfg.data_dir))
    except OSError as exc:
        return (f"data_dir {cfg.data_dir}: cannot create or use it ({exc.strerror}); set data_dir to a writable "
                f"directory")
    return None


def _fake_telegram(cfg: Config, path: str) -> tuple[Any, str | None]:
    """For tests and demos of the whole process, without Telegram: (gateway factory, problem)."""
    import sqlite3

    from transhades.telegram.fake import shared_gateways

    log.warning("talking to the fake Telegram in %s (TRANSHADES_FAKE_TELEGRAM), not to Telegram", path)
    try:
        return shared_gateways(path, Path(cfg.bot.session_dir)), None
    except (sqlite3.Error, OSError) as exc:
        return None, (f"TRANSHADES_FAKE_TELEGRAM={path}: cannot open it ({exc}); point it at a file in a writable "
                      f"directory, or unset it")


def _health_server(cfg: Config, tree: Any, checks: list[Callable[[], str | None]]) -> tuple[Any, str | None]:
    if not cfg.http.port:
        return None, None
    from transhades.app.health import HealthServer

    try:
        return HealthServer(tree, cfg.http.host, cfg.http.port, checks).start(), None
    except OSError as exc:
        return None, (f"cannot serve /healthz and /metrics on {cfg.http.host}:{cfg.http.port} ({exc.strerror}); "
                      f"set http.port (0 turns it off)")


def _wait_for_stop(stop: Any, tree: Any, role: Any) -> str | None:
    """Until SIGTERM or SIGINT; what went wrong when the process must stop by itself instead."""
    while not stop.wait(0.5):
        if tree.stopped_reason:
            return f"the actor tree stopped: {tree.stopped_reason[0]}"
        if role is not None and role.lost.is_set():
            return f"{role.lost_because or 'this front lost its lease'}; stopping"
    return None


def _cluster_role(name: str, cfg: Config, err: TextIO) -> Any:
    """The cluster role's object (None for ``all``), or False when Redis cannot be reached (said on ``err``)."""
    if name == "all":
        return None
    from transhades.cluster.roles import make_role

    try:
        return make_role(name, cfg)
    except Exception as exc:  # redis.ConnectionError and friends: say what to fix, no traceback
        from transhades.redaction import redact

        print(f"error: cannot reach the cluster's Redis at cluster.redis_url ({exc.__class__.__name__}: "
              f"{redact(str(exc))}); check cluster.redis_url or TRANSHADES_REDIS_URL, and that Redis is up", file=err)
        return False


SHUTDOWN_SECONDS = 24.0  # Heroku sends SIGKILL 30 s after SIGTERM; the process is gone well before


