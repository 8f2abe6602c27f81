"""Compare one bench script on two trees in one run: the commit before a change, and this tree.

A change that must not cost speed ("no loss over 5 % against the commit before") is measured here: the two trees'
runs alternate round by round (before, after, after, before, …) so that load from elsewhere on the machine falls
on both, and the figure is the median of each line's rates. Every line of the bench's output that states a rate
(`… 1,234 entries/s`, `… 56 req/s`, `… 78 applications/s`, `… events/s`) is a figure; lines are matched between
the two trees by their text with the numbers taken out.

    git worktree add /tmp/before <commit>   # or: git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python bench/compare.py --baseline /tmp/before --rounds 3 lookup.py -- --seconds 6
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATE = re.compile(r"([\d,]+(?:\.\d+)?)\s*(entries/s|events/s|req/s|applications/s|/s\b)")
NUMBER = re.compile(r"\d[\d,.]*")


def run(tree: Path, script: str, args: list[str]) -> str:
    """One run of `bench/<script>` from `tree`, importing that tree's code (not the venv's editable install)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, str(tree / "bench" / script), *args], env=env, cwd=tree,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: bench/{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def rates(output: str) -> dict[str, float]:
    """{line's text without numbers: its first rate} for each line that states a rate (a text that recurs, e.g. for
    1 and 2 writers, is told apart by its place: `[2]`, `[3]` …)."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        match = RATE.search(line)
        if match:
            label = " ".join(NUMBER.sub("#", line).split())
            repeat = sum(1 for seen in found if seen.split(" [")[0] == label)  # same text, another count
            found[f"{label} [{repeat + 1}]" if repeat else label] = float(match.group(1).replace(",", ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the tree of the commit before the change")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("script", help="a bench script under bench/, e.g. lookup.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the bench script, after --")
    options = parser.parse_args()
    args = [a for a in options.args if a != "--"]
    trees = {"before": options.baseline.resolve(), "after": ROOT}
    seen: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for turn in range(options.rounds):
        for name in ("before", "after") if turn % 2 == 0 else ("after", "before"):
            for label, value in rates(run(trees[name], options.script, args)).items():
                seen[name].setdefault(label, []).append(value)
            print(f"round {turn + 1}: {name} done", file=sys.stderr, flush=True)
    print(f"bench/{options.script} {' '.join(args)}: median of {options.rounds} alternated rounds "
          f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for label, before in seen["before"].items():
        after = seen["after"].get(label)
        if not after:
            print(f"  {label}: only before")
            continue
        b, a = statistics.median(before), statistics.median(after)
        spread = f"before {min(before):,.0f}–{max(before):,.0f}, after {min(after):,.0f}–{max(after):,.0f}"
        print(f"  {100 * a / b:6.1f} %  {label}  [{b:,.0f} → {a:,.0f}; {spread}]")


if __name__ == "__main__":
    main()
