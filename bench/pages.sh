#!/usr/bin/env bash
# Page benchmark: Colloquy's post page (cached and uncached), front page and feed against
# nginx serving the very same post bytes as a static file, all measured in the same run on
# this machine, load generator included. Prints requests/s, latency and ratios to nginx.
# Usage: bash bench/pages.sh   (env: DURATION=6 ROUNDS=3 CONNECTIONS=32 THREADS=2 KEEP=1 THOUGHTS=0)
# THOUGHTS=100 puts that many thoughts under the post, in two levels (half replies), as
# bench/thoughts.sh does; the uncached goal is then 1 % of nginx instead of 6 %.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
THOUGHTS=${THOUGHTS:-0}
TARGET=${CARGO_TARGET_DIR:-target}

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk curl >/dev/null
fi
cargo build --release -p colloquy
BIN="$TARGET/release/colloquy"

TMP=$(mktemp -d)
chmod 755 "$TMP"  # nginx workers run as www-data and must read the page
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A 1,200-word opinion piece with 19 tags and 3 categories, the same every run.
body_json() {
  python3 - <<'PY'
import json, random
random.seed(7)
words = ("social work care practice family media public service children adults trust law budget "
         "caseload visit carer voice story policy community ethics confidence journalist headline "
         "support team council court evidence listen change").split()
paras = []
count = 0
while count < 1200:
    n = random.randint(40, 90)
    paras.append(" ".join(random.choice(words) for _ in range(n)).capitalize() + ".")
    count += n
paras.insert(3, "## What the coverage leaves out")
paras.insert(7, "> We cannot ask the press to be kinder. We can ask ourselves to be more present.")
paras.insert(10, "## What we can do")
print(json.dumps({
    "title": "Social work and the media: saints, villains and the rest of us",
    "body_markdown": "\n\n".join(paras),
    "tags": [f"Topic {i}" for i in range(1, 20)],
    "categories": ["Opinion", "Social work", "Media"],
    "status": "published",
}))
PY
}

# start_instance NAME [ENV...] -> sets URL_<NAME>, PID
start_instance() {
  local name=$1; shift
  local port dir
  port=$(free_port); dir="$TMP/$name"; mkdir -p "$dir"
  env COLLOQUY_DATA_DIR="$dir" COLLOQUY_LISTEN="127.0.0.1:$port" COLLOQUY_BASE_URL="http://127.0.0.1:$port" COLLOQUY_LOG=warn \
    COLLOQUY_THOUGHT_LIMITS=100000,100000 "$@" \
    "$BIN" serve >"$dir/out.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  printf 'a long enough password' | COLLOQUY_DATA_DIR="$dir" "$BIN" user add --email bench@example.org --name "Bench Author" --role admin --password-stdin 2>/dev/null
  local token url
  token=$(COLLOQUY_DATA_DIR="$dir" "$BIN" token create --email bench@example.org 2>/dev/null)
  url=$(body_json | curl -fs -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$port/api/v1/posts" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  eval "BASE_$name=http://127.0.0.1:$port"
  eval "POST_$name=$url"
  if [ "$THOUGHTS" -gt 0 ]; then
    local id parent i
    id=$(curl -fs "http://127.0.0.1:$port/api/v1/posts?per_page=1" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
    for i in $(seq 1 $((THOUGHTS / 2))); do
      parent=$(curl -fs -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data "{\"body\": \"Thought $i: I agree with the point about *caseloads*, and [the review](https://example.org/review) says the same.\"}" \
        "http://127.0.0.1:$port/api/v1/posts/$id/thoughts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
      curl -fs -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data "{\"body\": \"Reply $i: thank you, that matches what our team sees in supervision.\", \"parent_id\": $parent}" \
        "http://127.0.0.1:$port/api/v1/posts/$id/thoughts"
    done
  fi
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

start_instance cached
start_instance uncached COLLOQUY_PAGE_CACHE=off
sleep 0.5
IDLE_RSS=$(rss_kb "$PID_cached")

# nginx serves the cached instance's post bytes.
mkdir -p "$TMP/www"; chmod 755 "$TMP/www"
curl -fs "$POST_cached" -o "$TMP/www/post.html"; chmod 644 "$TMP/www/post.html"
NGINX_PORT=$(free_port)
cat >"$TMP/nginx.conf" <<CONF
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type text/html;
  client_body_temp_path $TMP/nginx-body;
  proxy_temp_path $TMP/nginx-proxy;
  fastcgi_temp_path $TMP/nginx-fcgi;
  uwsgi_temp_path $TMP/nginx-uwsgi;
  scgi_temp_path $TMP/nginx-scgi;
  server { listen 127.0.0.1:$NGINX_PORT; root $TMP/www; }
}
CONF
nginx -c "$TMP/nginx.conf" -p "$TMP"
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/post.html")
[ "$code" = 200 ] || { echo "nginx answered $code for the reference page; see $TMP/nginx-error.log" >&2; exit 1; }

# measure LABEL URL [PID_TO_SAMPLE] -> one wrk run, appended to RUNS_<LABEL>
declare -A RUNS_RPS P50 P99
PEAK_RSS=0
measure() {
  local label=$1 url=$2 pid=${3:-}
  [ -z "${RUNS_RPS[$label]:-}" ] && wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "$url" >/dev/null
  local sampler=""
  if [ -n "$pid" ]; then
    ( peak=$(cat "$TMP/peak" 2>/dev/null || echo 0); while kill -0 "$pid" 2>/dev/null; do r=$(rss_kb "$pid"); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$TMP/peak"; sleep 0.5; done ) &
    sampler=$!
  fi
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  RUNS_RPS[$label]="${RUNS_RPS[$label]:-} $(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  P50[$label]="${P50[$label]:-} $(echo "$out" | awk '$1=="50%" {print $2}')"
  P99[$label]="${P99[$label]:-} $(echo "$out" | awk '$1=="99%" {print $2}')"
  if echo "$out" | grep -q "Non-2xx"; then echo "ERROR: $label answered non-2xx responses; its figure is not valid" >&2; exit 1; fi
}

# The machine's speed drifts (other load, CPU frequency): each round measures every target
# once, one after another, and the figures reported are each target's median over the rounds.
TARGETS="nginx cached_post uncached_post cached_front cached_feed"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  measure nginx "http://127.0.0.1:$NGINX_PORT/post.html"
  measure cached_post "$POST_cached" "$PID_cached"
  measure uncached_post "$POST_uncached"
  measure cached_front "$BASE_cached/"
  measure cached_feed "$BASE_cached/feed/"
done
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" $1; }
# median of wrk latencies such as 240.00us, 2.42ms, 1.01s
middle() { python3 -c "
import statistics, sys
unit = {'us': 1e-3, 'ms': 1.0, 's': 1e3}
def ms(v):
    for u in ('us', 'ms', 's'):
        if v.endswith(u):
            return float(v[:-len(u)]) * unit[u]
    return float(v)
print(f'{statistics.median(ms(v) for v in sys.argv[1:]):.2f}ms')" $1; }
declare -A RPS
for k in $TARGETS; do RPS[$k]=$(median "${RUNS_RPS[$k]}"); done
LOAD_RSS=$(cat "$TMP/peak" 2>/dev/null || echo 0)

ratio() { python3 -c "print(f'{float($1)/float($2):.3f}')"; }
printf '\n%-16s %12s %10s %10s %10s   %s\n' target "median req/s" p50 p99 "vs nginx" "each round (req/s)"
for k in $TARGETS; do
  printf '%-16s %12.0f %10s %10s %9sx   %s\n' "$k" "${RPS[$k]}" "$(middle "${P50[$k]}")" "$(middle "${P99[$k]}")" "$(ratio "${RPS[$k]}" "${RPS[nginx]}")" "${RUNS_RPS[$k]}"
done
echo
echo "post page: $(wc -c <"$TMP/www/post.html") bytes; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, on the same 2 cores"
WP_RPS=31; [ "$THOUGHTS" -gt 0 ] && WP_RPS=4.7
echo "reference: stock WordPress served this page at about $WP_RPS req/s here (../shared/wordpress-peer)"
echo "WordPress ratio: uncached post is $(python3 -c "print(f'{float(${RPS[uncached_post]})/$WP_RPS:.0f}')")x WordPress"
c=$(ratio "${RPS[cached_post]}" "${RPS[nginx]}"); u=$(ratio "${RPS[uncached_post]}" "${RPS[nginx]}")
python3 -c "print('cached post >= 0.8x nginx:', 'PASS' if $c >= 0.8 else 'FAIL', '($c)')"
if [ "$THOUGHTS" -gt 0 ]; then
  echo "the post carries $THOUGHTS thoughts in two levels; stock WordPress: about 4.7 req/s for such a page"
  python3 -c "print('uncached post with thoughts >= 0.01x nginx:', 'PASS' if $u >= 0.01 else 'FAIL', '($u)')"
else
  python3 -c "print('uncached post >= 0.06x nginx:', 'PASS' if $u >= 0.06 else 'FAIL', '($u)')"
fi
echo "RSS of the cached instance: idle $((IDLE_RSS/1024)) MB, peak under load $((LOAD_RSS/1024)) MB (goal: idle < 30 MB)"
