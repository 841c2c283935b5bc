"""Rounds, ratios and the printed table every benchmark suite shares.

A *figure* compares a subject with a baseline measured in the same run: each round times both,
in alternating order (round 0 baseline first, round 1 subject first, ...), so drift in machine load
hits both sides alike. The ratio is taken per round; the table shows its minimum and median.
Figures without a baseline (a count, a size) carry their value and a target only.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Timer = Callable[[], float]


@dataclass
class Figure:
    """One line of the table."""

    suite: str
    name: str
    unit: str  # "s", "ms", "/s", "MB", "count"
    subject: list[float]
    baseline_name: str = ""
    baseline: list[float] = field(default_factory=list)
    #: ``"<="`` when smaller ratios (or values) are better, ``">="`` when larger ones are.
    direction: str = "<="
    #: Target on the median ratio (with a baseline) or on the median value (without).
    target: float | None = None
    note: str = ""
    #: The target is on the median value even though a baseline is shown.
    absolute: bool = False

    @property
    def ratios(self) -> list[float]:
        """Per-round subject / baseline."""
        return [s / b for s, b in zip(self.subject, self.baseline, strict=False) if b]

    @property
    def checked(self) -> float:
        """What the target is compared with: the median ratio, or the median value."""
        if self.baseline and not self.absolute:
            return statistics.median(self.ratios)
        return statistics.median(self.subject)

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None without a target)."""
        if self.target is None:
            return None
        return self.checked <= self.target if self.direction == "<=" else self.checked >= self.target

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratios"] = self.ratios
        data["met"] = self.met
        return data


def time_call(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` took."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def interleave(rounds: int, baseline: Timer, subject: Timer) -> tuple[list[float], list[float]]:
    """Run both timers ``rounds`` times in alternating order; return (baseline, subject) values."""
    base: list[float] = []
    subj: list[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            base.append(baseline())
            subj.append(subject())
        else:
            subj.append(subject())
            base.append(baseline())
    return base, subj


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value < 0.001:
            return f"{value * 1e6:.0f} µs"
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:g}"


def render(figures: list[Figure]) -> str:
    """The table: figure, subject median, baseline median, ratio min and median, target, met."""
    header = ("figure", "value (median)", "baseline (median)", "ratio min", "ratio med", "target", "")
    lines = [header]
    for f in figures:
        value = _fmt(statistics.median(f.subject), f.unit) if f.subject else "n/a"
        if f.baseline:
            base = f"{_fmt(statistics.median(f.baseline), f.unit)} {f.baseline_name}"
            ratios = f.ratios
            rmin = f"{min(ratios):.2f}x" if ratios else "-"
            rmed = f"{statistics.median(ratios):.2f}x" if ratios else "-"
        else:
            base, rmin, rmed = "-", "-", "-"
        if f.target is None:
            target, met = "", ""
        else:
            shown = f"{f.target:g}x" if f.baseline and not f.absolute else _fmt(f.target, f.unit)
            target = f"{f.direction} {shown}"
            met = {True: "ok", False: "MISS", None: ""}[f.met] if f.subject else "n/a"
        lines.append((f"{f.suite}: {f.name}", value, base, rmin, rmed, target, met))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    out = []
    for n, row in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [f"  [{f.suite}: {f.name}] {f.note}" for f in figures if f.note]
    return "\n".join(out + (["", "notes:", *notes] if notes else []))


def machine() -> dict[str, Any]:
    """Where the figures were taken (load matters on a shared machine)."""
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load], "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }  # fmt: skip


def write_json(figures: list[Figure], out_dir: Path, label: str, quick: bool) -> Path:
    """Write every figure with its raw per-round values; return the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{label}-{stamp}.json"
    payload = {
        "label": label,
        "quick": quick,
        "machine": machine(),
        "figures": [f.as_json() for f in figures],
    }
    path.write_text(json.dumps(payload, indent=1))
    (out_dir / f"{label}-latest.json").write_text(json.dumps(payload, indent=1))
    return path
