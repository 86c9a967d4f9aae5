#!/usr/bin/env bash
# Mail fan-out benchmark: one post announced to FOLLOWERS (default 10,000) confirmed followers,
# delivered over SMTP to a local sink (aiosmtpd, counting only) on the same 2 cores.
# Prints messages per second from publishing to the last accepted message, the server's
# peak memory, and duplicates by Message-ID. Usage: bash bench/mail.sh (env: FOLLOWERS, KEEP=1)
set -euo pipefail
cd "$(dirname "$0")/.."
FOLLOWERS=${FOLLOWERS:-10000}  # a multiple of 50: the sink writes its count every 50 mails
TARGET=${CARGO_TARGET_DIR:-target}
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
cargo build --release -p colloquy
BIN="$TARGET/release/colloquy"
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SMTP_PORT=$(free_port); PORT=$(free_port)
python3 tests/mail/sink.py --port "$SMTP_PORT" --dir "$TMP/sink" --count-only >"$TMP/sink.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q ready "$TMP/sink.log" 2>/dev/null && break; sleep 0.1; done

export COLLOQUY_DATA_DIR="$TMP/data" COLLOQUY_LISTEN="127.0.0.1:$PORT" COLLOQUY_BASE_URL="http://127.0.0.1:$PORT" COLLOQUY_LOG=warn
"$BIN" migrate >/dev/null
# Followers go straight into the database: this measures the fan-out, not the import.
python3 - "$TMP/data/colloquy.db" "$FOLLOWERS" <<'PY'
import sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
t = int(time.time())
c.executemany(
    "INSERT INTO subscribers (email, status, frequency, source, confirmed_at, created_at, updated_at) "
    "VALUES (?, 'confirmed', 'immediate', 'bench', ?, ?, ?)",
    [(f"follower{i:05d}@example.org", t, t, t) for i in range(n)])
c.commit()
PY
printf 'a long enough password' | "$BIN" user add --email bench@example.org --name "Bench Author" --role admin --password-stdin >/dev/null
TOKEN=$("$BIN" token create --email bench@example.org)
COLLOQUY_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT?tls=none" "$BIN" serve >"$TMP/serve.log" 2>&1 &
SERVER=$!; PIDS+=($SERVER)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
IDLE=$(rss_kb $SERVER)

start=$(date +%s.%N)
code=$(curl -s -o "$TMP/post.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data '{"title": "A post for every follower", "body_markdown": "Hello, followers.", "status": "published"}' \
  "http://127.0.0.1:$PORT/api/v1/posts")
answered=$(date +%s.%N)
[ "$code" = 201 ] || { echo "publishing answered $code" >&2; cat "$TMP/post.json" >&2; exit 1; }
PEAK=$IDLE; count=0
deadline=$(( $(date +%s) + 300 ))
while [ "$count" -lt "$FOLLOWERS" ]; do
  count=$(cat "$TMP/sink/count" 2>/dev/null || echo 0)
  r=$(rss_kb $SERVER); [ "$r" -gt "$PEAK" ] && PEAK=$r
  [ "$(date +%s)" -lt "$deadline" ] || { echo "only $count of $FOLLOWERS mails arrived in 300 s" >&2; exit 1; }
  sleep 0.05
done
end=$(date +%s.%N)
dups=$(cat "$TMP/sink/duplicates" 2>/dev/null || echo 0)
python3 - "$start" "$answered" "$end" "$FOLLOWERS" "$IDLE" "$PEAK" "$dups" <<'PY'
import sys
start, answered, end = map(float, sys.argv[1:4])
n, idle, peak, dups = map(int, sys.argv[4:8])
rate = n / (end - start)
print(f"followers: {n}")
print(f"publish answered in {1000*(answered-start):.0f} ms (the fan-out is background work)")
print(f"all {n} mails accepted by the SMTP sink after {end-start:.2f} s: {rate:.0f} messages/s")
print(f"server memory: idle {idle//1024} MB, peak during the fan-out {peak//1024} MB")
print(f"duplicate Message-IDs at the sink: {dups}")
print("messages/s >= 500:", "PASS" if rate >= 500 else "FAIL")
PY
