"""The tables of Reports/ctr-backbones-ml1m-crosscheck.md, from the outputs of
Benchmarks/ctr_backbones_crosscheck.sh: RecBole's lines in OUT/recbole.txt and RecLab's cells in
OUT/reclab.sqlite (test AUC and LogLoss per model and seed, means, and the differences).
    python3 Benchmarks/ctr_crosscheck_table.py OUT_DIR
"""
import re, sqlite3, sys

out = sys.argv[1]
names = {'DeepFM': 'deepfm', 'xDeepFM': 'xdeepfm', 'DCNV2': 'dcnv2', 'AutoInt': 'autoint', 'DIN': 'din'}
theirs = {}
for line in open(out + '/recbole.txt'):
    m = re.match(r'(\S+) seed=(\d+) valid_auc=(\S+) test_auc=(\S+) test_logloss=(\S+)', line)
    if m:
        theirs[(names[m.group(1)], int(m.group(2)))] = (float(m.group(4)), float(m.group(5)))
db = sqlite3.connect(out + '/reclab.sqlite')
ours = {}
for pipeline, seed, name, value in db.execute(
        "select c.pipeline, c.seed, m.name, m.value from cells c join metrics m on m.cell_id = c.id "
        "join experiments e on e.id = c.experiment_id where e.name = 'ctr-backbones-ml1m-recbole' and c.status = 'done' "
        "and m.name in ('auc', 'logloss')"):
    ours.setdefault((pipeline, seed), {})[name] = value
for recbole, model in names.items():
    seeds = sorted(s for (p, s) in theirs if p == model and (p, s) in ours)
    if not seeds:
        continue
    print('## %s (RecBole %s)\n' % (model, recbole))
    print('| seed | RecLab AUC | RecBole AUC | RecLab LogLoss | RecBole LogLoss |')
    print('|---:|---:|---:|---:|---:|')
    rows = [(s, ours[(model, s)]['auc'], theirs[(model, s)][0], ours[(model, s)]['logloss'], theirs[(model, s)][1]) for s in seeds]
    for row in rows:
        print('| %d | %.4f | %.4f | %.4f | %.4f |' % row)
    mean = [sum(r[i] for r in rows) / len(rows) for i in range(1, 5)]
    print('| mean | %.4f | %.4f | %.4f | %.4f |' % tuple(mean))
    print('\nAUC difference (RecLab − RecBole): %+.4f; LogLoss difference: %+.4f\n' % (mean[0] - mean[1], mean[2] - mean[3]))
