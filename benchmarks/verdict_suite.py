"""Rates of notebook 4's check_gradients on the verdict suite, and its time per call.

Runs the same bugs and correct networks as ``tests/test_verdict_suite.py`` (which asserts the
bar) and prints what the test only asserts: how many bug cases were caught, localized and
fully localized, and, on the correct networks, the share of each verdict, by parameter scale.
Then the share of each verdict on correct networks moved to hard points. ``--correct N``,
``--draws N`` and ``--hard N`` widen the suite beyond the test's.

Usage: ``python benchmarks/verdict_suite.py [--correct 200] [--draws 6] [--hard 60] [--seed S]``.
"""

import argparse
import importlib.util
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load_suite():
    """The test module, imported from its path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("verdict_suite",
                                                  ROOT / "tests" / "test_verdict_suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--correct", type=int, default=None, help="random correct networks")
    parser.add_argument("--draws", type=int, default=None, help="random draws per bug")
    parser.add_argument("--hard", type=int, default=None, help="correct networks at hard points")
    parser.add_argument("--seed", type=int, default=None, help="suite seed")
    args = parser.parse_args()
    suite = load_suite()
    if args.correct is not None:
        suite.N_CORRECT = args.correct
    if args.draws is not None:
        suite.N_BUG_DRAWS = args.draws
    if args.hard is not None:
        suite.N_HARD = args.hard
    if args.seed is not None:
        suite.SUITE_SEED = args.seed
    check_gradients = suite.load_check_gradients()

    start = time.perf_counter()
    records = suite.run_bug_suite(check_gradients)
    bug_seconds = time.perf_counter() - start
    with_change = [r for r in records if r["changed"]]
    caught = sum(bool(r["flagged"]) for r in with_change)
    full = sum(r["changed"] <= r["flagged"] for r in with_change)
    wrong_place = sum(bool(r["flagged"] - r["changed"]) for r in records)
    changed_blocks = sum(len(r["changed"]) for r in records)
    verdicts_on_changed = Counter(r["verdicts"][b] for r in records for b in r["changed"])
    verdicts_on_unchanged = Counter(v for r in records for b, v in r["verdicts"].items()
                                    if b not in r["changed"])
    print(f"bugs: {len(suite.BUGS)}, cases run: {len(records)} "
          f"({len(records) - len(with_change)} where the bug changes nothing)")
    print(f"  caught (some changed block reads 'bug'): {caught} / {len(with_change)}")
    print(f"  every changed block reads 'bug':          {full} / {len(with_change)}")
    print(f"  cases with 'bug' on an unchanged block:   {wrong_place} / {len(records)}")
    print(f"  verdicts on the {changed_blocks} changed blocks: {dict(verdicts_on_changed)}")
    print(f"  verdicts on unchanged blocks: {dict(verdicts_on_unchanged)}")
    print(f"  {bug_seconds / len(records):.3f} s per call")

    by_scale = {}
    start = time.perf_counter()
    # The same draws as the test's correct_cases(), with their scales kept.
    rng = np.random.default_rng(suite.SUITE_SEED + 1)
    for _ in range(suite.N_CORRECT):
        scale = suite.log_uniform_scale(rng)
        X, Y, parameters = suite.random_case(rng, scale)
        verdicts = check_gradients(suite.forward_propagation_n, suite.make_backward(),
                                   parameters, X, Y)
        band = f"{10 ** math.floor(math.log10(scale)):g}"
        by_scale.setdefault(band, Counter()).update(verdicts.values())
    correct_seconds = time.perf_counter() - start
    total = Counter()
    for tally in by_scale.values():
        total.update(tally)
    blocks = sum(total.values())
    print(f"correct networks: {suite.N_CORRECT} ({blocks} blocks)")
    for verdict in ("ok", "bug", "inconclusive"):
        print(f"  {verdict:12} {total[verdict]:5d}  ({total[verdict] / blocks:.1%})")
    for band in sorted(by_scale, key=float):
        tally = by_scale[band]
        n = sum(tally.values())
        print(f"  scale from {band:>5}: {n // 6:3d} networks, inconclusive "
              f"{tally['inconclusive'] / n:.1%}, bug {tally['bug']}")
    print(f"  {correct_seconds / suite.N_CORRECT:.3f} s per call")

    # Correct networks moved to hard points (kinks within the step, saturated outputs, dead
    # units), on the course network and the two others the judge uses.
    start = time.perf_counter()
    by_kind = {}
    for network, kind, X, Y, parameters in suite.hard_point_cases():
        forward, backward = suite.NETWORKS[network]
        with np.errstate(all="ignore"):
            verdicts = check_gradients(forward, backward, parameters, X, Y)
        by_kind.setdefault(kind, Counter()).update(verdicts.values())
    hard_seconds = time.perf_counter() - start
    print(f"correct networks at hard points: {suite.N_HARD}")
    for kind, tally in by_kind.items():
        n = sum(tally.values())
        print(f"  {kind:26} ok {tally['ok'] / n:.0%}, inconclusive "
              f"{tally['inconclusive'] / n:.0%}, bug {tally['bug']}")
    print(f"  {hard_seconds / suite.N_HARD:.3f} s per call")


if __name__ == "__main__":
    main()
