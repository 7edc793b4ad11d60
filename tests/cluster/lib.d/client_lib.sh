# shellcheck shell=bash
# What the load clients (lib.d/*_client.sh) share: each runs in a client host's namespace,
# in DIR (a person's folder), logs one line per outcome to DIR/acks, prefixed with the time
# (seconds since the epoch), and the CLI's messages to DIR/client.err.
# usage (sourced): . client_lib.sh DIR
cd "$1" || exit 1
now() { date +%s.%N; }
log() { echo "$(now) $*" >> acks; }
# the CLI's last error line, for the log
why() { grep '^cella: error: ' client.err | tail -n 1 | cut -c1-400; }
