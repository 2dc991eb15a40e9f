"""``python -m bench`` from the repository root runs the benchmark suite (bench/run.py)."""

from bench.run import main

main()
