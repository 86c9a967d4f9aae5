#!/usr/bin/env bash
# Self-test of the feed validator: every good fixture must pass (exit 0, "OK ..."), and every
# bad fixture must fail (exit 1) with exactly one ERROR line holding the expected text, since
# each bad fixture breaks one rule. Run from anywhere: bash tests/feeds/selftest.sh
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
checker="$here/check_feeds.py"
fx="$here/fixtures"
pass=0
fail=0

# expect | kind | fixture | expected message substring (bad only) | extra arguments
cases=(
  "good|rss|good-rss.xml||"
  "good|rss|good-rss.xml||--url https://example.org/feed/ --content-type application/rss+xml;charset=utf-8"
  "good|atom|good-atom.xml||--url https://example.org/feed/atom/ --content-type application/atom+xml"
  "good|atom|good-atom-xhtml-base.xml||"
  "good|json|good-json.json||--url https://example.org/feed.json --content-type application/feed+json"
  "bad|rss|good-rss.xml|does not match the feed's location|--url https://example.org/other/feed/"
  "bad|rss|good-rss.xml|is not a feed media type|--content-type text/html"
  "bad|rss|good-rss.xml|does not match the UTF-8 content|--content-type application/rss+xml;charset=iso-8859-1"
  "bad|atom|good-atom.xml|does not match the feed's location|--url https://example.org/feed/"
  "bad|json|good-json.json|does not match the feed's location|--url https://example.org/feed/json"
  "bad|rss|bad-rss-doctype.xml|DOCTYPE declaration (rss) refused|"
  "bad|rss|bad-rss-undefined-entity.xml|undefined entity|"
  "bad|rss|bad-rss-encoding-mismatch.xml|declared encoding 'ISO-8859-1' does not match|"
  "bad|rss|bad-rss-invalid-utf8.xml|not valid UTF-8|"
  "bad|rss|bad-rss-undeclared-prefix.xml|unbound prefix|"
  "bad|rss|bad-rss-version.xml|it must be \"2.0\"|"
  "bad|rss|bad-rss-two-channels.xml|exactly one <channel>|"
  "bad|rss|bad-rss-missing-channel-description.xml|lacks the required <description>|"
  "bad|rss|bad-rss-channel-link-not-http.xml|must be an http or https URL|"
  "bad|rss|bad-rss-language.xml|'en_GB' is not a language tag|"
  "bad|rss|bad-rss-iso-date.xml|is not an RFC 822 date-time|"
  "bad|rss|bad-rss-two-digit-year.xml|the year must have 4 digits|"
  "bad|rss|bad-rss-bad-zone.xml|'CEST' is not a valid RFC 822 time zone|"
  "bad|rss|bad-rss-wrong-day-of-week.xml|is a Tue, not a Wed|"
  "bad|rss|bad-rss-no-self-link.xml|no <atom:link rel=\"self\">|"
  "bad|rss|bad-rss-self-wrong-namespace.xml|not in the Atom namespace|"
  "bad|rss|bad-rss-self-type.xml|it must be \"application/rss+xml\"|"
  "bad|rss|bad-rss-no-title-or-description.xml|needs a <title> or a <description>|"
  "bad|rss|bad-rss-relative-item-link.xml|the item link '/2025/06/09/rtl/' is relative|"
  "bad|rss|bad-rss-missing-guid.xml|has no <guid>|"
  "bad|rss|bad-rss-duplicate-guid.xml|duplicate guid|"
  "bad|rss|bad-rss-permalink-not-url.xml|the guid (a permalink unless isPermaLink=\"false\") 'post-2' is relative|"
  "bad|rss|bad-rss-ispermalink-case.xml|unexpected attribute 'isPermalink'|"
  "bad|rss|bad-rss-empty-category.xml|<category> is empty|"
  "bad|rss|bad-rss-raw-html-description.xml|contains the XML element <p>|"
  "bad|rss|bad-rss-script-in-description.xml|contains <script> markup, a security risk|"
  "bad|rss|bad-rss-unknown-element.xml|<creator> is not an RSS 2.0 item element|"
  "bad|rss|bad-rss-unknown-dc-element.xml|<dc:author> is not defined in the namespace|"
  "bad|rss|bad-rss-slash-comments.xml|slash:comments 'three' must be a non-negative integer|"
  "bad|atom|bad-atom-doctype.xml|DOCTYPE declaration (feed) refused|"
  "bad|atom|bad-atom-no-namespace.xml|an Atom feed is <feed xmlns=|"
  "bad|atom|bad-atom-xml-lang.xml|xml:lang 'en_GB' is not a language tag|"
  "bad|atom|bad-atom-missing-updated.xml|lacks the required atom:updated|"
  "bad|atom|bad-atom-two-titles.xml|2 atom:title elements; exactly one|"
  "bad|atom|bad-atom-no-self.xml|no atom:link rel=\"self\"|"
  "bad|atom|bad-atom-relative-id.xml|the entry id '/2025/06/09/rtl/' is relative|"
  "bad|atom|bad-atom-duplicate-entry-id.xml|duplicate entry id|"
  "bad|atom|bad-atom-date-no-zone.xml|has no time zone|"
  "bad|atom|bad-atom-date-lowercase-t.xml|upper-case T|"
  "bad|atom|bad-atom-no-author.xml|has no atom:author and the feed has none|"
  "bad|atom|bad-atom-author-without-name.xml|lacks atom:name|"
  "bad|atom|bad-atom-content-type.xml|type='HTML' must be text, html, xhtml|"
  "bad|atom|bad-atom-html-child-element.xml|type=\"html\" content is escaped text|"
  "bad|atom|bad-atom-xhtml-without-div.xml|must hold exactly one xhtml:div|"
  "bad|atom|bad-atom-two-alternates.xml|a second rel=\"alternate\" link|"
  "bad|atom|bad-atom-relative-link.xml|the link href '/2025/06/09/rtl/' is relative|"
  "bad|atom|bad-atom-entry-without-content-or-alternate.xml|needs a rel=\"alternate\" link|"
  "bad|atom|bad-atom-empty-category-term.xml|atom:category has an empty term|"
  "bad|atom|bad-atom-category-without-term.xml|lacks the term attribute|"
  "bad|atom|bad-atom-element-in-no-namespace.xml|<colloquy> is in no namespace|"
  "bad|atom|bad-atom-unknown-atom-element.xml|atom:description is not allowed in feed|"
  "bad|json|bad-json-bom.json|byte order mark|"
  "bad|json|bad-json-duplicate-key.json|duplicate key 'content_text'|"
  "bad|json|bad-json-version.json|must be \"https://jsonfeed.org/version/1.1\"|"
  "bad|json|bad-json-no-title.json|title is required|"
  "bad|json|bad-json-home-page-not-url.json|home_page_url 'example.org' is relative|"
  "bad|json|bad-json-language.json|'English' is not a language tag|"
  "bad|json|bad-json-unknown-key.json|unknown key 'sumary'|"
  "bad|json|bad-json-items-not-array.json|items must be an array|"
  "bad|json|bad-json-numeric-id.json|id must be a string|"
  "bad|json|bad-json-duplicate-id.json|duplicate id|"
  "bad|json|bad-json-no-content.json|needs content_html or content_text|"
  "bad|json|bad-json-relative-url.json|url '/2025/06/09/rtl/' is relative|"
  "bad|json|bad-json-date-no-zone.json|has no time zone|"
  "bad|json|bad-json-tags-not-strings.json|a tag must be a string|"
  "bad|json|bad-json-empty-author.json|needs at least one of name, url, avatar|"
  "bad|json|bad-json-authors-not-array.json|authors must be an array|"
  "bad|json|bad-json-author-differs-from-authors.json|the 1.0 author differs from authors[0]|"
)

for c in "${cases[@]}"; do
  IFS='|' read -r expect kind file want extra <<<"$c"
  # shellcheck disable=SC2086  # extra holds separate arguments
  out="$(python3 "$checker" "$kind" "$fx/$file" $extra 2>&1)"
  rc=$?
  errors="$(grep -c '^ERROR: ' <<<"$out")"
  label="$expect $kind $file${extra:+ $extra}"
  if [[ $expect == good ]]; then
    if [[ $rc -eq 0 && $out == *"OK $kind "* ]]; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); printf 'FAIL (should pass): %s\n%s\n\n' "$label" "$out"
    fi
  else
    if [[ $rc -eq 1 && $errors -eq 1 ]] && grep -qF -- "$want" <<<"$(grep '^ERROR: ' <<<"$out")"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      printf 'FAIL (want exit 1 and exactly one ERROR containing "%s"; got exit %s, %s errors): %s\n%s\n\n' \
        "$want" "$rc" "$errors" "$label" "$out"
    fi
  fi
done

# Every fixture on disk is exercised, so none is silently left out.
for f in "$fx"/*; do
  b="$(basename "$f")"
  if ! printf '%s\n' "${cases[@]}" | cut -d'|' -f3 | grep -qxF "$b"; then
    fail=$((fail + 1)); echo "FAIL: fixture $b is not in the self-test's list"
  fi
done

echo "check_feeds selftest: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
