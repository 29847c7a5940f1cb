"""Run every benchmark (or those named): `python -m benchmarks [taskkit] [phrases] [voices] [hardening] [scores]`."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "taskkit": "benchmarks.bench_taskkit",
    "phrases": "benchmarks.bench_phrases",
    "voices": "benchmarks.bench_voices",
    "fast": "benchmarks.bench_fast",
    "fanout": "benchmarks.bench_fanout",
    "hardening": "benchmarks.bench_hardening",
    "chain": "benchmarks.bench_chain",
    "scores": "benchmarks.bench_scores",
    "soak": "benchmarks.bench_soak",
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHES)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(BENCHES[name])
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
