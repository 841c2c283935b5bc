"""``python -m benchmarks [--quick] [--only SUITE,...] [--label NAME]``: every benchmark, one table.

Each figure is a ratio against a baseline measured in the same run, rounds interleaved in
alternating order; the table shows the median value, the baseline's median, and the minimum and
median of the per-round ratios. Results (with every round's raw value) go to
``benchmarks/out/<label>-<time>.json`` and ``benchmarks/out/<label>-latest.json``.
Hermetic: temp dirs for HOME and the data dir, a local bare origin, no network.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from .harness import Figure, machine, render, write_json

SUITES = ("drift", "create", "events", "engines", "agents", "notebook")


def _bytecode() -> None:
    """Measure the package as installed: compiled to bytecode, and allowed to use it.

    ``pip install`` compiles a package's modules; an editable checkout under
    ``PYTHONDONTWRITEBYTECODE=1`` would instead recompile every module in every fresh process
    and make each import-bound figure (``chatml list``, ``%load_ext``, a cold runner) slower
    than any user sees it.
    """
    import compileall
    import os

    import chatml_lab

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    compileall.compile_dir(str(Path(chatml_lab.__file__).parent), quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes (a few minutes)")
    parser.add_argument("--only", default="", help=f"comma-separated suites of {', '.join(SUITES)}")
    parser.add_argument("--label", default="results", help="name of the JSON file under benchmarks/out/")
    parser.add_argument("--out", default=str(Path(__file__).parent / "out"))
    args = parser.parse_args(argv)
    chosen = [s for s in args.only.split(",") if s] or list(SUITES)
    unknown = set(chosen) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}: choose from {', '.join(SUITES)}")
    _bytecode()
    figures: list[Figure] = []
    started = time.monotonic()
    for name in chosen:
        begun = time.monotonic()
        print(f"… {name}", file=sys.stderr, flush=True)
        module = importlib.import_module(f".{name}", __package__)
        figures += module.run(args.quick)
        print(f"  {name} took {time.monotonic() - begun:.0f} s", file=sys.stderr, flush=True)
    where = machine()
    print(render(figures))
    print(f"\n{where['cpus']} cpus, load average {where['loadavg']} at the end; "
          f"{'quick' if args.quick else 'full'} run of {time.monotonic() - started:.0f} s")  # fmt: skip
    path = write_json(figures, Path(args.out), args.label, args.quick)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
