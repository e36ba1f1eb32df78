#!/usr/bin/env bash
# Prints what Personalized PageRank chose as neighbours for the engagement-guided prompts of
# llmrec.text in a results database: how many prompts, how many neighbour slots and distinct
# neighbours, the TOP most frequent neighbours with their counts and shares of the slots, and
# how many distinct neighbour lists there are and how many prompts share the commonest.
#
# It reads the prompts from the call cache ("Summarize the commonalities among the following
# descriptions: 'D'; 'N1; N2; ...'."): those that the augment stages of some experiment's
# current plan asked (the ledger that `reclab augment SPEC --db DB --recount` completes), so
# that prompts of a configuration since changed are left out. A description may itself contain
# "; ", so the neighbour list is not split blindly: pieces are joined until they form a
# description that some prompt has as its own item (every neighbour is co-engaged, so it has a
# prompt of its own in the same split). Pieces that never form one are counted as unmatched.
#
# Usage: [TOP=10] scripts/neighbour-stats.sh DB.sqlite
#   e.g. scripts/neighbour-stats.sh results/llmrec-scientific.sqlite
set -euo pipefail
usage="usage: [TOP=10] scripts/neighbour-stats.sh DB.sqlite"
[ $# -eq 1 ] || { echo "$usage" >&2; exit 64; }
db=$1
top=${TOP:-10}
[[ $top =~ ^[1-9][0-9]*$ ]] || { echo "neighbour-stats: TOP must be a positive whole number, not '$top'" >&2; exit 64; }
[ -f "$db" ] || { echo "neighbour-stats: no database at $db" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "neighbour-stats: needs sqlite3 (apt-get install sqlite3)" >&2; exit 1; }
prompts=$(mktemp)
trap 'rm -f "$prompts"' EXIT
[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'augment_stage_cells'")" = 1 ] ||
  { echo "neighbour-stats: $db does not link augment stages to cells; run reclab augment SPEC --db $db --recount first" >&2; exit 1; }
sqlite3 -readonly "$db" "SELECT replace(json_extract(c.request, '$.prompt.chat._0[0].content'), char(10), ' ') FROM lm_calls c
  WHERE c.request LIKE '%Summarize the commonalities among the following descriptions:%' AND c.key IN (
    SELECT a.call FROM augment_stage_calls a JOIN augment_stage_cells l ON l.stage = a.stage
      JOIN experiments e ON e.name = l.experiment, json_each(e.plan_json) p WHERE p.value = l.cell)" > "$prompts"
[ -s "$prompts" ] || { echo "neighbour-stats: $db holds no engagement-guided prompt that a cell of an experiment's current plan asked" >&2; exit 1; }
awk -v top="$top" '
  function parse(line,   body, cut) {
    body = substr(line, length(head) + 1)
    sub(/\.$/, "", body)
    cut = index(body, "'"'"'; '"'"'")
    if (substr(body, 1, 1) != "'"'"'" || cut == 0 || substr(body, length(body)) != "'"'"'") return 0
    self = substr(body, 2, cut - 2)
    others = substr(body, cut + 4, length(body) - cut - 4)
    return 1
  }
  BEGIN { head = "Summarize the commonalities among the following descriptions: " }
  FNR == NR { if (parse($0)) known[self] = 1; next }
  {
    if (!parse($0)) { malformed++; next }
    count++
    n = split(others, piece, "; ")
    list = ""; current = ""; delete seen
    for (i = 1; i <= n; i++) {
      current = current == "" ? piece[i] : current "; " piece[i]
      if (current in known) {
        slot[current]++; slots++; list = list "\t" current
        if (!(current in seen)) { seen[current] = 1; holding[current]++ }
        current = ""
      }
    }
    if (current != "") unmatched++
    lists[list]++
  }
  END {
    distinct = 0; for (d in slot) distinct++
    nlists = 0; most = 0; for (l in lists) { nlists++; if (lists[l] > most) most = lists[l] }
    printf "prompts: %d (malformed: %d)\nneighbour slots: %d, distinct neighbour descriptions: %d, unmatched remainders: %d\n", count, malformed + 0, slots, distinct, unmatched + 0
    printf "distinct lists: %d, the commonest shared by %d prompts\n", nlists, most
    printf "| neighbour | slots | share of slots | prompts with it |\n|---|---:|---:|---:|\n"
    for (r = 1; r <= top && r <= distinct; r++) {
      best = ""; for (d in slot) if (!(d in shown) && (best == "" || slot[d] > slot[best] || (slot[d] == slot[best] && d < best))) best = d
      shown[best] = 1
      name = best; if (length(name) > 120) name = substr(name, 1, 117) "..."
      gsub(/\|/, "\\|", name)
      printf "| %s | %d | %.1f%% | %d |\n", name, slot[best], 100 * slot[best] / slots, holding[best]
    }
  }
' "$prompts" "$prompts"
