"""The benchmarks as data: each one declares its figures, their targets, what they are measured against, and how it
is run. The step list, ``--only``'s choices, the CLI help, the JSON's verdicts and the README's table are all made
from this one list (``catalog.REGISTRY``), so none of them can drift from another.

A benchmark that cannot measure what it says fails: a job that failed, a wait that timed out, an exception, or a
declared figure it did not report. A failed step never becomes a number; ``transhades bench`` exits 1 on it.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class StepFailed(Exception):
    """A benchmark could not measure what it declares (a job failed, a wait ran out): its step fails with this
    reason instead of reporting a number."""


@dataclass(frozen=True)
class Target:
    """``op`` and a bound; ``scaled_by`` names another figure of the same run the bound is multiplied by
    (0.8 x K providers), ``plus`` one added to it (the lease and one poll)."""

    op: str  # "<", "<=", ">=", "=="
    bound: float
    scaled_by: str | None = None
    plus: str | None = None

    def resolve(self, result: Mapping[str, Any]) -> float | None:
        bound = self.bound
        if self.scaled_by is not None:
            if not isinstance(result.get(self.scaled_by), (int, float)):
                return None
            bound *= result[self.scaled_by]
        if self.plus is not None:
            if not isinstance(result.get(self.plus), (int, float)):
                return None
            bound += result[self.plus]
        return bound

    def met(self, value: float, bound: float) -> bool:
        return {"<": value < bound, "<=": value <= bound, ">=": value >= bound, "==": value == bound}[self.op]

    def text(self) -> str:
        bound = f"{self.bound:g}"
        if self.scaled_by:
            bound = f"{bound} x {self.scaled_by}"
        if self.plus:
            bound = f"{self.plus} + {bound}"
        return f"{self.op} {bound}"


@dataclass(frozen=True)
class Figure:
    key: str
    unit: str = ""  # shown after the number: "ms", "MB", "s"
    target: Target | None = None
    headline: bool = False  # a row of the README's table (every figure with a target is one)
    digits: int = 2
    full_only: bool = False  # measured by the full run only (too slow for --quick)

    def shown(self, value: Any) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, int):
            text = f"{value:,}"
        elif abs(value) >= 100:
            text = f"{value:,.0f}"
        else:
            text = f"{value:.{self.digits}f}"
        return f"{text} {self.unit}".strip()


@dataclass(frozen=True)
class Benchmark:
    """One step of ``transhades bench``."""

    key: str  # --only's name
    label: str  # what the progress line and the table say
    measures: str  # one sentence: what, on what
    baseline: str  # "same run: ...", "none: ...", or "simulated: what the simulation assumes"
    figures: tuple[Figure, ...]
    run: Callable[[Path, Mapping[str, int]], dict[str, Any]]
    needs: str = ""  # what must be installed, said when it is missing
    quick: bool = True  # part of --quick (else of the full run only)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.figures)


@dataclass
class StepResult:
    ok: bool
    seconds: float
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


def run_step(benchmark: Benchmark, tmp: Path, sizes: Mapping[str, int]) -> StepResult:
    """Runs one benchmark; any failure, and any declared figure missing or not a finite number, fails it."""
    started = time.perf_counter()
    try:
        measured = benchmark.run(tmp, sizes)
    except StepFailed as failed:
        return StepResult(False, time.perf_counter() - started, str(failed))
    except Exception as exc:  # one broken benchmark must not hide the others; it fails, with its reason
        return StepResult(False, time.perf_counter() - started, f"{exc.__class__.__name__}: {exc}")
    seconds = time.perf_counter() - started
    absent = [f.key for f in benchmark.figures
              if f.key not in measured and not (f.full_only and sizes.get("quick"))]
    if absent:
        return StepResult(False, seconds, f"did not report {', '.join(absent)}")
    broken = [key for key in benchmark.keys
              if isinstance(measured.get(key), float) and not math.isfinite(measured[key])]
    if broken:
        return StepResult(False, seconds, f"not a number: {', '.join(broken)}")
    return StepResult(True, seconds, figures=measured)


def verdicts(registry: tuple[Benchmark, ...], result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each figure with a target that was measured: its bound in this run and whether it was met."""
    out: dict[str, dict[str, Any]] = {}
    for benchmark in registry:
        for figure in benchmark.figures:
            value = result.get(figure.key)
            if figure.target is None or not isinstance(value, (int, float)):
                continue
            bound = figure.target.resolve(result)
            if bound is None:
                continue
            out[figure.key] = {"op": figure.target.op, "target": bound, "ok": figure.target.met(value, bound)}
    return out


def missed(result: Mapping[str, Any]) -> list[str]:
    return [key for key, verdict in result.get("targets", {}).items() if not verdict["ok"]]


def failed_steps(result: Mapping[str, Any]) -> dict[str, str]:
    return {key: step["reason"] for key, step in result.get("steps", {}).items() if not step["ok"]}


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def commit_of(folder: Path) -> str | None:
    """The checkout's commit, when the code runs from one."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=folder, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def run_all(registry: tuple[Benchmark, ...], sizes: Mapping[str, int], quick: bool, progress: Callable[[str], None],
            only: tuple[str, ...], checkout: Path) -> dict[str, Any]:
    """Every benchmark of ``registry`` meant for this run (or those in ``only``), each to a step that measured or
    failed; the results with their verdicts and where they were measured."""
    began = time.perf_counter()
    result: dict[str, Any] = {"quick": quick, "machine": machine(), "commit": commit_of(checkout),
                              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "steps": {}}
    latencies: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="transhades-bench-") as directory:
        for benchmark in registry:
            if (only and benchmark.key not in only) or (quick and not benchmark.quick and not only):
                continue
            progress(benchmark.label)
            folder = Path(directory) / benchmark.key
            folder.mkdir()
            step = run_step(benchmark, folder, sizes)
            result["steps"][benchmark.key] = {"ok": step.ok, "seconds": round(step.seconds, 1),
                                              **({"reason": step.reason} if not step.ok else {})}
            latencies.update(step.figures.pop("_latencies", {}))
            result.update(step.figures)
    result["seconds"] = round(time.perf_counter() - began, 1)
    result["targets"] = verdicts(registry, result)
    result["_latencies"] = latencies
    return result
