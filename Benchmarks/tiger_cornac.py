"""cornac 3.0.1's TIGER on the split RecLab's Experiments/tiger-beauty.yaml uses, for the peer
comparison of issue TIGER: training steps per second and accuracy at an equal number of steps.

The same data and split: ../shared/data/amazon-beauty's sequences, each user's last item the
test item and the one before it the validation item (cornac's leave_last_out with the position
as the timestamp). The same item vectors: all-MiniLM-L6-v2 (mean pooling, as RecLab's encoder)
of the same titles, read from RecLab's models/ folder. The same design: RQ-VAE with 3 levels of
256 codes over standardised vectors, 4 + 4 layers, d_model 128, 6 heads of 64, feed-forward 1024,
dropout 0.1, Adam at a constant 1e-3, batch 256, 20 history items, beam 20. cornac has no user
token (RecLab's `user_tokens: 0` is the matching pipeline).

Accuracy is computed here under RecLab's full-ranking protocol: each test user's beam list,
items the user has seen before the test item removed (`exclude_known`), Recall and NDCG at 5
and 10.

    bash scripts/peers.sh --cornac
    /tmp/peer/venv-cornac/bin/python Benchmarks/tiger_cornac.py --epochs 1 --rqvae-epochs 500 --seed 1 --out tiger-cornac.json
"""
import argparse
import json
import math
import os
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser()
parser.add_argument("--data", default=os.path.join(here, "../../shared/data"))
parser.add_argument("--models", default=os.path.join(here, "../models"))
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--rqvae-epochs", type=int, default=500)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--users", type=int, default=0, help="only the first N users (a smoke run; 0: all)")
parser.add_argument("--out", default="tiger-cornac.json")
args = parser.parse_args()

import torch  # noqa: E402

torch.set_num_threads(args.threads)
from cornac.data import FeatureModality  # noqa: E402
from cornac.eval_methods import NextItemEvaluation  # noqa: E402
from cornac.models import TIGER  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

sequences = {}
with open(os.path.join(args.data, "amazon-beauty/user_sequence.txt")) as f:
    for line in f:
        parts = line.split()
        if len(parts) > 1:
            sequences[parts[0]] = parts[1:]
titles = {}
with open(os.path.join(args.data, "amazon-beauty-titles/item_titles.jsonl")) as f:
    for line in f:
        row = json.loads(line)
        titles[row["asin"]] = row.get("title") or ""
if args.users:
    sequences = dict(list(sequences.items())[: args.users])
items = sorted({item for sequence in sequences.values() for item in sequence})
data = [(user, item, 1.0, position) for user, sequence in sequences.items() for position, item in enumerate(sequence)]

encoder = SentenceTransformer(os.path.join(args.models, "all-MiniLM-L6-v2"), device="cpu")
started = time.time()
features = encoder.encode([titles.get(item, "") for item in items], batch_size=64, show_progress_bar=False, normalize_embeddings=False)
encode_seconds = time.time() - started

evaluation = NextItemEvaluation.leave_last_out(
    data=data, exclude_unknowns=True, seed=args.seed, item_feature=FeatureModality(features=features, ids=items)
)
train = evaluation.train_set
samples = sum(max(0, len(train.sessions[s]) - 1) for s in train.sessions) if hasattr(train, "sessions") else None
model = TIGER(
    tokenizer="rqvae", feature_standardize=True, rqvae_n_epochs=args.rqvae_epochs, rqvae_learning_rate=1e-3, rqvae_batch_size=1024,
    d_model=128, d_ff=1024, num_heads=6, d_kv=64, num_enc_layers=4, num_dec_layers=4, dropout=0.1, max_len=20,
    n_epochs=args.epochs, learning_rate=1e-3, weight_decay=0.0, batch_size=256, lr_schedule="constant", model_selection="last",
    scoring="beam", n_beams=20, device="cpu", seed=args.seed, verbose=True,
)
started = time.time()
model.fit(train, evaluation.val_set)
fit_seconds = time.time() - started

# RecLab's protocol on the test item of every user: the beam's list without the items the
# user saw before it.
hits = {5: 0.0, 10: 0.0}
gains = {5: 0.0, 10: 0.0}
users = 0
started = time.time()
for user, sequence in sequences.items():
    if len(sequence) < 3 or user not in train.uid_map:
        continue
    known = [train.iid_map[item] for item in sequence[:-1] if item in train.iid_map]
    target = train.iid_map.get(sequence[-1])
    if target is None:
        continue
    scores = model.score(train.uid_map[user], known)
    seen = set(known)
    ranked = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > -1e9 and int(i) not in seen][:10]
    users += 1
    for k in (5, 10):
        if target in ranked[:k]:
            hits[k] += 1
            gains[k] += 1 / math.log2(ranked.index(target) + 2)
evaluate_seconds = time.time() - started

steps = args.epochs * math.ceil(samples / 256) if samples else None
result = {
    "peer": "cornac 3.0.1 TIGER",
    "seed": args.seed,
    "epochs": args.epochs,
    "training_samples": samples,
    "steps": steps,
    "fit_seconds": fit_seconds,
    "encode_seconds": encode_seconds,
    "evaluate_seconds": evaluate_seconds,
    "users": users,
    "recall@5": hits[5] / users,
    "recall@10": hits[10] / users,
    "ndcg@5": gains[5] / users,
    "ndcg@10": gains[10] / users,
    "threads": args.threads,
}
print(json.dumps(result, indent=2))
with open(args.out, "w") as f:
    json.dump(result, f, indent=2)
