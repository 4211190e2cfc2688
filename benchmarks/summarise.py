"""Wall time and peak memory per rule family, from the `benchmark:` files a Snakemake run wrote.

    ./spade python benchmarks/summarise.py [benchmarks/]   # after e.g. snakemake --cores 2 results/tables/main.tex

Each rule writes benchmarks/<rule>/<key>.tsv (Snakemake's own measurement of the job: wall seconds `s`,
peak resident memory `max_rss` in MB, CPU seconds `cpu_time`). Prints one Markdown row per rule:
jobs, total, median and max wall seconds, and the largest peak RSS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def summarise(root: Path) -> pd.DataFrame:
    rows = []
    for tsv in sorted(root.glob("**/*.tsv")):
        rule = tsv.parent.name if tsv.parent != root else tsv.stem
        frame = pd.read_csv(tsv, sep="\t")
        rows += [{"rule": rule, "s": r["s"], "max_rss": pd.to_numeric(r["max_rss"], errors="coerce"),
                  "cpu_time": r.get("cpu_time")} for r in frame.to_dict("records")]
    if not rows:
        raise SystemExit(f"no benchmark files under {root}: run the workflow first")
    df = pd.DataFrame(rows)
    out = df.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"), median_s=("s", "median"),
                                 max_s=("s", "max"), peak_rss_mb=("max_rss", "max"))
    return out.sort_values("total_s", ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path("benchmarks"))
    args = parser.parse_args()
    table = summarise(args.root)
    print("| rule | jobs | total s | median s | max s | peak RSS MB |\n|---|---|---|---|---|---|")
    for rule, r in table.iterrows():
        print(f"| {rule} | {int(r.jobs)} | {r.total_s:.0f} | {r.median_s:.1f} | {r.max_s:.1f} | {r.peak_rss_mb:.0f} |")
    print(f"| all | {table.jobs.sum()} | {table.total_s.sum():.0f} | | | |")


if __name__ == "__main__":
    main()
