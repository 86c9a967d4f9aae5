#!/usr/bin/env bash
# Starts Colloquy on a free loopback port with a fresh data dir and runs the browser tests.
# Usage: bash tests/browser/run.sh [path/to/colloquy]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-${CARGO_TARGET_DIR:-$root/target}/debug/colloquy}
chromium_bin=${CHROMIUM:-/usr/bin/chromium}

skip() {
  if [ "${COLLOQUY_REQUIRE_SERVICES:-0}" = 1 ]; then
    echo "FAIL: browser test cannot run: $1 (COLLOQUY_REQUIRE_SERVICES=1)" >&2
    exit 1
  fi
  echo "!!!!! SKIPPED: browser test: $1 !!!!!" >&2
  exit 0
}
[ -x "$chromium_bin" ] || skip "Chromium not found at $chromium_bin (apt-get install chromium)"
command -v node >/dev/null || skip "node not found"
[ -x "$bin" ] || { echo "no colloquy binary at $bin (cargo build first)" >&2; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/axe-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
COLLOQUY_DATA_DIR="$tmp" COLLOQUY_LISTEN="127.0.0.1:$port" COLLOQUY_BASE_URL="$base" \
  "$bin" serve >"$tmp/stdout.log" 2>"$tmp/stderr.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
setup=$(grep -o "$base/admin/setup?token=[A-Za-z0-9_-]*" "$tmp/stdout.log" | head -n1)
[ -n "$setup" ] || { echo "no setup link printed"; cat "$tmp/stdout.log" "$tmp/stderr.log"; exit 1; }
rc=0
CHROMIUM="$chromium_bin" timeout 240 node "$here/e2e.mjs" "$base" "$setup" || rc=$?

# Thoughts and moderation, against the same server: e2e.mjs has left an admin
# (ada@example.org) and a published post; add a moderator through the CLI.
mod_email=moderator@example.org
mod_password="moderator-$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')"
printf '%s\n' "$mod_password" | COLLOQUY_DATA_DIR="$tmp" \
  "$bin" user add --email "$mod_email" --name "Mo Moderator" --role moderator --password-stdin >/dev/null
MOD_EMAIL="$mod_email" MOD_PASSWORD="$mod_password" \
  ADMIN_EMAIL=ada@example.org ADMIN_PASSWORD="correct horse battery" \
  CHROMIUM="$chromium_bin" timeout 120 node "$here/thoughts.mjs" "$base" || rc=$?

# The live-debate room, against the same server: a host (an editor, who schedules the debate
# with an API token) and two members, all through the CLI.
add_user() { # email name role password
  printf '%s\n' "$4" | COLLOQUY_DATA_DIR="$tmp" \
    "$bin" user add --email "$1" --name "$2" --role "$3" --password-stdin >/dev/null
}
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(12))'; }
host_email=host@example.org host_password="host-$(secret)"
a_email=amara@example.org a_password="amara-$(secret)"
b_email=ben@example.org b_password="ben-$(secret)"
add_user "$host_email" "Hana Host" editor "$host_password"
add_user "$a_email" "Amara Adeyemi" member "$a_password"
add_user "$b_email" "Ben Brook" member "$b_password"
host_token=$(COLLOQUY_DATA_DIR="$tmp" "$bin" token create --email "$host_email")
HOST_EMAIL="$host_email" HOST_PASSWORD="$host_password" HOST_TOKEN="$host_token" \
  A_EMAIL="$a_email" A_PASSWORD="$a_password" B_EMAIL="$b_email" B_PASSWORD="$b_password" \
  CHROMIUM="$chromium_bin" timeout 180 node "$here/debate.mjs" "$base" || rc=$?

# Accounts: a second server whose sign-in page offers a real OpenID Connect provider
# (tests/oidc, on loopback), so Chromium can go through its button and its login form.
if [ ! -d "$root/tests/oidc/node_modules/oidc-provider" ]; then
  (cd "$root/tests/oidc" && npm ci --no-audit --no-fund --loglevel=error)
fi
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base2="http://127.0.0.1:$port2"
clients="[{\"client_id\":\"browser-test\",\"client_secret\":\"browser-test-secret-0123456789\",\"redirect_uris\":[\"$base2/sign-in/with/example/callback\"]}]"
(cd "$root" && exec node tests/oidc/provider.mjs --port 0 --clients "$clients") >"$tmp/oidc.log" 2>&1 &
oidc_pid=$!
issuer=""
for _ in $(seq 1 100); do
  issuer=$(sed -n 's/^oidc provider ready on //p' "$tmp/oidc.log" | head -n1)
  [ -n "$issuer" ] && break
  sleep 0.1
done
[ -n "$issuer" ] || { echo "the OpenID Connect test provider did not start"; cat "$tmp/oidc.log"; exit 1; }
mkdir -p "$tmp/accounts"
COLLOQUY_DATA_DIR="$tmp/accounts" COLLOQUY_LISTEN="127.0.0.1:$port2" COLLOQUY_BASE_URL="$base2" \
  COLLOQUY_FETCH_ALLOW_PRIVATE=1 \
  COLLOQUY_OIDC_PROVIDERS="[{\"id\":\"example\",\"issuer\":\"$issuer\",\"client_id\":\"browser-test\",\"client_secret\":\"browser-test-secret-0123456789\",\"name\":\"Example ID\",\"button_label\":\"Sign in with Example ID\"}]" \
  "$bin" serve >"$tmp/accounts/stdout.log" 2>"$tmp/accounts/stderr.log" &
pid2=$!
trap 'kill $pid $pid2 $oidc_pid 2>/dev/null || true; wait $pid $pid2 $oidc_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -fs "$base2/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
CHROMIUM="$chromium_bin" timeout 120 node "$here/accounts.mjs" "$base2" || rc=$?
exit $rc
