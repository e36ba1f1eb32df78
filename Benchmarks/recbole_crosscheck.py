"""Cross-check for Experiments/ml100k-baselines.yaml: RecBole 1.2.1's Pop and ItemKNN on the same
ML-100K leave-one-out split (timestamp order), full ranking, test metrics @10.

Run by a developer, never by CI or at run time, with the peer venv from ../shared/peers/setup.sh:
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /tmp/peer/venv/bin/python Benchmarks/recbole_crosscheck.py /tmp/peer/data
(DATA_DIR must hold ml-100k/ml-100k.inter, i.e. a folder named ml-100k pointing at ml-100k-recbole.)
"""
import os, sys, tempfile
import numpy as np
for _n, _t in (('float', float), ('int', int), ('bool', bool), ('bool8', np.bool_), ('float_', np.float64),
               ('complex_', np.complex128), ('unicode_', np.str_)):
    if not hasattr(np, _n): setattr(np, _n, _t)  # RecBole 1.2.1 and its deps use aliases NumPy 2 removed
from recbole.quick_start import run_recbole

data_dir = sys.argv[1]
for model in sys.argv[2:] or ['Pop', 'ItemKNN']:
    config = {
        'data_path': data_dir, 'dataset': 'ml-100k', 'device': 'cpu', 'use_gpu': False,
        'load_col': {'inter': ['user_id', 'item_id', 'timestamp']},
        'eval_args': {'split': {'LS': 'valid_and_test'}, 'order': 'TO', 'mode': 'full', 'group_by': 'user'},
        'metrics': ['Hit', 'NDCG', 'MRR', 'Recall', 'Precision'], 'topk': [10], 'valid_metric': 'NDCG@10',
        'epochs': 1, 'seed': 2020, 'show_progress': False,
        'checkpoint_dir': os.path.join(tempfile.gettempdir(), 'recbole-ckpt'),
    }
    result = run_recbole(model=model, config_dict=config)
    print('CROSSCHECK', model, dict(result['test_result']))
