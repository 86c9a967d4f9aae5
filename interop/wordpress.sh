#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Linkback interoperability check against a real WordPress 6.1 (Debian packages) on loopback.
#
#   A. Colloquy -> WordPress: a Colloquy post links to a WordPress post; Colloquy discovers
#      WordPress's pingback endpoint and sends pingback.ping from a background job; WordPress
#      stores it (held), we approve it, it shows on the WordPress post.
#   B. WordPress -> Colloquy: a WordPress post links to the Colloquy post; WordPress's own
#      sender, pingback(), discovers Colloquy's X-Pingback and calls /xmlrpc.php; Colloquy
#      stores a held pingback thought, we approve it, it shows as "<title> « <site>".
#   N. Negative: a pingback whose source page does not link to the target gets fault 17.
#
# Run by hand, as root (not in CI: it installs Debian packages and takes minutes):
#     interop/wordpress.sh            # KEEP=1 leaves WordPress running and keeps Colloquy's data
# WordPress comes from ../shared/wordpress-peer/ (01-install, 02-start, 03-setup-site, 99-stop).
# Colloquy listens on 127.0.0.1:80: WordPress accepts pingback sources (and sends pingbacks)
# only on ports 80, 443 and 8080 or on its own host:port, and 8080 is the peer's nginx.
# Exit status: 0 all checks passed, 1 a check failed, 2 the set-up could not be done.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PEER=${PEER:-$(cd "$REPO/../shared/wordpress-peer" 2>/dev/null && pwd || echo "$REPO/../shared/wordpress-peer")}
export RUN=${RUN:-/tmp/wp-anchor}
BIN=${CARGO_TARGET_DIR:-$REPO/target}/debug/colloquy
PORT=${COLLOQUY_PORT:-80}
KEEP=${KEEP:-0}
WP=http://127.0.0.1:8081
WAIT=${WAIT:-30}                  # seconds to wait for each asynchronous step
STAMP=$(date +%H%M%S)
SECONDS=0

say()  { printf '%s\n' "$*"; }
step() { printf '\n== [%3ss] %s\n' "$SECONDS" "$*"; }
die()  { printf 'SETUP FAILED: %s\n' "$*" >&2; exit 2; }
indent() { sed 's/^/   /'; }

declare -A RESULT=()
declare -A WHY=()
verdict() { # name PASS|FAIL reason
  RESULT[$1]=$2; WHY[$1]=$3
  say "   -> $1: $2 ($3)"
}

[ "$(id -u)" = 0 ] || die "run as root (apt-get, mariadb -uroot, port $PORT)"
[ -d "$PEER" ] || die "no WordPress peer scripts at $PEER (set PEER=...)"

# ---------------------------------------------------------------------------------------
step "1. WordPress: install (once), start, seed"
PKGS="nginx php8.2-fpm php8.2-mysql php8.2-cli php8.2-xml php8.2-mbstring php8.2-curl php8.2-gd mariadb-server curl wordpress wordpress-theme-twentytwentythree"
missing=$(dpkg-query -W -f='${Status} ${Package}\n' $PKGS 2>/dev/null | awk '$3 != "installed" {print $4}' || true)
n_installed=$(dpkg-query -W -f='${Status}\n' $PKGS 2>/dev/null | grep -c ' installed$' || true)
if [ -z "$missing" ] && [ "$n_installed" -eq "$(echo $PKGS | wc -w)" ]; then
  say "   packages already installed: $(dpkg-query -W -f='${Version}' wordpress) wordpress, $(dpkg-query -W -f='${Version}' php8.2-fpm) php-fpm"
else
  say "   installing with $PEER/01-install.sh (apt-get; a few minutes)"
  "$PEER/01-install.sh" 2>&1 | tail -n 8 | indent || die "01-install.sh failed"
fi

# Did WordPress already run before us? Then we leave it running at the end.
WP_WAS_RUNNING=0
if [ -f "$RUN/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx.pid")" 2>/dev/null \
   && curl -s -o /dev/null -m 5 "$WP/"; then
  WP_WAS_RUNNING=1
  say "   WordPress already running (nginx $(cat "$RUN/nginx.pid")); it stays running afterwards"
else
  rm -f "$RUN/nginx.pid"                    # a stale pid file would stop 02-start.sh starting nginx
  "$PEER/02-start.sh" 2>&1 | indent || die "02-start.sh failed"
fi

seeded() {
  [ -f "$RUN/urls.env" ] || return 1
  . "$RUN/urls.env"
  [ "$(mariadb -uroot -N -e "SELECT COUNT(*) FROM wordpress.wp_posts WHERE ID=${MAIN_ID:-0} AND post_status='publish'" 2>/dev/null)" = 1 ]
}
if seeded; then
  say "   site already set up: MAIN_ID=$MAIN_ID $MAIN_URL"
else
  say "   setting up the site with $PEER/03-setup-site.sh"
  "$PEER/03-setup-site.sh" 2>&1 | indent || die "03-setup-site.sh failed"
  seeded || die "03-setup-site.sh did not leave a seeded site ($RUN/urls.env)"
fi
. "$RUN/urls.env"
code=$(curl -s -o /dev/null -m 20 -w '%{http_code}' "$MAIN_URL") || true
[ "$code" = 200 ] || die "WordPress post $MAIN_URL answered HTTP $code"

# WordPress through its own API (PHP CLI + wp-load.php), as 05-pingback.sh does. Values go
# in through the environment, never spliced into PHP source.
wpphp() {
  timeout 90 php -r '$_SERVER["HTTP_HOST"]="127.0.0.1:8081"; $_SERVER["REQUEST_URI"]="/";
    require "/usr/share/wordpress/wp-load.php"; '"$1"
}
sql() { mariadb -uroot wordpress "$@"; }
# JSON and HTML helpers in PHP (installed with the WordPress stack anyway)
json() { php -r '$j = json_decode(stream_get_contents(STDIN), true); '"$1"; }
unhtml() { php -r 'echo html_entity_decode(stream_get_contents(STDIN), ENT_QUOTES | ENT_HTML5, "UTF-8");'; }
link_text() { # URL < page: the text of the first <a href="URL">, tags and spacing removed
  U=$1 php -r 'if (preg_match("#<a\s[^>]*href=\"" . preg_quote(htmlspecialchars(getenv("U")), "#") . "\"[^>]*>(.*?)</a>#s", stream_get_contents(STDIN), $m))
    echo trim(preg_replace("/\s+/", " ", html_entity_decode(strip_tags($m[1]), ENT_QUOTES | ENT_HTML5, "UTF-8")));'
}

SITE_NAME=$(wpphp 'echo get_bloginfo("name");')

# ---------------------------------------------------------------------------------------
step "2. Colloquy: build if missing, user, token, serve on 127.0.0.1:$PORT"
if [ ! -x "$BIN" ]; then
  say "   $BIN missing: cargo build -p colloquy (debug)"
  (cd "$REPO" && nice cargo build -p colloquy 2>&1 | tail -n 3 | indent) || die "cargo build failed"
fi
say "   binary: $BIN ($(date -r "$BIN" '+%F %T'))"
if ss -ltnH "sport = :$PORT" | grep -q .; then
  ss -ltnpH "sport = :$PORT" | indent
  die "port $PORT is in use. Colloquy must listen where WordPress accepts a pingback source:
  port 80, 443 or 8080 on 127.0.0.1 (8080 is the peer's nginx). Free port $PORT and run again."
fi
if [ "$PORT" = 80 ]; then BASE=http://127.0.0.1; else BASE=http://127.0.0.1:$PORT; fi
DATA=$(mktemp -d /tmp/colloquy-interop.XXXXXX)
EMAIL=interop-editor@example.org
PW=interop-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export COLLOQUY_DATA_DIR=$DATA COLLOQUY_LISTEN=127.0.0.1:$PORT COLLOQUY_BASE_URL=$BASE \
       COLLOQUY_FETCH_ALLOW_PRIVATE=1 COLLOQUY_LOG=${COLLOQUY_LOG:-info,sqlx=warn}
printf '%s\n' "$PW" | "$BIN" user add --email "$EMAIL" --name "Interop Editor" --role editor --password-stdin 2>&1 | indent \
  || die "colloquy user add failed"
TOKEN=$("$BIN" token create --email "$EMAIL" 2>/dev/null) || die "colloquy token create failed"
[ -n "$TOKEN" ] || die "colloquy token create printed nothing"

CPID=
SRCFILE=$RUN/source/colloquy-interop-nolink.html
cleanup() {
  local rc=$?
  set +e
  step "cleanup"
  if [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; then
    kill -TERM "$CPID"
    for _ in $(seq 1 40); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$CPID" 2>/dev/null && { say "   Colloquy ($CPID) did not stop on TERM; killing it"; kill -KILL "$CPID"; }
    wait "$CPID" 2>/dev/null
    say "   Colloquy ($CPID) stopped"
  fi
  wp_cleanup | indent
  rm -f "$SRCFILE"
  if [ "$KEEP" = 1 ]; then
    say "   KEEP=1: Colloquy's data kept in $DATA (log: $DATA/colloquy.log); WordPress left running"
  else
    rm -rf "$DATA"
    if [ "$WP_WAS_RUNNING" = 1 ]; then
      say "   WordPress was running before this script: left running"
    else
      "$PEER/99-stop.sh" 2>&1 | indent
    fi
  fi
  say "   total time: ${SECONDS}s"
  exit $rc
}
# Leaves WordPress as the shared scripts expect: no pingbacks from Colloquy, no test posts.
wp_cleanup() {
  BASE=$BASE wpphp '
    $n = 0;
    foreach (get_comments(["type" => "pingback", "status" => "all"]) as $c)
      if (strpos($c->comment_author_url, getenv("BASE") . "/") === 0) { wp_delete_comment($c->comment_ID, true); $n++; }
    $p = 0;
    foreach (get_posts(["post_type" => "post", "post_status" => "any", "numberposts" => -1,
                        "meta_key" => "_colloquy_interop"]) as $post) { wp_delete_post($post->ID, true); $p++; }
    printf("WordPress: deleted %d pingback(s) from %s and %d test post(s); post %d has %d approved comments\n",
      $n, getenv("BASE"), $p, '"$MAIN_ID"', get_comments_number('"$MAIN_ID"'));'
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wp_cleanup | indent   # leftovers of an interrupted earlier run

"$BIN" serve >"$DATA/colloquy.out" 2>"$DATA/colloquy.log" &
CPID=$!
for _ in $(seq 1 $((WAIT * 4))); do
  curl -s -o /dev/null -m 2 "$BASE/healthz" && break
  kill -0 "$CPID" 2>/dev/null || { tail -n 20 "$DATA/colloquy.log" | indent; die "colloquy serve exited"; }
  sleep 0.25
done
curl -s -o /dev/null -m 2 "$BASE/healthz" || die "Colloquy did not answer on $BASE within ${WAIT}s"
say "   Colloquy $CPID at $BASE, data $DATA"
grep -i 'private' "$DATA/colloquy.log" | head -n 2 | cut -c1-200 | indent || true

api() { # METHOD PATH [JSON]
  curl -sS -m 20 -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data-binary "$3"} "$BASE$2"
}

# ---------------------------------------------------------------------------------------
step "A. Colloquy -> WordPress (pingback to $MAIN_URL)"
# WordPress's comment flood check wants 15 s since the last comment from 127.0.0.1.
ago=$(sql -N -e "SELECT COALESCE(TIMESTAMPDIFF(SECOND, MAX(comment_date_gmt), UTC_TIMESTAMP()), 999) FROM wp_comments WHERE comment_author_IP='127.0.0.1'")
if [ "$ago" -lt 16 ]; then say "   last comment from 127.0.0.1 was ${ago}s ago: waiting for WordPress's flood check"; sleep $((16 - ago)); fi

CTITLE="Colloquy replies to Open Margins (interop run $STAMP)"
BODY="This is a reply from a Colloquy site to [the essay on writing on the open web again]($MAIN_URL) at Open Margins. Discovery is harder than the essay allows, but linking generously still helps."
REQ=$(CTITLE=$CTITLE BODY=$BODY php -r 'echo json_encode(["title" => getenv("CTITLE"), "body_markdown" => getenv("BODY"), "status" => "published"]);')
RESP=$(api POST /api/v1/posts "$REQ") || die "POST /api/v1/posts failed"
CPOST_ID=$(printf '%s' "$RESP" | json 'echo $j["id"] ?? "";')
CPOST_URL=$(printf '%s' "$RESP" | json 'echo $j["url"] ?? "";')
[ -n "$CPOST_ID" ] && [ -n "$CPOST_URL" ] || { say "$RESP" | indent; die "could not publish the Colloquy post"; }
say "   published Colloquy post $CPOST_ID: $CPOST_URL"
say "   its headers: $(curl -sI -m 10 "$CPOST_URL" | grep -iE '^(HTTP|x-pingback|link):' | tr -d '\r' | paste -sd ' ' -)"
say "   WordPress's discovery headers on the target: $(curl -sI -m 20 "$MAIN_URL" | grep -iE '^(x-pingback|link):' | tr -d '\r' | paste -sd ' ' -)"

# Sign in to Colloquy's admin (the editor page shows what was sent for each link)
JAR=$DATA/cookies.txt
csrf=$(curl -s -m 10 -c "$JAR" -b "$JAR" "$BASE/admin/login" | grep -o 'name="csrf" value="[^"]*"' | head -n 1 | sed 's/.*value="//; s/"$//')
login=$(curl -s -m 10 -c "$JAR" -b "$JAR" -o /dev/null -w '%{http_code} %{redirect_url}' \
  --data-urlencode "csrf=$csrf" --data-urlencode "email=$EMAIL" --data-urlencode "password=$PW" "$BASE/admin/login")
say "   admin sign-in: HTTP $login"
editor_status() { # prints "status — detail" for the link to $MAIN_URL, or nothing yet
  curl -s -m 10 -b "$JAR" "$BASE/admin/posts/$CPOST_ID/edit" | tr -d '\n' | grep -o '<tr><td>[^<]*</td><td>[^<]*</td><td>[^<]*</td></tr>' \
    | unhtml | TARGET=$MAIN_URL php -r '
      foreach (explode("</tr>", stream_get_contents(STDIN)) as $row)
        if (preg_match("#<td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>#s", $row, $m) && rtrim($m[1], "/") === rtrim(getenv("TARGET"), "/"))
          echo $m[2], " — ", $m[3];' || true
}

ROW=
for _ in $(seq 1 "$WAIT"); do
  ROW=$(sql -N -e "SELECT CONCAT_WS(CHAR(31), comment_ID, comment_approved, comment_author, comment_author_url, comment_author_IP, comment_agent, LEFT(REPLACE(comment_content, '\n', ' '), 160))
                   FROM wp_comments WHERE comment_post_ID=$MAIN_ID AND comment_type='pingback' AND comment_author_url='$CPOST_URL'" | head -n 1)
  [ -n "$ROW" ] && break
  case "$(editor_status)" in failed*) break;; esac
  sleep 1
done
A_SENT=$(editor_status)
if [ -n "$ROW" ]; then
  IFS=$'\x1f' read -r WPC_ID WPC_APPROVED WPC_AUTHOR WPC_URL WPC_IP WPC_AGENT WPC_TEXT <<<"$ROW"
  say "   WordPress stored comment $WPC_ID after ${SECONDS}s total: type=pingback comment_approved=$WPC_APPROVED"
  say "     author:  $WPC_AUTHOR"
  say "     url:     $WPC_URL"
  say "     agent:   $WPC_AGENT (from $WPC_IP)"
  say "     content: $WPC_TEXT"
  say "   Colloquy's editor, for that link: ${A_SENT:-(nothing shown)}"
  # (WordPress mails the moderator on approval; Debian has no sendmail here, hence 2>/dev/null)
  wpphp 'var_export(wp_set_comment_status('"$WPC_ID"', "approve")); echo " <- wp_set_comment_status(", '"$WPC_ID"', ", approve)\n";' 2>/dev/null | indent
  PAGE=$(curl -s -m 30 "$MAIN_URL")
  seen=$(printf '%s' "$PAGE" | grep -oF "href=\"$CPOST_URL\"" | wc -l)
  say "   WordPress post page now links the Colloquy post $seen time(s), as: \"$(printf '%s' "$PAGE" | link_text "$CPOST_URL")\""
  case "$A_SENT" in
    sent*"pingback registered"*) ok_editor=1;; *) ok_editor=0;;
  esac
  if [ "$seen" -gt 0 ] && [ "$WPC_APPROVED" = 0 ] && [ "$ok_editor" = 1 ]; then
    verdict "A Colloquy->WordPress" PASS "WordPress stored the pingback (held), it shows after approval; Colloquy's editor: ${A_SENT%% — *}"
  elif [ "$seen" -gt 0 ]; then
    verdict "A Colloquy->WordPress" FAIL "WordPress stored and shows the pingback, but Colloquy's editor says: ${A_SENT:-nothing} (held at arrival: $WPC_APPROVED)"
  else
    verdict "A Colloquy->WordPress" FAIL "stored as comment $WPC_ID but not shown on $MAIN_URL after approval"
  fi
else
  say "   no pingback from $CPOST_URL in wp_comments after ${WAIT}s"
  say "   Colloquy's editor, for that link: ${A_SENT:-(nothing shown)}"
  say "   WordPress's own URL check of that source: $(U=$CPOST_URL wpphp 'var_export(wp_http_validate_url(getenv("U")));')"
  grep -iE 'linkback|pingback|send' "$DATA/colloquy.log" | tail -n 5 | cut -c1-300 | indent || true
  verdict "A Colloquy->WordPress" FAIL "nothing stored by WordPress; Colloquy: ${A_SENT:-no send recorded}"
fi

# ---------------------------------------------------------------------------------------
step "B. WordPress -> Colloquy (WordPress's own pingback() to $CPOST_URL)"
WPTITLE="WordPress answers Colloquy (interop run $STAMP)"
OUT=$(TARGET=$CPOST_URL WPTITLE=$WPTITLE wpphp '
  // Print every HTTP exchange WordPress makes while sending (discovery and the XML-RPC call).
  $flat = function ($s) { return substr(preg_replace("/\s+/", " ", (string) $s), 0, 700); };
  add_action("http_api_debug", function ($r, $ctx, $cls, $args, $url) use ($flat) {
    if (is_wp_error($r)) { printf("WP %s %s -> error: %s\n", $args["method"], $url, $r->get_error_message()); return; }
    $xp = wp_remote_retrieve_header($r, "x-pingback");
    printf("WP %s %s -> HTTP %s%s\n", $args["method"], $url, wp_remote_retrieve_response_code($r), $xp ? " (X-Pingback: $xp)" : "");
    if ($args["method"] === "POST") { printf("   sent: %s\n   got:  %s\n", $flat($args["body"]), $flat(wp_remote_retrieve_body($r))); }
  }, 10, 5);
  $t = getenv("TARGET");
  $content = "<!-- wp:paragraph -->\n<p>A Colloquy site answered our essay: <a href=\"$t\">its reply on the open web</a>. This post answers back.</p>\n<!-- /wp:paragraph -->";
  $id = wp_insert_post(["post_title" => getenv("WPTITLE"), "post_content" => $content, "post_status" => "publish",
    "post_author" => get_user_by("login", "ada")->ID, "meta_input" => ["_colloquy_interop" => "1"]], true);
  if (is_wp_error($id)) { echo "ERROR ", $id->get_error_message(), "\n"; exit(1); }
  // Publishing queued the same send on WP-Cron (_pingme + do_pings); do it here instead,
  // synchronously, so the check does not race a cron run.
  delete_post_meta($id, "_pingme"); delete_post_meta($id, "_encloseme"); wp_clear_scheduled_hook("do_pings");
  $t0 = microtime(true);
  pingback(get_post($id)->post_content, $id);
  printf("pingback() took %.2fs\n", microtime(true) - $t0);
  echo "WPPOST_ID=$id\nWPPOST_URL=", get_permalink($id), "\nPUNG=", implode(" ", get_pung($id)), "\n";')
say "$OUT" | grep -vE '^(WPPOST_|PUNG=)' | indent || true
WPPOST_URL=$(say "$OUT" | sed -n 's/^WPPOST_URL=//p')
PUNG=$(say "$OUT" | sed -n 's/^PUNG=//p')
[ -n "$WPPOST_URL" ] || die "could not create the WordPress post"
say "   WordPress post: $WPPOST_URL; its pinged list (get_pung): ${PUNG:-(empty)}"

PENDING=
for _ in $(seq 1 "$WAIT"); do
  PENDING=$(api GET '/api/v1/thoughts?status=pending' | SRC=$WPPOST_URL json '
    foreach ($j["items"] ?? [] as $t)
      if ($t["kind"] === "pingback" && strpos($t["body_markdown"], getenv("SRC")) !== false) {
        printf("%s\x1f%s\x1f%s\x1f%s\x1f%s\n", $t["id"], $t["status"], $t["author_name"], $t["held_reason"] ?? "", str_replace("\n", " ", $t["body_markdown"])); break; }') || true
  [ -n "$PENDING" ] && break
  sleep 1
done
if [ -n "$PENDING" ]; then
  IFS=$'\x1f' read -r TH_ID TH_STATUS TH_AUTHOR TH_REASON TH_BODY <<<"$PENDING"
  say "   Colloquy thought $TH_ID: kind=pingback status=$TH_STATUS author=\"$TH_AUTHOR\" held_reason=\"$TH_REASON\""
  say "     body_markdown: $TH_BODY"
  APPROVED=$(api POST "/api/v1/thoughts/$TH_ID/approve" | json 'echo $j["status"] ?? json_encode($j);') || true
  say "   POST /api/v1/thoughts/$TH_ID/approve -> status $APPROVED"
  WANT="$WPTITLE « $SITE_NAME"
  CPAGE=$(curl -s -m 20 "$CPOST_URL" | unhtml)
  if printf '%s' "$CPAGE" | grep -qF "$WANT"; then shown=1; else shown=0; fi
  say "   Colloquy post page shows \"$WANT\": $([ $shown = 1 ] && echo yes || echo no)"
  RAWPAGE=$(curl -s -m 20 "$CPOST_URL")
  SHOWN=$(printf '%s' "$RAWPAGE" | link_text "$WPPOST_URL")
  say "   Colloquy post page links the WordPress post as: \"${SHOWN:-(no link)}\""
  say "   expected, as WordPress shows a pingback:    \"$WANT\""
  problems=()
  case " $PUNG " in *" $CPOST_URL "*) ;; *) problems+=("WordPress did not record the ping as sent");; esac
  [ "$TH_STATUS" = pending ] || problems+=("arrived as $TH_STATUS, not held")
  [ "$APPROVED" = approved ] || problems+=("approve answered $APPROVED")
  [ -n "$SHOWN" ] || problems+=("no link to the WordPress post on the Colloquy page")
  if [ -n "$SHOWN" ] && [ "$shown" = 0 ]; then problems+=("shown as \"$SHOWN\" instead of \"$WANT\""); fi
  if [ ${#problems[@]} = 0 ]; then
    verdict "B WordPress->Colloquy" PASS "registered, held, approved, shown as \"$WANT\""
  else
    verdict "B WordPress->Colloquy" FAIL "registered and stored as thought $TH_ID; $(printf '%s; ' "${problems[@]}" | sed 's/; $//')"
  fi
else
  say "   no pending pingback thought naming $WPPOST_URL after ${WAIT}s"
  grep -iE 'pingback|xmlrpc|fetch' "$DATA/colloquy.log" | tail -n 5 | cut -c1-300 | indent || true
  verdict "B WordPress->Colloquy" FAIL "Colloquy stored nothing; WordPress pung list: ${PUNG:-empty}"
fi

# ---------------------------------------------------------------------------------------
step "N. Negative: pingback from a page that does not link to the target"
mkdir -p "$RUN/source"
cat > "$SRCFILE" <<'HTML'
<!doctype html><html><head><meta charset="utf-8"><title>No link here – Static Notes</title></head><body>
<article><h1>No link here</h1><p>This page mentions Colloquy in words only, with no link to any of its posts.</p></article>
</body></html>
HTML
chmod 644 "$SRCFILE"
NSRC=http://127.0.0.1:8080/$(basename "$SRCFILE")
say "   source $NSRC -> GET HTTP $(curl -s -o /dev/null -m 5 -w '%{http_code}' "$NSRC")"
before=$(api GET '/api/v1/thoughts?status=pending' | json 'echo $j["total"] ?? "?";') || true
XRESP=$(curl -sS -m 20 -H 'Content-Type: text/xml' --data-binary @- "$BASE/xmlrpc.php" <<XML
<?xml version="1.0"?>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>$NSRC</string></value></param>
<param><value><string>$CPOST_URL</string></value></param>
</params></methodCall>
XML
) || XRESP="(no answer)"
say "   Colloquy answered: $(printf '%s' "$XRESP" | tr -s ' \n' ' ' | cut -c1-400)"
FCODE=$(printf '%s' "$XRESP" | php -r 'preg_match("#faultCode</name>\s*<value>\s*<(?:int|i4)>\s*(-?\d+)#", stream_get_contents(STDIN), $m); echo $m[1] ?? "";')
after=$(api GET '/api/v1/thoughts?status=pending' | json 'echo $j["total"] ?? "?";') || true
if [ "$FCODE" = 17 ] && [ "$before" = "$after" ]; then
  verdict "N no-link source" PASS "fault 17, nothing stored (pending thoughts: $before -> $after)"
else
  verdict "N no-link source" FAIL "fault '${FCODE:-none}', pending thoughts $before -> $after"
fi

# A repeat of B's pingback, now that it is registered, should be refused with fault 48.
R48=$(curl -sS -m 20 -H 'Content-Type: text/xml' --data-binary @- "$BASE/xmlrpc.php" <<XML | php -r 'preg_match("#faultCode</name>\s*<value>\s*<(?:int|i4)>\s*(-?\d+)#", stream_get_contents(STDIN), $m); echo $m[1] ?? "none";'
<?xml version="1.0"?>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>$WPPOST_URL</string></value></param>
<param><value><string>$CPOST_URL</string></value></param>
</params></methodCall>
XML
) || R48=none
say "   (extra) the same WordPress pingback sent again by hand -> fault $R48 (48 = already registered)"

# ---------------------------------------------------------------------------------------
step "summary"
fail=0
for k in "A Colloquy->WordPress" "B WordPress->Colloquy" "N no-link source"; do
  printf '   %-24s %-4s %s\n' "$k" "${RESULT[$k]:-FAIL}" "${WHY[$k]:-not reached}"
  [ "${RESULT[$k]:-FAIL}" = PASS ] || fail=1
done
if [ "$fail" = 0 ]; then say "   ALL PASS in ${SECONDS}s"; else say "   SOME CHECKS FAILED (Colloquy log: $DATA/colloquy.log; run with KEEP=1 to keep it)"; fi
exit $fail
