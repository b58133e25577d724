"""A busy machine on demand: ``python -m transhades.devtools.busy [--cpus N] -- COMMAND …`` runs COMMAND while N
processes spin on the CPU beside it, and exits with COMMAND's code. The process and deployment tests must pass so
(timeouts that hold only on an idle machine are bugs):

    python -m transhades.devtools.busy --cpus 2 -- python -m pytest tests/test_process.py tests/test_deploy.py
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys


def spin() -> None:
    count = 0
    while True:
        count = (count * 31 + 7) % 1_000_003


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transhades.devtools.busy")
    parser.add_argument("--cpus", type=int, default=2, help="CPU-bound processes beside the command (default 2)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(max(0, args.cpus))]
    for process in spinners:
        process.start()
    try:
        return subprocess.call(command)
    finally:
        for process in spinners:
            process.terminate()


if __name__ == "__main__":
    sys.exit(main())
