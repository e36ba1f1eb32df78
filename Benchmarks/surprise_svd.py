"""scikit-surprise's SVD (biased MF, its defaults) on train.tsv / test.tsv written by
`reclab data export`, for the cross-check in Reports/rating-ml1m-crosscheck.md.
    /tmp/peer/venv/bin/python Benchmarks/surprise_svd.py EXPORT_DIR [--seed 1]
Prints the test RMSE and MAE of SVD and of the global mean (surprise's predictions are clipped
to the 1-5 scale, as RecLab's biased_mf clips to the training range)."""
import argparse, os, time
import pandas as pd
from surprise import SVD, Dataset, Reader, accuracy

parser = argparse.ArgumentParser()
parser.add_argument('export')
parser.add_argument('--seed', type=int, default=1)
args = parser.parse_args()
reader = Reader(rating_scale=(1, 5))
columns = ['user', 'item', 'rating']
train = pd.read_csv(os.path.join(args.export, 'train.tsv'), sep='\t', names=columns, dtype={'user': str, 'item': str})
test = pd.read_csv(os.path.join(args.export, 'test.tsv'), sep='\t', names=columns, dtype={'user': str, 'item': str})
trainset = Dataset.load_from_df(train, reader).build_full_trainset()
testset = list(test.itertuples(index=False, name=None))
start = time.time()
algo = SVD(random_state=args.seed)
algo.fit(trainset)
predictions = algo.test(testset)
print('svd rmse=%.4f mae=%.4f fit_seconds=%.1f' % (accuracy.rmse(predictions, verbose=False), accuracy.mae(predictions, verbose=False), time.time() - start))
