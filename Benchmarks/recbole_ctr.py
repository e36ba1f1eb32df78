"""A RecBole 1.2.1 context-aware model (FM, LR, DeepFM, xDeepFM, DCNV2, AutoInt, ...) on a split
exported by `reclab data export`, for the cross-checks in Reports/ctr-ml1m-crosscheck.md and
Reports/ctr-backbones-ml1m-crosscheck.md and the peer column of `reclab bench ctr`.

The export holds NAME.{train,valid,test}.inter (user_id, item_id, rating, label), NAME.user and
NAME.item; RecBole reads them as benchmark files, so it trains, early-stops and tests on exactly
RecLab's split. Only the label and the listed feature fields are loaded (not the rating).
    bash scripts/peers.sh   # once
    /tmp/peer/venv/bin/python Benchmarks/recbole_ctr.py EXPORT_DIR [--model FM] [--seed 1]
        [--epochs 20] [--stopping-step 3] [--time-epochs N] [--item-fields genres]
        [--set KEY=JSON ...] [--sequence L] [--cross-std S] [--no-batch-norm]
--set overrides any RecBole setting with a JSON value (`--set mlp_hidden_size=[200,80]`).
--time-epochs N trains N epochs without evaluation and prints `epoch_seconds=S` (bench ctr).
"""
import argparse, json, os, time
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
parser.add_argument('--item-fields', default='genres')
parser.add_argument('--set', action='append', default=[])
parser.add_argument('--cross-std', type=float, default=0,
                    help="DCNV2: redraw the cross weights with this standard deviation (RecBole draws std 1)")
parser.add_argument('--no-batch-norm', action='store_true',
                    help="replace the batch normalisation in the model's MLP by the identity (DCNV2, DIN)")
parser.add_argument('--sequence', type=int, default=0,
                    help='a sequential CTR model (DIN): read item_id_list (export --behaviour L) up to this length')
args = parser.parse_args()
torch.set_num_threads(os.cpu_count())

export = os.path.abspath(args.export)
settings = {
    'data_path': os.path.dirname(export), 'dataset': os.path.basename(export), 'device': 'cpu', 'use_gpu': False,
    'benchmark_filename': ['train', 'valid', 'test'],
    'load_col': {'inter': ['user_id', 'item_id', 'label'], 'user': ['user_id', 'gender', 'age', 'occupation'],
                 'item': ['item_id'] + args.item_fields.split(',')},
    'LABEL_FIELD': 'label', 'threshold': None, 'train_neg_sample_args': None,
    'eval_args': {'split': {'RS': [0.8, 0.1, 0.1]}, 'order': 'RO', 'group_by': None, 'mode': 'labeled'},
    'metrics': ['AUC', 'LogLoss'], 'valid_metric': 'AUC', 'eval_batch_size': 40960, 'train_batch_size': 2048,
    'learning_rate': 0.001, 'embedding_size': 10, 'epochs': args.epochs, 'stopping_step': args.stopping_step,
    'seed': args.seed, 'reproducibility': True, 'show_progress': False, 'checkpoint_dir': '/tmp/recbole-ctr-saved',
}
for item in args.set:
    key, value = item.split('=', 1)
    settings[key] = json.loads(value)
if args.sequence:
    settings['load_col']['inter'].append('item_id_list')
    # Benchmark files are used as they are; RecBole only insists on the name of the order.
    settings['eval_args']['order'] = 'TO'
    settings.update({'alias_of_item_id': ['item_id_list'], 'MAX_ITEM_LIST_LENGTH': args.sequence})
config = Config(model=args.model, config_dict=settings)
# The export folder is named after the dataset files inside it.
init_seed(config['seed'], config['reproducibility'])
dataset = create_dataset(config)
train, valid, test = data_preparation(config, dataset)
model = get_model(config['model'])(config, train.dataset).to(config['device'])
if args.no_batch_norm:
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.BatchNorm1d):
                setattr(parent, name, torch.nn.Identity())
if args.cross_std:
    with torch.no_grad():
        for weight in model.cross_layer_w:
            weight.normal_(0, args.cross_std)
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
    print('valid_auc=%.4f test_auc=%.4f test_logloss=%.4f fit_seconds=%.1f' % (
        best_valid, result['auc'], result['logloss'], time.time() - start))
