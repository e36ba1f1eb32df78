"""Writes MovieLens 100K in the item order RecBole 1.2.1's SASRec trains on, to test whether the
accuracy gap in Reports/sasrec-ml100k.md comes from that order.

RecBole reads timestamps as float32, which is 64 s apart near 9e8, so many ratings tie and it
orders them arbitrarily. This script reads RecBole's sequential datasets and writes OUT/u.data
with the timestamps replaced by each rating's position in RecBole's per-user sequence:
  - the first item of the first training prefix;
  - the training targets, in RecBole's row order;
  - the validation target;
  - the test target.
Ratings are unchanged. Run by a developer with the peer venv:
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /tmp/peer/venv/bin/python Benchmarks/recbole_order_export.py \
        /tmp/peer/data ../shared/data/ml-100k /tmp/ml100k-recbole-order
"""
import collections, os, shutil, sys
import recbole_common  # NumPy aliases for RecBole 1.2.1; import before recbole
from recbole.config import Config
from recbole.data import create_dataset, data_preparation

recbole_data, ml100k, out = sys.argv[1:4]
config = Config(model='SASRec', config_dict=recbole_common.ml100k_config(
    recbole_data, MAX_ITEM_LIST_LENGTH=50, train_neg_sample_args=None, loss_type='CE'))
train, valid, test = data_preparation(config, create_dataset(config))
sequences = collections.OrderedDict()
for loader in (train, valid, test):
    d = loader._dataset
    users = d.id2token('user_id', d.inter_feat['user_id'].numpy())
    items = d.id2token('item_id', d.inter_feat['item_id'].numpy())
    lists = d.inter_feat['item_id_list'].numpy()
    lengths = d.inter_feat['item_length'].numpy()
    for user, item, history, length in zip(users, items, lists, lengths):
        if user not in sequences:  # the first prefix holds the user's first item
            sequences[user] = list(d.id2token('item_id', history[:length]))
        sequences[user].append(item)
ratings = {(u, i): r for u, i, r, _ in (l.split('\t') for l in open(os.path.join(ml100k, 'u.data')).read().strip().split('\n'))}
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, 'u.data'), 'w') as f:
    for user, items in sequences.items():
        for position, item in enumerate(items):
            f.write('%s\t%s\t%s\t%d\n' % (user, item, ratings[(user, item)], position))
shutil.copy(os.path.join(ml100k, 'u.item'), os.path.join(out, 'u.item'))
print('wrote %s/u.data: %d users, %d ratings' % (out, len(sequences), sum(map(len, sequences.values()))))
