#!/usr/bin/env bash
# Live-debate room benchmark: one Colloquy server on loopback, one debate room per
# measurement, and bench/live/loadgen (raw HTTP/1.1 SSE subscribers + message posters):
#   (a) SUBSCRIBERS subscribers, RATE msg/s from 1 poster for SECONDS: post-to-receive p50/p99
#   (b) SUBSCRIBERS subscribers, POSTERS posters in a closed loop: deliveries/s and p50/p99
#   (c) server memory per subscriber (VmRSS after connecting minus before, from run a)
#   (d) a storm of STORM forced disconnects resumed with Last-Event-ID during a busy phase,
#       then every client must hold exactly seqs 1..=last (no gap, no duplicate)
# Usage: bash bench/live.sh
# Env: SUBSCRIBERS=10000 SECONDS=20 (or DURATION) RATE=20 RATE_POSTERS=1 POSTERS=8 STORM=1000
#      STORM_MODE=push|rate STORM_RATE=200 STORM_POSTERS=$POSTERS STORM_SECONDS=$SECONDS
#      RUNS="rate push storm" BACKEND=sqlite|postgres RAMP=500 DRAIN=30 CHECK_JSON=1
#      ARRIVAL=1 (also report post-to-arrival: kernel receive timestamps, without the
#      generator's own delay in reading; one more system call per read)
#      SKIP_BUILD=1 BIN=path/to/colloquy LOADGEN=path/to/live-loadgen KEEP=1 STRICT=1
#      SERVER_ENV="COLLOQUY_X=y ..." (extra server environment; the server gets
#      COLLOQUY_DEBATE_STREAMS_PER_IP=0, no per-address stream cap, unless this sets it)
# Load goes only to 127.0.0.1; every run is bounded in time; the server is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if printenv SECONDS >/dev/null 2>&1; then DURATION=${DURATION:-$SECONDS}; fi
DURATION=${DURATION:-20}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
RATE=${RATE:-20}
RATE_POSTERS=${RATE_POSTERS:-1}
POSTERS=${POSTERS:-8}
STORM=${STORM:-1000}
STORM_MODE=${STORM_MODE:-push}
STORM_RATE=${STORM_RATE:-200}
STORM_POSTERS=${STORM_POSTERS:-$POSTERS}
STORM_SECONDS=${STORM_SECONDS:-$DURATION}
RUNS=${RUNS:-rate push storm}
BACKEND=${BACKEND:-sqlite}
RAMP=${RAMP:-500}
DRAIN=${DRAIN:-30}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac

# Both processes need one descriptor per connection (the hard limit here is 20,000).
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((SUBSCRIBERS + 200)) ]; then
  echo "warning: ulimit -n is $(ulimit -n), below SUBSCRIBERS+200; connections will fail" >&2
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p colloquy
  CARGO_TARGET_DIR="$TARGET" cargo build --release --manifest-path bench/live/loadgen/Cargo.toml
fi
BIN=${BIN:-$TARGET/release/colloquy}
LOADGEN=${LOADGEN:-$TARGET/release/live-loadgen}
[ -x "$BIN" ] || { echo "no server binary at $BIN" >&2; exit 2; }
[ -x "$LOADGEN" ] || { echo "no load generator at $LOADGEN" >&2; exit 2; }
"$LOADGEN" --selftest

TMP=$(mktemp -d)
SERVER_PID=""
PG_DB=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$PG_DB" ]; then
    dropdb -h 127.0.0.1 -U postgres --if-exists "$PG_DB" 2>/dev/null ||
      psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
# All subscribers come from 127.0.0.1: lift the per-address cap on event streams (64 by
# default); SERVER_ENV may set it back.
SENV=(COLLOQUY_DATA_DIR="$TMP/data" COLLOQUY_LISTEN="127.0.0.1:$PORT" COLLOQUY_BASE_URL="$BASE" COLLOQUY_LOG=warn
  COLLOQUY_DEBATE_STREAMS_PER_IP=0)
if [ "$BACKEND" = postgres ]; then
  PG_DB="colloquy_live_$$_$(date +%s)"
  if command -v createdb >/dev/null; then
    createdb -h 127.0.0.1 -U postgres "$PG_DB"
  else
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $PG_DB"
  fi
  SENV+=(COLLOQUY_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PG_DB")
elif [ "$BACKEND" != sqlite ]; then
  echo "BACKEND must be sqlite or postgres" >&2; exit 2
fi
# shellcheck disable=SC2206
[ -n "${SERVER_ENV:-}" ] && SENV+=(${SERVER_ENV})
mkdir -p "$TMP/data"

env "${SENV[@]}" "$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$BASE/healthz" >/dev/null || { echo "server did not come up:" >&2; tail -20 "$TMP/server.log" >&2; exit 2; }

echo pw-long-enough-123 | env "${SENV[@]}" "$BIN" user add --email host@example.test --name Host --role admin --password-stdin >/dev/null
TOKEN=$(env "${SENV[@]}" "$BIN" token create --email host@example.test | tail -n1 | tr -d '[:space:]')
[ -n "$TOKEN" ] || { echo "no API token" >&2; exit 2; }

# api METHOD PATH JSON OUTFILE: fails loudly on a non-2xx answer.
api() {
  local code
  code=$(curl -sS -o "$4" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -H 'Accept: application/json' --data-binary "$3" "$BASE$2")
  case "$code" in 2??) ;; *) echo "$1 $2 answered $code: $(head -c 500 "$4")" >&2; return 1 ;; esac
}
jget() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v)' "$1" "$2"; }

api POST /api/v1/posts '{"title":"Live debate benchmark","body_markdown":"Should the live room scale to ten thousand readers?","tags":[],"categories":[],"status":"published"}' "$TMP/post.json"

# new_debate NAME -> sets DEBATE_ID and EVENTS_URL for a fresh, open room
new_debate() {
  local body
  body=$(python3 - "$TMP/post.json" "$1" <<'PY'
import datetime, json, sys
post = json.load(open(sys.argv[1]))
start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).replace(microsecond=0)
print(json.dumps({"post_id": post["id"], "title": "Benchmark room " + sys.argv[2],
                  "starts_at": start.isoformat().replace("+00:00", "Z"),
                  "duration_minutes": 180, "zones": ["Europe/London"]}))
PY
)
  api POST /api/v1/debates "$body" "$TMP/debate-$1.json"
  DEBATE_ID=$(jget "$TMP/debate-$1.json" id)
  EVENTS_URL=$(jget "$TMP/debate-$1.json" events_url)
  case "$EVENTS_URL" in /*) EVENTS_URL="$BASE$EVENTS_URL" ;; esac # tolerate a relative URL
  api POST "/api/v1/debates/$DEBATE_ID/open" '{}' "$TMP/open-$1.json"
  api POST "/api/v1/debates/$DEBATE_ID/code-of-conduct" '{}' "$TMP/coc-$1.json"
  echo "debate $DEBATE_ID ($1): $EVENTS_URL"
}

# loadgen NAME ARGS...: one bounded run; its JSON report goes to $TMP/NAME.json
STATUS=()
loadgen() {
  local name=$1; shift
  new_debate "$name"
  local extra=()
  [ "${CHECK_JSON:-0}" = 1 ] && extra+=(--check-json)
  [ "${ARRIVAL:-0}" = 1 ] && extra+=(--arrival-times)
  local limit=$((${DURATION%.*} + ${STORM_SECONDS%.*} + DRAIN + 400))
  echo "== run $name: $*"
  set +e
  COLLOQUY_TOKEN="$TOKEN" timeout "$limit" "$LOADGEN" --events-url "$EVENTS_URL" --url-base "$BASE" \
    --debate-id "$DEBATE_ID" --subscribers "$SUBSCRIBERS" --ramp "$RAMP" --drain "$DRAIN" \
    --server-pid "$SERVER_PID" --json "${extra[@]}" "$@" >"$TMP/$name.out"
  local rc=$?
  set -e
  grep -v '^{' "$TMP/$name.out" || true
  grep '^{' "$TMP/$name.out" | tail -n1 >"$TMP/$name.json" || true
  STATUS+=("$name=$rc")
  # The server's own figures for the run (request times by route, room lateness), kept with KEEP=1.
  curl -fs "$BASE/metrics" >"$TMP/$name.metrics" 2>/dev/null || true
  [ "$rc" = 0 ] || echo "run $name exited $rc" >&2
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server died; log:" >&2; tail -30 "$TMP/server.log" >&2; exit 2; }
  sleep 2 # let the server drop the closed streams before the next run
}

for r in $RUNS; do
  case "$r" in
    rate) loadgen rate --mode rate --rate "$RATE" --posters "$RATE_POSTERS" --seconds "$DURATION" ;;
    push) loadgen push --mode push --posters "$POSTERS" --seconds "$DURATION" ;;
    storm)
      if [ "$STORM_MODE" = rate ]; then
        loadgen storm --mode rate --rate "$STORM_RATE" --posters "$STORM_POSTERS" --seconds "$STORM_SECONDS" --storm "$STORM"
      else
        loadgen storm --mode push --posters "$STORM_POSTERS" --seconds "$STORM_SECONDS" --storm "$STORM"
      fi ;;
    *) echo "unknown run $r (use rate, push, storm)" >&2; exit 2 ;;
  esac
done

echo
echo "backend $BACKEND; $SUBSCRIBERS subscribers; server and load generator share the same $(nproc) cores"
set +e
python3 - "$TMP" "$SUBSCRIBERS" "$STORM" "$RATE" "$POSTERS" "${STATUS[@]}" <<'PY'
import json, os, sys
tmp, n, storm, rate, posters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
status = dict(s.split("=", 1) for s in sys.argv[6:])
def load(name):
    p = os.path.join(tmp, name + ".json")
    try:
        return json.load(open(p))
    except Exception:
        return None
rows, failed = [], 0
def row(what, goal, result, ok):
    global failed
    verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
    if ok is False:
        failed += 1
    rows.append((what, goal, result, verdict))
def full(r):
    return r["subscribers_connected"] >= n and not r.get("fatal")
def note(r):
    return "" if full(r) else f" [only {r['subscribers_connected']}/{n} connected{'; ' + r['fatal'] if r.get('fatal') else ''}]"
a, b, d = load("rate"), load("push"), load("storm")
if a:
    row(f"(a) p99 post->receive, {rate} msg/s", "< 150 ms", f"{a['latency_p99_ms']:.1f} ms (p50 {a['latency_p50_ms']:.1f}){note(a)}",
        full(a) and a["latency_count"] > 0 and a["latency_p99_ms"] < 150)
    row("    deliveries, gaps, duplicates", "all, 0, 0", f"{a['deliveries_total']}/{a['deliveries_expected']}, {a['gap_events']}, {a['duplicates']}",
        a["deliveries_total"] == a["deliveries_expected"] and a["gap_events"] == 0 and a["duplicates"] == 0)
elif "rate" in status:
    row("(a) rate run", "", f"no result (exit {status['rate']})", False)
if b:
    row(f"(b) deliveries/s, {posters} posters pushing", ">= 1,000,000", f"{b['deliveries_per_sec']:,.0f}/s ({b['posts_per_sec']:.0f} posts/s){note(b)}",
        full(b) and b["deliveries_per_sec"] >= 1_000_000)
    row("    p99 post->receive at that load", "< 300 ms", f"{b['latency_p99_ms']:.1f} ms (p50 {b['latency_p50_ms']:.1f}, max {b['latency_max_ms']:.0f})",
        full(b) and b["latency_count"] > 0 and b["latency_p99_ms"] < 300)
    row("    deliveries, gaps, duplicates", "all, 0, 0", f"{b['deliveries_total']}/{b['deliveries_expected']}, {b['gap_events']}, {b['duplicates']}",
        b["deliveries_total"] == b["deliveries_expected"] and b["gap_events"] == 0 and b["duplicates"] == 0)
elif "push" in status:
    row("(b) push run", "", f"no result (exit {status['push']})", False)
mem = a or b or d
if mem and mem.get("kb_per_subscriber") is not None:
    row("(c) server memory per subscriber", "<= 20 KB", f"{mem['kb_per_subscriber']:.1f} KB ({mem['rss_before_kb']//1024} -> {mem['rss_connected_kb']//1024} MB; after phase {mem['kb_per_subscriber_after']:.1f} KB){note(mem)}",
        full(mem) and mem["kb_per_subscriber"] <= 20)
if d:
    row(f"(d) storm: {storm} forced reconnects", f"{storm} resumed", f"{d['storm_forced_reconnects']} ({d['unplanned_reconnects']} unplanned)", d["storm_forced_reconnects"] >= storm)
    row("    clients with exactly 1..=last seq", f"all {n}", f"{d['clients_exact']}/{n} (last seq {d['last_seq']}; {d['gap_events']} gaps, {d['duplicates']} dups)",
        d["clients_failed"] == 0 and d["clients_exact"] == n)
elif "storm" in status:
    row("(d) storm run", "", f"no result (exit {status['storm']})", False)
w = [max(len(r[i]) for r in rows + [("measurement", "goal", "result", "")]) for i in range(3)]
print(f"{'measurement':<{w[0]}}  {'goal':<{w[1]}}  {'result':<{w[2]}}  verdict")
for r in rows:
    print(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}")
sys.exit(1 if failed else 0)
PY
GOALS=$?
set -e
echo "run exit codes: ${STATUS[*]}"
for s in "${STATUS[@]}"; do
  case "$s" in storm=1) echo "storm verification FAILED" >&2; exit 1 ;; *=0) ;; *) exit 2 ;; esac
done
if [ "${STRICT:-0}" = 1 ] && [ "$GOALS" != 0 ]; then exit 1; fi
exit 0
