"""Cross-check for Experiments/ml100k-baselines.yaml: RecBole 1.2.1's Pop and ItemKNN on the same
ML-100K leave-one-out split (timestamp order), full ranking, test metrics @10.

Run by a developer, never by CI or at run time, with the peer venv from ../shared/peers/setup.sh:
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /tmp/peer/venv/bin/python Benchmarks/recbole_crosscheck.py /tmp/peer/data
(DATA_DIR must hold ml-100k/ml-100k.inter, i.e. a folder named ml-100k pointing at ml-100k-recbole.)

Variants, to explain differences precisely:
  Pop           RecBole's Pop as shipped.
  PopExact      Pop with its counter fixed: RecBole counts `item_cnt[item] = item_cnt[item] + 1` over
                each training batch, which adds 1 once per batch however often an item occurs in
                it (no accumulation over duplicate indices) and also counts the sampled negatives
                of the pointwise training data. PopExact adds each positive interaction once.
  ItemKNN       k = 100, shrink 0 (RecBole defaults).
  ItemKNNAll    k = every item, so no neighbour is cut at a tie on the k-th similarity.
"""
import os, sys, tempfile
import recbole_common  # NumPy aliases for RecBole 1.2.1; import before recbole
import torch
from recbole.quick_start import run_recbole
from recbole.model.general_recommender import pop


def exact_count(self, interaction):
    items = interaction[self.ITEM_ID]
    labels = interaction['label'] if 'label' in interaction.interaction else torch.ones_like(items)
    positives = items[labels > 0.5]
    self.item_cnt.index_add_(0, positives, torch.ones(len(positives), 1, dtype=torch.long))
    self.max_cnt = torch.max(self.item_cnt, dim=0)[0]
    return torch.nn.Parameter(torch.zeros(1))


data_dir = sys.argv[1]
for variant in sys.argv[2:] or ['Pop', 'PopExact', 'ItemKNN', 'ItemKNNAll']:
    model, extra = variant, {}
    if variant == 'PopExact':
        model = 'Pop'
        pop.Pop.calculate_loss = exact_count
    if variant == 'ItemKNNAll':
        model, extra = 'ItemKNN', {'k': 1682}
    config = recbole_common.ml100k_config(
        data_dir, metrics=['Hit', 'NDCG', 'MRR', 'Recall', 'Precision'], topk=[10], valid_metric='NDCG@10',
        epochs=1, show_progress=False, checkpoint_dir=os.path.join(tempfile.gettempdir(), 'recbole-ckpt'), **extra)
    result = run_recbole(model=model, config_dict=config)
    print('CROSSCHECK', variant, {k: round(float(v), 4) for k, v in result['test_result'].items()})
