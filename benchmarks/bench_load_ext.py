"""How long ``%load_ext chatml_lab`` takes in a fresh process, against ``import pandas`` measured the same way.

Each measurement is a new ``python -c`` process that first builds IPython's ``InteractiveShell``
(not timed), then times only the statement under test; the median of several runs is printed with
the ratio. Run: ``.venv/bin/python benchmarks/bench_load_ext.py [RUNS]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile

TEMPLATE = """
import os, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
started = time.perf_counter()
{statement}
print(time.perf_counter() - started)
"""

CASES = {
    "%load_ext chatml_lab": "ip.run_line_magic('load_ext', 'chatml_lab')",
    "import pandas": "import pandas",
}


def measure(statement: str, runs: int, env: dict[str, str]) -> list[float]:
    """Seconds the statement took in each of ``runs`` fresh processes."""
    code = TEMPLATE.format(statement=statement)
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return times


def main(runs: int = 7) -> None:
    """Print the median of each case and the ratio load_ext / import pandas."""
    import os

    with tempfile.TemporaryDirectory() as home:
        # A scratch IPython dir: no user profile or history database skews the numbers.
        env = {**os.environ, "IPYTHONDIR": home, "HOME": home}
        medians = {}
        for label, statement in CASES.items():
            times = measure(statement, runs, env)
            medians[label] = statistics.median(times)
            print(
                f"{label:<22} median {medians[label] * 1000:7.1f} ms  (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, {runs} runs)"
            )
    ratio = medians["%load_ext chatml_lab"] / medians["import pandas"]
    print(f"ratio load_ext / import pandas: {ratio:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
