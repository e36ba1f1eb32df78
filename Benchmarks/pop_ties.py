"""Explains the Popularity cross-check with RecBole on ML-100K: an independent, plain-Python
Popularity on the same leave-one-out split (timestamp order, file order on ties), evaluated with
the target's training popularity ties broken both ways. RecBole's fixed Pop (PopExact in
recbole_crosscheck.py) must fall between the two, and RecLab's rule (smaller item id first) must
equal the first line. Run by a developer: python3 Benchmarks/pop_ties.py [DATA_ROOT]"""
import collections, math, sys

root = sys.argv[1] if len(sys.argv) > 1 else '../shared/data'
rows = [l.split('\t') for l in open(root + '/ml-100k/u.data').read().strip().split('\n')]
events = collections.defaultdict(list)
for index, (user, item, _, time) in enumerate(rows):
    events[user].append((int(time), index, item))
train, tests, known = collections.Counter(), {}, {}
for user, history in events.items():
    items = [item for _, _, item in sorted(history)]
    train.update(items[:-2])
    tests[user], known[user] = items[-1], set(items[:-1])
catalogue = sorted({row[1] for row in rows}, key=int)

def evaluate(tie):
    hr = ndcg = mrr = 0.0
    for user, target in tests.items():
        top = sorted((i for i in catalogue if i not in known[user]), key=lambda i: (-train[i], tie(i)))[:10]
        if target in top:
            rank = top.index(target) + 1
            hr, ndcg, mrr = hr + 1, ndcg + 1 / math.log2(rank + 1), mrr + 1 / rank
    n = len(tests)
    return 'HR@10 %.4f NDCG@10 %.4f MRR@10 %.4f' % (hr / n, ndcg / n, mrr / n)

print('ties to the smaller item id:', evaluate(lambda i: int(i)))
print('ties to the larger item id: ', evaluate(lambda i: -int(i)))
