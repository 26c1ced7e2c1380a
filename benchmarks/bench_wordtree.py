"""How long building the 9k WordTree from WordNet takes (target: under 5 s).

Baseline, measured in the same run: reading data.noun and splitting it into lines, the least any
WordNet-based build must do. Usage: python benchmarks/bench_wordtree.py [--wordnet DIR] [--repeat N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from darkpy.wordtree.wordnet import WordNet, find_wordnet  # noqa: E402
from darkpy.wordtree.builder import LabelList, build_wordtree, order_tree  # noqa: E402

ROOTS_9K = ["n00002452", "n00020827", "n00002684", "n11425580"]  # Darknet's 9k top level


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--wordnet", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    folder = find_wordnet(args.wordnet)
    labels = [line.strip() for line in (REPO / "data" / "9k.labels").read_text().splitlines() if line.strip()]

    def baseline():
        (folder / "data.noun").read_bytes().splitlines()

    def paper():
        build_wordtree(WordNet(folder), [LabelList("9k.labels", labels, [])], ROOTS_9K, skip_orphans=True)

    def ordered():
        order_tree(WordNet(folder), labels)

    base = best_of(args.repeat, baseline)
    print(f"WordNet: {folder}   best of {args.repeat}")
    print(f"{'baseline: read + split data.noun':40s} {base:7.3f} s   1.0x")
    for name, fn in (("paper build from 9k.labels (4 roots)", paper), ("--order data/9k.labels", ordered)):
        t = best_of(args.repeat, fn)
        verdict = "ok" if t < 5 else "SLOW (target < 5 s)"
        print(f"{name:40s} {t:7.3f} s   {t / base:5.1f}x   {verdict}")


if __name__ == "__main__":
    main()
