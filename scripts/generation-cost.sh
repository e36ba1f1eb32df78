#!/usr/bin/env bash
# Prints what a results database's stored language-model generations cost, one row per named
# prompt pattern: calls, prompt and generated tokens, the share of answers cut at max_tokens,
# and wall time and throughput. Each NAME=PATTERN is an SQL LIKE pattern matched against the
# last message of a call's prompt (the first pattern that matches names the call); calls that
# match none are counted as "other". A spec's prompting strategies differ in their fixed
# wording, so one pattern per strategy splits the cost by strategy.
#
# Wall time is read off the calls' `created_at` stamps, written as each batch of answers is
# stored: the calls of one name are cut into sittings wherever two stored calls are more than
# GAP seconds apart (default 600: a resumed run, or another stage in between), and the
# sittings' spans are added. A span starts at its first stored batch, so it leaves out the
# time of that first batch.
#
# Usage: [GAP=600] scripts/generation-cost.sh DB NAME=PATTERN...
#   e.g. scripts/generation-cost.sh results/llmrec-ml1m.sqlite \
#          paraphrase='%paraphrase it.' recommend='%recommend it to others?' \
#          engage='Summarize the commonalities%'
set -euo pipefail
usage="usage: [GAP=600] scripts/generation-cost.sh DB NAME=PATTERN..."
[ $# -ge 2 ] || { echo "$usage" >&2; exit 64; }
db=$1
shift
gap=${GAP:-600}
[[ $gap =~ ^[0-9]+$ ]] || { echo "generation-cost: GAP must be a whole number of seconds, not '$gap'" >&2; exit 64; }
[ -f "$db" ] || { echo "generation-cost: no database at $db" >&2; exit 1; }
cases=""
for pair in "$@"; do
  [[ $pair == *=* ]] || { echo "generation-cost: '$pair' is not NAME=PATTERN; $usage" >&2; exit 64; }
  name=${pair%%=*} pattern=${pair#*=}
  cases+=" WHEN content LIKE '${pattern//\'/\'\'}' THEN '${name//\'/\'\'}'"
done
sqlite3 -readonly -header -column "$db" <<SQL
WITH named AS (
  SELECT CASE $cases ELSE 'other' END AS name, prompt_tokens, completion_tokens,
         json_extract(response, '\$.finish') AS finish, unixepoch(created_at) AS at
  FROM (SELECT *, json_extract(request, '\$.prompt.chat._0[#-1].content') AS content
        FROM lm_calls WHERE kind = 'generate')),
breaks AS (
  SELECT *, CASE WHEN at - lag(at) OVER (PARTITION BY name ORDER BY at) > $gap THEN 1 ELSE 0 END AS new_sitting
  FROM named),
sittings AS (
  SELECT name, sum(new_sitting) OVER (PARTITION BY name ORDER BY at ROWS UNBOUNDED PRECEDING) AS sitting, at
  FROM breaks),
spans AS (
  SELECT name, count(DISTINCT sitting) AS sittings, sum(seconds) AS seconds
  FROM (SELECT name, sitting, max(at) - min(at) AS seconds FROM sittings GROUP BY name, sitting)
  GROUP BY name)
SELECT n.name, count(*) AS calls, sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS generated_tokens, round(avg(prompt_tokens), 1) AS mean_prompt,
       round(avg(completion_tokens), 1) AS mean_generated,
       round(100.0 * sum(finish = 'length') / count(*), 1) AS cut_pct, s.sittings,
       s.seconds AS wall_s, round(sum(completion_tokens) * 1.0 / max(s.seconds, 1), 1) AS generated_per_s,
       round((sum(prompt_tokens) + sum(completion_tokens)) * 1.0 / max(s.seconds, 1), 1) AS all_per_s
FROM named n JOIN spans s USING (name)
GROUP BY n.name ORDER BY min(n.at);
SQL
