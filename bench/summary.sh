# Sourced by the benchmarks: goal_row appends one row of issue 18's table
# (a cella figure, its same-run baseline, the ratio and the goal) to
# $BENCH_SUMMARY when it is set, and prints it either way. `make bench`
# prints the collected table last, so one run shows every goal together.
# usage: goal_row FIGURE CELLA_FIGURE BASELINE_NAME BASELINE_FIGURE RATIO GOAL
# Clocks are read without a fork. A `$(date ...)` between a run's start and
# end stamps forks a shell and execs date, 5-12 ms on these VMs, and was
# counted in every timed run (a bare bwrap `true` came out at twice its
# length). `t0=$EPOCHREALTIME` stamps; `us_since VAR T0` sets VAR to the whole
# microseconds since T0; `children_cpu_ms VAR` sets VAR to the user + system
# CPU of this shell's waited-for children (bash's `times`).
LC_NUMERIC=C # EPOCHREALTIME's decimal point, and bc's
us_since() { local now=${EPOCHREALTIME//[!0-9]/}; printf -v "$1" '%d' $((10#$now - 10#${2//[!0-9]/})); }
children_cpu_ms() {
  local f=${TMPDIR:-/tmp}/.cella-bench-times.$$ u s
  times > "$f"
  { read -r _ _; read -r u s; } < "$f"
  rm -f "$f"
  _ms_of u "$u"; _ms_of s "$s"
  printf -v "$1" '%d' $((u + s))
}
# _ms_of VAR 1m2.345s: VAR = 62345
_ms_of() { local _t=$2 _m _s; _m=${_t%%m*}; _s=${_t#*m}; _s=${_s%s}; printf -v "$1" '%d' $((10#$_m * 60000 + 10#${_s//[!0-9]/})); }
goal_row() {
  local line
  line=$(printf '| %s | %s | %s | %s | %s | %s |' "$@")
  printf 'goal: %s\n' "$line"
  if [[ -n "${BENCH_SUMMARY:-}" ]]; then
    printf '%s\n' "$line" >> "$BENCH_SUMMARY"
  fi
}
