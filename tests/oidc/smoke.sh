#!/usr/bin/env bash
# Smoke test for the test OpenID Connect provider: starts it on a free loopback port, signs
# in with curl only (the same requests a Rust test client makes), checks the ID token,
# userinfo, PKCE, the HTML form, and every misbehaviour mode, then stops it.
# Exits non-zero on the first failure. Needs node, curl, jq, openssl and python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -d "$here/node_modules/oidc-provider" ] || (cd "$here" && npm ci --no-audit --no-fund >&2)

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() {
  echo "FAIL: $*" >&2
  echo "--- provider stderr:" >&2; cat "$tmp/stderr" >&2 || true
  echo "$passed passed, 1 failed"
  exit 1
}
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; ok "$1"; }

# ---------------------------------------------------------------- start

client_id=colloquy
client_secret=s3cret-for-tests
redirect_uri=http://127.0.0.1:9/callback # never contacted: we only read the Location header
printf '[{"client_id":"%s","client_secret":"%s","redirect_uris":["%s"]}]\n' \
  "$client_id" "$client_secret" "$redirect_uri" >"$tmp/clients.json"

node "$here/provider.mjs" --port 0 --clients "$tmp/clients.json" >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
for _ in $(seq 100); do
  grep -q '^oidc provider ready on ' "$tmp/stdout" && break
  kill -0 "$pid" 2>/dev/null || fail "provider exited early"
  sleep 0.1
done
issuer=$(sed -n 's/^oidc provider ready on //p' "$tmp/stdout")
[ -n "$issuer" ] || fail "provider did not print its ready line"
ok "provider ready on $issuer"

# ---------------------------------------------------------------- helpers

# JWT helpers in standard-library Python. `verify` checks RS256 (RSASSA-PKCS1-v1_5 with
# SHA-256) against the JWKS key named by the token's kid; exit 1 means "does not verify".
jwt() {
  python3 -c '
import base64, hashlib, json, sys
def b64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
what, token = sys.argv[1], sys.argv[2]
h, p, s = token.split(".")
if what == "header": print(json.dumps(json.loads(b64(h))))
elif what == "claims": print(json.dumps(json.loads(b64(p))))
elif what == "verify":
    header = json.loads(b64(h))
    keys = [k for k in json.load(open(sys.argv[3]))["keys"] if k["kid"] == header.get("kid")]
    if header.get("alg") != "RS256" or len(keys) != 1: sys.exit(1)
    n, e = (int.from_bytes(b64(keys[0][x]), "big") for x in ("n", "e"))
    size = (n.bit_length() + 7) // 8
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(f"{h}.{p}".encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (size - 3 - len(digest_info)) + b"\x00" + digest_info
    sys.exit(0 if pow(int.from_bytes(b64(s), "big"), e, n).to_bytes(size, "big") == expected else 1)
' "$@"
}

sha256_b64url() { openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '='; }
urlencode() { jq -rn --arg v "$1" '$v|@uri'; }

# One request with the cookie jar, redirects not followed; sets status and location.
get() {
  local out
  out=$(curl -sS -o "$tmp/body" -b "$tmp/jar" -c "$tmp/jar" -w '%{http_code} %header{location}' "$@")
  status=${out%% *} location=${out#* }
}

# Starts an authorization request; sets verifier, nonce, state, status and location.
authorize() { # extra query, e.g. "&login_hint=..."
  verifier=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
  nonce=$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')
  state=$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')
  local challenge
  challenge=$(printf %s "$verifier" | sha256_b64url)
  get "$issuer/auth?client_id=$client_id&response_type=code&scope=openid%20email%20profile&redirect_uri=$(urlencode "$redirect_uri")&state=$state&nonce=$nonce&code_challenge=$challenge&code_challenge_method=S256$1"
}

# From the current status/location, follows the provider's own redirects until one leaves
# for the client; sets code.
follow_to_client() {
  local hops=0
  while [[ "$location" == "$issuer"/* ]]; do
    [ "$status" = 303 ] || [ "$status" = 302 ] || fail "expected a redirect, got $status"
    hops=$((hops + 1)); [ $hops -le 5 ] || fail "redirect loop"
    get "$location"
  done
  [[ "$location" == "$redirect_uri?"* ]] || fail "expected a redirect to the client, got $status '$location'"
  local query=${location#*\?}
  code=$(python3 -c 'import sys, urllib.parse as u; q = dict(u.parse_qsl(sys.argv[1])); print(q.get("code", "")); print(q.get("state", "")); print(q.get("iss", ""))' "$query")
  { read -r code; read -r got_state; read -r got_iss; } <<<"$code"
  [ -n "$code" ] || fail "no code in '$location'"
  [ "$got_state" = "$state" ] || fail "state mismatch in '$location'"
  [ "$got_iss" = "$issuer" ] || fail "iss mismatch in '$location'"
}

sign_in() { # EMAIL [keep]: browser-free login with login_hint, fresh cookie jar unless "keep"
  [ "${2:-}" = keep ] || rm -f "$tmp/jar"
  authorize "&login_hint=$(urlencode "$1")"
  follow_to_client
}

token() { # [post]: exchange $code; response in $tmp/token.json, prints HTTP status
  local auth=(-u "$client_id:$client_secret")
  [ "${1:-}" = post ] && auth=(--data-urlencode "client_id=$client_id" --data-urlencode "client_secret=$client_secret")
  curl -sS -o "$tmp/token.json" -w '%{http_code}' "${auth[@]}" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$code" \
    --data-urlencode "redirect_uri=$redirect_uri" --data-urlencode "code_verifier=$verifier" \
    "$issuer/token"
}

userinfo() { curl -sS -o "$tmp/userinfo.json" -w '%{http_code}' -H "Authorization: Bearer $(jq -r .access_token "$tmp/token.json")" "$issuer/me"; }

set_mode() { curl -sS -o "$tmp/mode.json" -w '%{http_code}' -H 'Content-Type: application/json' -d "{\"mode\":\"$1\"}" "$issuer/__test/mode"; }

claim() { jwt claims "$(jq -r .id_token "$tmp/token.json")" | jq -r "$1"; }

# ---------------------------------------------------------------- discovery

curl -sSf "$issuer/.well-known/openid-configuration" >"$tmp/discovery.json" || fail "discovery"
expect_eq "discovery issuer" "$(jq -r .issuer "$tmp/discovery.json")" "$issuer"
expect_eq "discovery PKCE methods" "$(jq -c .code_challenge_methods_supported "$tmp/discovery.json")" '["S256"]'
expect_eq "discovery response types" "$(jq -c .response_types_supported "$tmp/discovery.json")" '["code"]'
curl -sSf "$(jq -r .jwks_uri "$tmp/discovery.json")" >"$tmp/jwks.json" || fail "jwks"
expect_eq "jwks has one RS256 key" "$(jq -c '[.keys[] | .alg]' "$tmp/jwks.json")" '["RS256"]'
kid=$(jq -r '.keys[0].kid' "$tmp/jwks.json")

# ---------------------------------------------------------------- normal flow

sign_in alice@example.com
expect_eq "token (client_secret_basic)" "$(token)" 200
id_token=$(jq -r .id_token "$tmp/token.json")
jwt verify "$id_token" "$tmp/jwks.json" || fail "normal ID token does not verify"
ok "ID token signature verifies with the JWKS"
expect_eq "header kid" "$(jwt header "$id_token" | jq -r .kid)" "$kid"
expect_eq "iss" "$(claim .iss)" "$issuer"
expect_eq "aud" "$(claim .aud)" "$client_id"
expect_eq "nonce" "$(claim .nonce)" "$nonce"
expect_eq "email" "$(claim .email)" alice@example.com
expect_eq "email_verified" "$(claim .email_verified)" true
expect_eq "name" "$(claim .name)" alice
alice_sub=$(printf %s alice@example.com | openssl dgst -sha256 -r | cut -c1-32)
expect_eq "sub is sha256(email) prefix" "$(claim .sub)" "$alice_sub"
[ "$(claim .exp)" -gt "$(date +%s)" ] || fail "exp not in the future"; ok "exp in the future"
expect_eq "userinfo" "$(userinfo)" 200
expect_eq "userinfo claims" "$(jq -c '[.sub, .email, .email_verified, .name]' "$tmp/userinfo.json")" "[\"$alice_sub\",\"alice@example.com\",true,\"alice\"]"
expect_eq "code is single-use" "$(token)" 400

sign_in Unverified-Bob@Example.com
expect_eq "token (client_secret_post)" "$(token post)" 200
expect_eq "unverified email normalised" "$(claim .email)" unverified-bob@example.com
expect_eq "unverified email_verified" "$(claim .email_verified)" false

# Same cookie jar: the same user goes straight through, a different hint switches user.
sign_in carol@example.com
authorize "&login_hint=carol%40example.com"
[[ "$location" == "$redirect_uri?"* ]] || fail "existing session should skip the interaction, got $status $location"
ok "existing session, same login_hint: no interaction"
sign_in dave@example.com keep
expect_eq "token after switching user" "$(token)" 200
expect_eq "switched user's email" "$(claim .email)" dave@example.com

# ---------------------------------------------------------------- PKCE

sign_in alice@example.com
good_verifier=$verifier
verifier=wrong-verifier-wrong-verifier-wrong-verifier-0123456789
expect_eq "wrong code_verifier rejected" "$(token)" 400
expect_eq "wrong code_verifier error" "$(jq -r .error "$tmp/token.json")" invalid_grant
verifier=$good_verifier
rm -f "$tmp/jar"
get "$issuer/auth?client_id=$client_id&response_type=code&scope=openid&redirect_uri=$(urlencode "$redirect_uri")&state=s&nonce=n"
[[ "$location" == "$redirect_uri?"*error=invalid_request* ]] || fail "missing code_challenge should be refused, got $status $location"
ok "authorization request without PKCE refused"

# ---------------------------------------------------------------- HTML form (the browser path)

rm -f "$tmp/jar"
authorize ""
get "$location"
expect_eq "login form status" "$status" 200
grep -q '<label for="email">Email</label>' "$tmp/body" || fail "form has no Email label"
grep -q '<button type="submit">Sign in</button>' "$tmp/body" || fail "form has no Sign in button"
ok "login form has the Email label and Sign in button"
action=$(sed -n 's/.*<form method="post" action="\([^"]*\)".*/\1/p' "$tmp/body")
get --data-urlencode email=erin@example.com "$issuer$action"
follow_to_client
expect_eq "token after form sign-in" "$(token)" 200
expect_eq "form user's email" "$(claim .email)" erin@example.com

# ---------------------------------------------------------------- misbehaviour modes

expect_eq "GET mode" "$(curl -sS "$issuer/__test/mode" | jq -r .mode)" normal
expect_eq "unknown mode refused" "$(set_mode nonsense)" 400

for mode in bad_signature wrong_audience expired wrong_nonce wrong_issuer no_id_token alg_none; do
  expect_eq "set $mode" "$(set_mode $mode)" 200
  expect_eq "GET mode after setting $mode" "$(curl -sS "$issuer/__test/mode" | jq -r .mode)" $mode
  sign_in alice@example.com
  expect_eq "$mode: token status" "$(token)" 200
  id_token=$(jq -r '.id_token // empty' "$tmp/token.json")
  now=$(date +%s)
  case $mode in
    bad_signature)
      expect_eq "$mode: same kid" "$(jwt header "$id_token" | jq -r .kid)" "$kid"
      ! jwt verify "$id_token" "$tmp/jwks.json" || fail "$mode: signature verifies"
      ok "$mode: signature does not verify with the JWKS"
      expect_eq "$mode: claims untouched" "$(claim '[.iss, .aud, .nonce] | join(" ")')" "$issuer $client_id $nonce" ;;
    wrong_audience | expired | wrong_nonce | wrong_issuer)
      jwt verify "$id_token" "$tmp/jwks.json" || fail "$mode: signature does not verify"
      ok "$mode: still correctly signed"
      case $mode in
        wrong_audience) expect_eq "$mode: aud" "$(claim .aud)" someone-else ;;
        expired)
          [ "$(claim .exp)" -lt "$now" ] && [ "$(claim .iat)" -lt "$(claim .exp)" ] || fail "$mode: exp/iat"
          ok "$mode: exp in the past, iat before it" ;;
        wrong_nonce) [ "$(claim .nonce)" != "$nonce" ] || fail "$mode: nonce unchanged"; ok "$mode: nonce replaced" ;;
        wrong_issuer) [ "$(claim .iss)" != "$issuer" ] || fail "$mode: iss unchanged"; ok "$mode: iss changed" ;;
      esac ;;
    no_id_token)
      [ -z "$id_token" ] || fail "$mode: id_token present"
      ok "$mode: no id_token in the token response" ;;
    alg_none)
      expect_eq "$mode: header alg" "$(jwt header "$id_token" | jq -r .alg)" none
      [[ "$id_token" == *. ]] || fail "$mode: signature part not empty"
      ok "$mode: empty signature" ;;
  esac
  expect_eq "$mode: userinfo still works" "$(userinfo)" 200
  expect_eq "$mode: one-shot" "$(curl -sS "$issuer/__test/mode" | jq -r .mode)" normal
done

sign_in alice@example.com
expect_eq "normal again after the modes" "$(token)" 200
jwt verify "$(jq -r .id_token "$tmp/token.json")" "$tmp/jwks.json" || fail "normal token after modes does not verify"
expect_eq "nonce after the modes" "$(claim .nonce)" "$nonce"

# ---------------------------------------------------------------- stop

kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "provider still running 5s after SIGTERM"
wait "$pid" && rc=0 || rc=$?
pid=
expect_eq "exit status after SIGTERM" "$rc" 0

echo "$passed passed, 0 failed"
