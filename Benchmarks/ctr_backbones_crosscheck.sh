#!/bin/sh
# RecLab's CTR backbones against RecBole 1.2.1's models of the same names on one exported split
# (Reports/ctr-backbones-ml1m-crosscheck.md). Run from the repository root after
# `bash scripts/peers.sh` and `swift build -c release`:
#     sh Benchmarks/ctr_backbones_crosscheck.sh [OUT_DIR] [SEEDS]
# It exports the split of Experiments/ctr-backbones-ml1m-recbole.yaml (with each sample's last
# 10 earlier items for DIN), runs RecBole on the export with the same sizes, writing one line
# per model and seed to OUT_DIR/recbole.txt, then runs the spec into OUT_DIR/reclab.sqlite.
set -eu
out=${1:-/tmp/ctr-backbones-crosscheck}
seeds=${2:-"1 2 3"}
reclab=${RECLAB:-.build/release/reclab}
python=${PYTHON:-/tmp/peer/venv/bin/python}
spec=Experiments/ctr-backbones-ml1m-recbole.yaml
mkdir -p "$out"
"$reclab" data export "$spec" --out "$out/export/ml-1m" --behaviour 10
common='--set embedding_size=32 --set mlp_hidden_size=[200,80] --set dropout_prob=0.0 --set learner="adamw" --set weight_decay=0.0 --set reg_weight=0.0'
for seed in $seeds; do
  for model in DeepFM xDeepFM DCNV2 AutoInt DIN; do
    case $model in
      xDeepFM) extra='--set cin_layer_size=[64,64] --set direct=false' ;;
      DCNV2) extra='--set cross_layer_num=3 --set mixed=false --set structure="stacked"' ;;
      AutoInt) extra='--set attention_size=32 --set num_heads=2 --set n_layers=3 --set dropout_probs=[0.0,0.0,0.0]' ;;
      DIN) extra='--sequence 10 --set pooling_mode="mean"' ;;
      *) extra='' ;;
    esac
    # shellcheck disable=SC2086
    line=$(cd Benchmarks && TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 "$python" recbole_ctr.py "$out/export/ml-1m" --model $model --seed "$seed" \
      --item-fields genres_first $common $extra 2>/dev/null | tail -1)
    echo "$model seed=$seed $line" | tee -a "$out/recbole.txt"
  done
done
"$reclab" run "$spec" --db "$out/reclab.sqlite" --report "$out/reclab.md"
