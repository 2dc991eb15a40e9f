"""Run the hostile corpus (cases.toml) and print the counts table of issue 18.

    PYTHONPATH=. python -m tests.hostile.summary [--verbose]

Each case runs as in tests/test_hostile.py (in process, a fresh folder each) and is counted
under one verdict: clean, internal error, hang, memory, silent (exit 0 where an error was due),
data loss (a kept file replaced or removed), unclear (the right kind of exit, the wrong words).
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

from tests.test_hostile import CASES, run_case

VERDICTS = ("clean", "internal error", "hang", "memory", "silent", "data loss", "unclear")


def main(argv: list[str]) -> int:
    """Run every case, print one line per case with --verbose, then the counts."""
    verbose = "--verbose" in argv
    counts: Counter[str] = Counter()
    warnings.simplefilter("ignore")
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_case(case, Path(tmp))
        counts[outcome.verdict] += 1
        if verbose or outcome.verdict != "clean":
            print(
                f"{case['id']:<45} {outcome.verdict:<15} {outcome.seconds:6.1f} s  {outcome.notes}"
            )
    print()
    print("| inputs tried | " + " | ".join(VERDICTS) + " |")
    print("|---" * (len(VERDICTS) + 1) + "|")
    print(f"| {len(CASES)} | " + " | ".join(str(counts[v]) for v in VERDICTS) + " |")
    return 0 if counts["clean"] == len(CASES) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
