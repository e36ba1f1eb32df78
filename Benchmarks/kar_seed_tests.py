"""Seed-level paired t-tests for Experiments/kar-ml1m.yaml, beside the report's per-user tests:
for each backbone, test AUC and LogLoss with KAR against without, paired by seed; for the
ablation (reasoning only, facts only, shuffled), each variant against the backbone and against
full KAR, over the seeds that both have finished.

    /tmp/peer/venv/bin/python Benchmarks/kar_seed_tests.py /root/r21/kar.sqlite
"""
import sqlite3
import sys
from statistics import mean

from scipy.stats import ttest_rel

rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT c.pipeline, c.seed, m.name, m.value FROM cells c JOIN metrics m ON m.cell_id = c.id "
    "WHERE c.status = 'done' AND m.name IN ('auc', 'logloss') AND c.sweep_label = 'base'").fetchall()
value = {(p, s, n): x for p, s, n, x in rows}


def paired(a, b, metric):
    seeds = [s for s in range(1, 6) if (a, s, metric) in value and (b, s, metric) in value]
    x, y = [value[(a, s, metric)] for s in seeds], [value[(b, s, metric)] for s in seeds]
    p = ttest_rel(x, y).pvalue if len(seeds) > 1 else float("nan")
    return seeds, mean(x) if x else float("nan"), mean(y) if y else float("nan"), p


print("| comparison | metric | seeds | mean | against | difference | relative | paired t p |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
pairs = [(f"kar-{b}", b) for b in ["deepfm", "xdeepfm", "dcnv2", "autoint", "fibinet", "din"]]
pairs += [(f"kar-{b}{v}", other) for b in ["deepfm", "dcnv2"] for v in ["-reasoning", "-facts", "-shuffled"] for other in [b, f"kar-{b}"]]
for a, b in pairs:
    for metric in ["auc", "logloss"]:
        seeds, x, y, p = paired(a, b, metric)
        if seeds:
            print(f"| {a} vs {b} | {metric} | {len(seeds)} | {x:.4f} | {y:.4f} | {x - y:+.4f} | {100 * (x - y) / y:+.2f}% | {p:.3f} |")
