"""RecBole 1.2.1's FM (or LR) on a split exported by `reclab data export`, for the cross-check in
Reports/ctr-ml1m-crosscheck.md and the peer column of `reclab bench ctr`.

The export holds ml-1m.{train,valid,test}.inter (user_id, item_id, rating, label), ml-1m.user and
ml-1m.item; RecBole reads them as benchmark files, so it trains, early-stops and tests on exactly
RecLab's split. Only the label and the feature fields are loaded (not the rating).
    bash scripts/peers.sh   # once
    /tmp/peer/venv/bin/python Benchmarks/recbole_ctr.py EXPORT_DIR [--model FM] [--seed 1]
        [--epochs 20] [--stopping-step 3] [--time-epochs N]
--time-epochs N trains N epochs without evaluation and prints `epoch_seconds=S` (bench ctr).
"""
import argparse, os, time
import recbole_common  # NumPy aliases for RecBole 1.2.1; import before recbole
import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_seed, get_model, get_trainer

parser = argparse.ArgumentParser()
parser.add_argument('export')
parser.add_argument('--model', default='FM')
parser.add_argument('--seed', type=int, default=1)
parser.add_argument('--epochs', type=int, default=20)
parser.add_argument('--stopping-step', type=int, default=3)
parser.add_argument('--time-epochs', type=int, default=0)
parser.add_argument('--dataset', default='ml-1m')
args = parser.parse_args()
torch.set_num_threads(os.cpu_count())

export = os.path.abspath(args.export)
config = Config(model=args.model, config_dict={
    'data_path': os.path.dirname(export), 'dataset': os.path.basename(export), 'device': 'cpu', 'use_gpu': False,
    'benchmark_filename': ['train', 'valid', 'test'],
    'load_col': {'inter': ['user_id', 'item_id', 'label'], 'user': ['user_id', 'gender', 'age', 'occupation'], 'item': ['item_id', 'genres']},
    'LABEL_FIELD': 'label', 'threshold': None, 'train_neg_sample_args': None,
    'eval_args': {'split': {'RS': [0.8, 0.1, 0.1]}, 'order': 'RO', 'group_by': None, 'mode': 'labeled'},
    'metrics': ['AUC', 'LogLoss'], 'valid_metric': 'AUC', 'eval_batch_size': 40960, 'train_batch_size': 2048,
    'learning_rate': 0.001, 'embedding_size': 10, 'epochs': args.epochs, 'stopping_step': args.stopping_step,
    'seed': args.seed, 'reproducibility': True, 'show_progress': False, 'checkpoint_dir': '/tmp/recbole-ctr-saved',
})
# The export folder is named after the dataset files inside it.
init_seed(config['seed'], config['reproducibility'])
dataset = create_dataset(config)
train, valid, test = data_preparation(config, dataset)
model = get_model(config['model'])(config, train.dataset).to(config['device'])
trainer = get_trainer(config['MODEL_TYPE'], config['model'])(config, model)
if args.time_epochs:
    seconds = []
    for epoch in range(args.time_epochs):
        start = time.time()
        trainer._train_epoch(train, epoch, show_progress=False)
        seconds.append(time.time() - start)
    print('train_pairs=%d' % len(train.dataset))
    print('epoch_seconds=%.3f' % min(seconds))
else:
    start = time.time()
    best_valid, _ = trainer.fit(train, valid, saved=True, show_progress=False)
    result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    print('valid_auc=%.4f test_auc=%.4f test_logloss=%.4f fit_seconds=%.1f' % (best_valid, result['auc'], result['logloss'], time.time() - start))
