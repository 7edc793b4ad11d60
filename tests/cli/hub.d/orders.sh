# Sourced by hub tests (after lib.sh): set_fields DIR KIND FIELD=VALUE...
# edits the order template KIND ("apporder", ...) in $TMP/DIR/cella.json, as
# `cella order init` made it (the object is created when missing).
set_fields() {
  python3 - "$TMP/$1/cella.json" "$2" "${@:3}" <<'PY'
import json, sys
p, kind = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c.setdefault("order", {}).setdefault(kind, {})
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    c["order"][kind][k] = v
json.dump(c, open(p, "w"), indent=2)
PY
}
