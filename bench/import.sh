#!/usr/bin/env bash
# WordPress import benchmark: generates a WXR export of POSTS posts (default 10,000) with
# COMMENTS comments each (default 10, so 100,000 comments), imports it with
# `colloquy import wxr --no-media` into a fresh SQLite database and (when PostgreSQL runs
# here) a fresh PostgreSQL one, and prints the time, the rate and the peak memory of each.
# A second, five times smaller file shows whether memory stays flat as the file grows.
# The goal: 10,000 posts and 100,000 comments in under 10 s on SQLite on 2 cores.
# Usage: bash bench/import.sh   (env: POSTS, COMMENTS, SKIP_BUILD=1, KEEP=1)
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS=${POSTS:-10000}
COMMENTS=${COMMENTS:-10}
TARGET=${CARGO_TARGET_DIR:-target}
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -p colloquy
BIN="$TARGET/release/colloquy"
TMP=$(mktemp -d)
PGDBS=()
cleanup() {
  for d in "${PGDBS[@]}"; do psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT

SMALL=$((POSTS / 5))
python3 bench/import/generate.py "$TMP/big.wxr" "$POSTS" "$COMMENTS"
python3 bench/import/generate.py "$TMP/small.wxr" "$SMALL" "$COMMENTS"
printf 'files: %s (%s MB), %s (%s MB)\n' \
  "$POSTS posts" "$(( $(stat -c %s "$TMP/big.wxr") / 1048576 ))" \
  "$SMALL posts" "$(( $(stat -c %s "$TMP/small.wxr") / 1048576 ))"

run() { # name database-url file posts
  local name=$1 url=$2 file=$3 posts=$4
  mkdir -p "$TMP/data-$name"
  COLLOQUY_DATA_DIR="$TMP/data-$name" COLLOQUY_DATABASE_URL="$url" COLLOQUY_LOG=warn \
    "$BIN" migrate >/dev/null 2>&1
  COLLOQUY_DATA_DIR="$TMP/data-$name" COLLOQUY_DATABASE_URL="$url" COLLOQUY_LOG=warn \
    /usr/bin/time -f '%e %M' -o "$TMP/time-$name" \
    "$BIN" import wxr "$file" --no-media --json >"$TMP/report-$name.json" 2>"$TMP/stderr-$name"
  read -r secs kb <"$TMP/time-$name"
  python3 - "$name" "$secs" "$kb" "$posts" "$COMMENTS" "$TMP/report-$name.json" <<'PY'
import json, sys
name, secs, kb, posts, per, report = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
r = json.load(open(report))
assert r["posts"] == posts, f"imported {r['posts']} of {posts} posts"
thoughts = r["thoughts"]
print(f"{name:>14}: {r['posts']} posts + {thoughts} thoughts in {secs:.2f} s "
      f"({(r['posts'] + thoughts) / secs:,.0f} rows/s), peak memory {kb / 1024:.0f} MiB"
      + (f", {secs / 10:.2f}x the 10 s budget" if posts >= 10000 else ""))
PY
}

run sqlite-small "sqlite://$TMP/data-sqlite-small/colloquy.db" "$TMP/small.wxr" "$SMALL"
run sqlite "sqlite://$TMP/data-sqlite/colloquy.db" "$TMP/big.wxr" "$POSTS"
if psql -h 127.0.0.1 -U postgres -d test -qc 'SELECT 1' >/dev/null 2>&1; then
  for n in small big; do
    db="colloquy_bench_import_${n}_$$"
    PGDBS+=("$db")
    psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db" >/dev/null
  done
  run postgres-small "postgres://postgres@127.0.0.1:5432/colloquy_bench_import_small_$$" "$TMP/small.wxr" "$SMALL"
  run postgres "postgres://postgres@127.0.0.1:5432/colloquy_bench_import_big_$$" "$TMP/big.wxr" "$POSTS"
else
  echo "PostgreSQL is not running on 127.0.0.1:5432: its figures were not measured"
fi
