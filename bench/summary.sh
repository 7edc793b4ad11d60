# Sourced by the benchmarks: goal_row appends one row of issue 18's table
# (a cella figure, its same-run baseline, the ratio and the goal) to
# $BENCH_SUMMARY when it is set, and prints it either way. `make bench`
# prints the collected table last, so one run shows every goal together.
# usage: goal_row FIGURE CELLA_FIGURE BASELINE_NAME BASELINE_FIGURE RATIO GOAL
goal_row() {
  local line
  line=$(printf '| %s | %s | %s | %s | %s | %s |' "$@")
  printf 'goal: %s\n' "$line"
  if [[ -n "${BENCH_SUMMARY:-}" ]]; then
    printf '%s\n' "$line" >> "$BENCH_SUMMARY"
  fi
}
