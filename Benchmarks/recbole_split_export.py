"""Writes MovieLens 100K with RecBole 1.2.1's own leave-one-out split baked in, so that RecLab can
be run on exactly the split RecBole evaluates (see Reports/ml100k-baselines-crosscheck.md).

RecBole reads `timestamp:float` into float32, whose spacing near 9e8 seconds is 64 s, so ratings
a few seconds apart tie and its leave-one-out picks a different last item for some users. This
script asks RecBole for its validation and test item of every user and writes OUT/u.data with
those two ratings moved to the end of the user's history (timestamps max+1 and max+2, in that
order); everything else is unchanged. Run by a developer with the peer venv:
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /tmp/peer/venv/bin/python Benchmarks/recbole_split_export.py \
        /tmp/peer/data ../shared/data/ml-100k /tmp/ml100k-recbole-split
"""
import os, shutil, sys
import recbole_common  # NumPy aliases for RecBole 1.2.1; import before recbole
from recbole.config import Config
from recbole.data import create_dataset, data_preparation

recbole_data, ml100k, out = sys.argv[1:4]
config = Config(model='ItemKNN', config_dict=recbole_common.ml100k_config(recbole_data))
dataset = create_dataset(config)
_, valid, test = data_preparation(config, dataset)

def held_out(loader):
    d = loader._dataset
    users = d.id2token('user_id', d.inter_feat['user_id'].numpy())
    items = d.id2token('item_id', d.inter_feat['item_id'].numpy())
    return dict(zip(users, items))

valid, test = held_out(valid), held_out(test)
rows = [line.split('\t') for line in open(os.path.join(ml100k, 'u.data')).read().strip().split('\n')]
last = {}
for user, _, _, time in rows:
    last[user] = max(last.get(user, 0), int(time))
os.makedirs(out, exist_ok=True)
moved = 0
with open(os.path.join(out, 'u.data'), 'w') as f:
    for user, item, rating, time in rows:
        if test.get(user) == item:
            time, moved = str(last[user] + 2), moved + 1
        elif valid.get(user) == item:
            time, moved = str(last[user] + 1), moved + 1
        f.write('\t'.join((user, item, rating, time)) + '\n')
shutil.copy(os.path.join(ml100k, 'u.item'), os.path.join(out, 'u.item'))
print('wrote %s/u.data: %d users, %d held-out ratings placed last' % (out, len(test), moved))
