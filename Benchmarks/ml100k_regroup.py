"""Control for Reports/sasrec-ml100k-recbole-order.md: writes OUT/u.data with MovieLens 100K's
rows and timestamps unchanged (so RecLab's own split and sequences), grouped by user in the
order of the users in ORDERED/u.data and by time within a user (ties in file order). Users and
items are then numbered almost as in ORDERED, so a seed starts from nearly the same
initialisation and batch order there and here; only the data order differs. Run by a developer:
    python3 Benchmarks/ml100k_regroup.py ../shared/data/ml-100k /tmp/ml100k-recbole-order /tmp/ml100k-sorted
"""
import collections, os, shutil, sys

source, ordered, out = sys.argv[1:4]
rows = [line.rstrip('\n').split('\t') for line in open(os.path.join(source, 'u.data')) if line.strip()]
users = list(dict.fromkeys(line.split('\t')[0] for line in open(os.path.join(ordered, 'u.data')) if line.strip()))
by_user = collections.defaultdict(list)
for position, row in enumerate(rows):
    by_user[row[0]].append((int(row[3]), position, row))
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, 'u.data'), 'w') as f:
    for user in users:
        for _, _, row in sorted(by_user[user]):
            f.write('\t'.join(row) + '\n')
shutil.copy(os.path.join(source, 'u.item'), out)
print(f'{out}/u.data: {len(rows)} ratings of {len(users)} users')
