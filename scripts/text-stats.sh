#!/usr/bin/env bash
# Prints how varied the texts in a `reclab augment --export` file are, one row per field: how
# many texts, how many are empty, how many of the rest are distinct, their mean and median
# length in words, and the most common opening (first WORDS words, default 5) with its share
# of the non-empty texts. A strategy whose answers mostly restate the prompt ("The
# description of an item is as follows: ...") shows as one opening shared by most texts;
# repeated answers across items show as few distinct texts. Whitespace runs count as one
# space. Needs jq.
#
# Usage: [WORDS=5] scripts/text-stats.sh EXPORT.jsonl [FIELD...]   (default: every field)
#   e.g. reclab augment Experiments/llmrec-ml1m.yaml --db results/llmrec-ml1m.sqlite --seed 1 \
#          --pipelines mlp-paraphrase,mlp-rec-eng --export texts.jsonl
#        scripts/text-stats.sh texts.jsonl para rec eng
set -euo pipefail
usage="usage: [WORDS=5] scripts/text-stats.sh EXPORT.jsonl [FIELD...]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 64; }
file=$1
shift
words=${WORDS:-5}
[[ $words =~ ^[1-9][0-9]*$ ]] || { echo "text-stats: WORDS must be a positive whole number, not '$words'" >&2; exit 64; }
[ -f "$file" ] || { echo "text-stats: no export at $file" >&2; exit 1; }
command -v jq >/dev/null || { echo "text-stats: needs jq (apt-get install jq)" >&2; exit 1; }
# Every line must be an export record; jq names the line of the first that is not.
if ! problem=$(jq -e 'has("field") and has("text")' "$file" 2>&1 >/dev/null); then
  echo "text-stats: $file is not a reclab augment export: ${problem:-a line without field or text}" >&2
  exit 1
fi
fields=("$@")
[ ${#fields[@]} -gt 0 ] || mapfile -t fields < <(jq -r '.field' "$file" | sort -u)
echo "| field | texts | empty | distinct | mean words | median words | most common opening ($words words) | its share |"
echo "|---|---:|---:|---:|---:|---:|---|---:|"
for field in "${fields[@]}"; do
  # One line per text; the final "." keeps trailing empty texts, which $(...) would drop.
  texts=$(jq -r --arg f "$field" 'select(.field == $f) | .text | gsub("\\s+"; " ") | ltrimstr(" ") | rtrimstr(" ")' "$file"; echo .)
  texts=${texts%.}
  count=$(printf '%s' "$texts" | wc -l)
  if [ "$count" -eq 0 ]; then
    echo "| $field | 0 | | | | | (no such field) | |"
    continue
  fi
  # mawk has no sort, so the median comes from sort(1).
  median=$(printf '%s' "$texts" | awk 'NF > 0 { print NF }' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print 0 }')
  printf '%s' "$texts" | awk -v field="$field" -v n="$count" -v words="$words" -v median="$median" '
      NF == 0 { next }
      { seen[$0]++; kept++; total += NF
        opening = $1; for (i = 2; i <= words && i <= NF; i++) opening = opening " " $i
        openings[opening]++ }
      END {
        distinct = 0; for (t in seen) distinct++
        best = ""; count = 0
        for (o in openings) if (openings[o] > count || (openings[o] == count && o < best)) { best = o; count = openings[o] }
        gsub(/\|/, "\\|", best)
        printf "| %s | %d | %d | %d | %.1f | %g | %s | %.1f%% |\n", field, n, n - kept, distinct, kept ? total / kept : 0, median, best, kept ? 100 * count / kept : 0
      }'
done
