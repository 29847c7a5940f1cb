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
    "load": "benchmarks.bench_load",
    "memory": "benchmarks.bench_memory",
    "first_sound": "benchmarks.bench_first_sound",
    "formats": "benchmarks.bench_formats",
}


def main(argv: list[str]) -> int:
    # Names first; what follows the first option goes to the named benchmarks (`soak --deliveries 500`).
    first_option = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    names, options = argv[:first_option] or list(BENCHES), argv[first_option:]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHES)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(BENCHES[name])
        status = module.main(options) if options else module.main()
        if isinstance(status, int) and status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
