#!/usr/bin/env bash
# The lab's figures must not depend on its speed: runs a drill in the lab at several time scales
# and prints, side by side, every measurement of its reports and each run's critical path
# (docs/report.md), then how far each measurement spreads across the scales. A benchmark, not a
# test: it judges nothing, it marks a spread over one probe interval (1 s) and a duration over
# 1.02 × the critical path.
#
#     benches/lab_scales.sh [DRILL_FILE] [SCALE...]      # default: drills/example.toml 3 30 300
#
# DRILL env: the binary (default target/release/drill, else target/debug/drill). OUT env: where
# reports go (default a temporary folder, printed). The runs go one after another (a run at 300×
# is sensitive to a busy CPU); the 3× run takes about four wall minutes.
set -euo pipefail

file=${1:-drills/example.toml}
shift || true
scales=("$@")
[ ${#scales[@]} -gt 0 ] || scales=(3 30 300)
drill=${DRILL:-}
if [ -z "$drill" ]; then
  if [ -x target/release/drill ]; then drill=target/release/drill; else drill=target/debug/drill; fi
fi
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
echo "drill file: $file; binary: $drill; reports in $out"

for s in "${scales[@]}"; do
  start=$(date +%s.%N)
  code=0
  "$drill" run "$file" --lab --yes --time-scale "$s" --state-dir "$out/state-$s" \
    --report "$out/report-$s.json" >"$out/run-$s.log" 2>&1 || code=$?
  end=$(date +%s.%N)
  printf '%6s×: exit %s, %.1f s wall\n' "$s" "$code" "$(echo "$end - $start" | bc)"
done

# One table: each measurement (ms unless named otherwise) at each scale, and its spread.
jq -rn --argjson scales "$(printf '%s\n' "${scales[@]}" | jq -s 'map(tostring)')" '
  [inputs] as $reports
  | ($reports | map(.measurements + {
        "critical_path_ms": .lab.critical_path.critical_path_ms,
        "critical_duration_ms": .lab.critical_path.duration_ms,
        "overhead_ms": .lab.critical_path.overhead_ms,
        "ratio": .lab.critical_path.ratio })) as $m
  | ($m | map(keys) | add | unique) as $keys
  | (["measurement"] + ($scales | map(. + "×")) + ["spread"] | @tsv),
    ($keys[] as $k
      | ($m | map(.[$k])) as $v
      | ($v | map(select(type == "number"))) as $n
      | (if ($n | length) > 1 then (($n | max) - ($n | min)) else null end) as $spread
      | [$k] + ($v | map(if . == null then "—" elif type == "number" and (. | floor) != . then (. * 1000 | round / 1000 | tostring) else tostring end))
        + [if $spread == null then "" elif ($k | endswith("_ms")) and $spread > 1000 then "\($spread) !" elif $k == "ratio" and ($n | max) > 1.02 then "max \($n | max | . * 1000 | round / 1000) !" else ($spread * 1000 | round / 1000 | tostring) end]
      | @tsv)
' $(for s in "${scales[@]}"; do echo "$out/report-$s.json"; done) | column -t -s $'\t'

# Where each run spent its overhead: the gaps between the critical path's components.
for s in "${scales[@]}"; do
  echo
  echo "$s×: gaps over 500 ms between waits (the drill's own time)"
  jq -r '
    .lab.critical_path as $p
    | [$p.components[] | {from: .from_ms, to: .to_ms, what}] | sort_by(.from)
    | reduce .[] as $c ({reach: 0, after: "the first change", gaps: []};
        if $c.from > .reach + 500 then .gaps += [{ms: ($c.from - .reach), after: .after, before: $c.what}] else . end
        | if $c.to > .reach then .reach = $c.to | .after = $c.what else . end)
    | .gaps + (if $p.duration_ms > .reach + 500 then [{ms: ($p.duration_ms - .reach), after: .after, before: "the end of the run"}] else [] end)
    | .[] | "  \(.ms) ms after \(.after | .[0:60]) / before \(.before | .[0:60])"
  ' "$out/report-$s.json"
done
