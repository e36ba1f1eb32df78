"""Shared set-up for the RecBole peer scripts in this folder (developer tools, never run by CI).

RecBole 1.2.1 and its Ray dependency still use NumPy aliases that NumPy 2 removed; importing
this module restores them before RecBole is imported."""
import numpy as np

for _name, _type in (('float', float), ('int', int), ('bool', bool), ('bool8', np.bool_), ('float_', np.float64),
                     ('complex_', np.complex128), ('unicode_', np.str_)):
    if not hasattr(np, _name):
        setattr(np, _name, _type)


def ml100k_config(data_dir, **extra):
    """RecBole's configuration for ML-100K with leave-one-out by timestamp and full ranking."""
    return {
        'data_path': data_dir, 'dataset': 'ml-100k', 'device': 'cpu', 'use_gpu': False,
        'load_col': {'inter': ['user_id', 'item_id', 'timestamp']},
        'eval_args': {'split': {'LS': 'valid_and_test'}, 'order': 'TO', 'mode': 'full', 'group_by': 'user'},
        'seed': 2020, **extra,
    }
