#!/usr/bin/env python3
"""A strict, offline validator for RSS 2.0, Atom 1.0 (RFC 4287) and JSON Feed 1.1.

Written for Colloquy's test suite from the specifications (the RSS 2.0 specification of
the RSS Advisory Board, RFC 4287, RFC 3339, RFC 822/2822 dates, JSON Feed 1.1); standard
library only. It is stricter than the specifications where they merely recommend, in
the way a publisher should be (a self link, a guid on every item, unique ids, ...).

Usage:
    check_feeds.py rss|atom|json FILE [--url FEED_URL] [--content-type HEADER]

--url is where the feed was fetched from: the self link / feed_url must match it, and it is
the base for relative references. --content-type is the HTTP Content-Type it was served with.

Every problem is printed as "ERROR: <path>: <message>", recommendations as
"WARNING: <path>: <message>"; the exit status is 1 on any error, else 0 after
"OK <kind> <file>: N items".
"""

from __future__ import annotations

import argparse
import datetime as dt
import html.parser
import json
import re
import sys
import urllib.parse
import xml.parsers.expat as expat

ATOM = "http://www.w3.org/2005/Atom"
XHTML = "http://www.w3.org/1999/xhtml"
XMLNS = "http://www.w3.org/XML/1998/namespace"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
SLASH = "http://purl.org/rss/1.0/modules/slash/"
WFW = "http://wellformedweb.org/CommentAPI/"
SY = "http://purl.org/rss/1.0/modules/syndication/"
THR = "http://purl.org/syndication/thread/1.0"
FH = "http://purl.org/syndication/history/1.0"

# Namespaces whose vocabulary this checker knows, with the elements each defines.
VOCAB = {
    CONTENT: {"encoded"},
    DC: {
        "title", "creator", "subject", "description", "publisher", "contributor", "date",
        "type", "format", "identifier", "source", "language", "relation", "coverage", "rights",
    },
    SLASH: {"comments", "department", "section", "hit_parade"},
    WFW: {"comment", "commentRss", "commentRSS"},
    SY: {"updatePeriod", "updateFrequency", "updateBase"},
    THR: {"in-reply-to", "total"},
    FH: {"complete", "archive"},
}
# Namespaces recognised as legitimate extensions without checking their vocabulary.
OTHER_KNOWN = {
    DCTERMS,
    "http://search.yahoo.com/mrss/",
    "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "https://podcastindex.org/namespace/1.0",
    "http://www.georss.org/georss",
    "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "http://a9.com/-/spec/opensearch/1.1/",
    "http://webns.net/mvcb/",
    "http://purl.org/syndication/thread/1.0",
    "http://pubsubhubbub.appspot.com/",
    "http://rssnamespace.org/feedburner/ext/1.0",
    "http://activitystrea.ms/spec/1.0/",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://creativecommons.org/ns#",
    "http://backend.userland.com/creativeCommonsRssModule",
}
PREFIX_HINT = {ATOM: "atom", CONTENT: "content", DC: "dc", SLASH: "slash", WFW: "wfw", SY: "sy",
               THR: "thr", FH: "fh", XHTML: "xhtml"}

RFC822_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
RFC822_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
RFC822_ZONES = {"UT": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
                "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}

# Link relations of RFC 4287 and the IANA registry that feeds commonly use.
ATOM_RELS = {
    "alternate", "related", "self", "enclosure", "via", "license", "replies", "edit",
    "edit-media", "first", "last", "next", "previous", "prev", "next-archive", "prev-archive",
    "current", "hub", "payment", "service", "search", "icon", "author", "canonical",
    "describedby", "license", "preview", "shortlink", "up", "version-history", "webmention",
}

NOW = dt.datetime.now(dt.timezone.utc)
DOUBLE_ESCAPED = re.compile(r"&(?:amp|lt|gt|quot|apos|#[0-9]+|#[xX][0-9a-fA-F]+);")
LOOKS_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|&[A-Za-z]+;|&#[0-9]+;")
LANG_RE = re.compile(
    r"^[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}"  # language (+ extlang); 4-8 letters are reserved, none registered
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"  # variants
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"  # extensions
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?$"  # private use
    r"|^[xX](?:-[A-Za-z0-9]{1,8})+$|^[iI]-[A-Za-z]{2,8}$"
)
MIME_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
    r"(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:\"[^\"]*\"|[A-Za-z0-9!#$&^_.+-]+))*$"
)
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
URI_BAD_ASCII = set(" <>\"{}|\\^`")


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, path: str, msg: str) -> None:
        self.errors.append(f"ERROR: {path}: {msg}")

    def warn(self, path: str, msg: str) -> None:
        self.warnings.append(f"WARNING: {path}: {msg}")


# ----------------------------------------------------------------------------- values


def norm_url(u: str) -> str:
    """A comparable form of an absolute http(s) URL (case of scheme and host, default port)."""
    p = urllib.parse.urlsplit(u)
    host = (p.hostname or "").lower()
    port = p.port
    if port is not None and not ((p.scheme == "http" and port == 80) or (p.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return urllib.parse.urlunsplit((p.scheme.lower(), host, p.path or "/", p.query, ""))


def check_uri(rep: Report, path: str, value: str | None, what: str, *, base: str | None = None,
              web: bool = True, iri: bool = False, strip_ok: bool = False) -> str | None:
    """Checks a URI (or an IRI when iri=True) and returns it made absolute, or None.

    web=True demands http(s) with a host; otherwise any scheme (urn:, tag:, mailto:) will do.
    A relative reference is resolved against base when there is one, else it is an error.
    """
    if value is None:
        rep.error(path, f"{what} is missing")
        return None
    if value != value.strip():
        if strip_ok:
            rep.warn(path, f"{what} {value!r} has leading or trailing white space")
        else:
            rep.error(path, f"{what} {value!r} has leading or trailing white space")
    v = value.strip()
    if not v:
        rep.error(path, f"{what} is empty")
        return None
    bad = sorted({c for c in v if c in URI_BAD_ASCII or ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:
        rep.error(path, f"{what} {v!r} holds characters a URI may not hold unescaped: {''.join(bad)!r}")
        return None
    if not iri and any(ord(c) > 0x7E for c in v):
        rep.error(path, f"{what} {v!r} holds non-ASCII characters; percent-encode them (RFC 3986)")
        return None
    if re.search(r"%(?![0-9A-Fa-f]{2})", v):
        rep.error(path, f"{what} {v!r} has a malformed percent-escape")
        return None
    parts = urllib.parse.urlsplit(v)
    if not parts.scheme:
        if base is None:
            rep.error(path, f"{what} {v!r} is relative; it must be an absolute URL")
            return None
        v = urllib.parse.urljoin(base, v)
        parts = urllib.parse.urlsplit(v)
        if not parts.scheme:
            rep.error(path, f"{what} {value.strip()!r} is relative, and xml:base {base!r} does not make it absolute")
            return None
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme):
        rep.error(path, f"{what} {v!r} has an invalid scheme")
        return None
    if web:
        if parts.scheme.lower() not in ("http", "https"):
            rep.error(path, f"{what} {v!r} must be an http or https URL")
            return None
        if not parts.netloc or not parts.hostname:
            rep.error(path, f"{what} {v!r} has no host")
            return None
        try:
            parts.port
        except ValueError:
            rep.error(path, f"{what} {v!r} has an invalid port")
            return None
    elif parts.scheme.lower() in ("http", "https") and not parts.hostname:
        rep.error(path, f"{what} {v!r} has no host")
        return None
    return v


def check_canonical(rep: Report, path: str, v: str, what: str) -> None:
    """Ids are compared character by character (RFC 4287 4.2.6.1): flag non-normalised ones."""
    p = urllib.parse.urlsplit(v)
    if p.scheme.lower() not in ("http", "https"):
        return
    netloc = p.netloc.rsplit("@", 1)[-1]
    default_port = (p.scheme.lower() == "http" and netloc.endswith(":80")) or \
        (p.scheme.lower() == "https" and netloc.endswith(":443"))
    if p.scheme != p.scheme.lower() or netloc != netloc.lower() or default_port or not p.path:
        rep.warn(path, f"{what} {v!r} is not in normal form (lower-case scheme and host, no default "
                       "port, a path); ids are compared character by character")


def parse_rfc822(rep: Report, path: str, value: str | None, what: str) -> dt.datetime | None:
    """RFC 822 (as updated by RFC 1123 and RFC 2822) date-time, as RSS 2.0 requires."""
    if value is None:
        return None
    v = value.strip()
    m = re.match(
        r"^(?:(?P<dow>[A-Za-z]+)\s*,\s*)?(?P<day>\d{1,2})\s+(?P<mon>[A-Za-z]+)\s+(?P<year>\d+)\s+"
        r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s+(?P<zone>[A-Za-z]+|[+-]\d+)$", v)
    if not m:
        rep.error(path, f"{what} {v!r} is not an RFC 822 date-time (like 'Sat, 07 Sep 2002 09:42:31 GMT')")
        return None
    ok = True
    if m["dow"] is not None and m["dow"] not in RFC822_DAYS:
        rep.error(path, f"{what} {v!r}: day of week {m['dow']!r} must be one of {', '.join(RFC822_DAYS)}")
        ok = False
    if m["mon"] not in RFC822_MONTHS:
        rep.error(path, f"{what} {v!r}: month {m['mon']!r} must be one of {', '.join(RFC822_MONTHS)}")
        ok = False
    if len(m["year"]) != 4:
        rep.error(path, f"{what} {v!r}: the year must have 4 digits")
        ok = False
    if len(m["h"]) != 2:
        rep.error(path, f"{what} {v!r}: the hour must have 2 digits")
        ok = False
    zone = m["zone"]
    offset = None
    if zone in RFC822_ZONES:
        offset = dt.timedelta(hours=RFC822_ZONES[zone])
    elif re.fullmatch(r"[+-]\d{4}", zone):
        hh, mm = int(zone[1:3]), int(zone[3:5])
        if hh > 23 or mm > 59:
            rep.error(path, f"{what} {v!r}: zone {zone!r} is out of range")
            ok = False
        else:
            offset = dt.timedelta(hours=hh, minutes=mm) * (-1 if zone[0] == "-" else 1)
    elif re.fullmatch(r"[A-IK-Z]", zone):
        rep.warn(path, f"{what} {v!r}: military zone {zone!r} is obsolete and ambiguous (RFC 2822 4.3); use +hhmm")
        offset = dt.timedelta(0)
    else:
        rep.error(path, f"{what} {v!r}: {zone!r} is not a valid RFC 822 time zone (use +hhmm, GMT or UT)")
        ok = False
    if not ok:
        return None
    try:
        sec = int(m["s"] or 0)
        if sec == 60:
            sec = 59
        d = dt.datetime(int(m["year"]), RFC822_MONTHS.index(m["mon"]) + 1, int(m["day"]),
                        int(m["h"]), int(m["mi"]), sec, tzinfo=dt.timezone(offset))
    except ValueError as e:
        rep.error(path, f"{what} {v!r} is not a real date-time ({e})")
        return None
    if m["dow"] is not None and RFC822_DAYS[d.weekday()] != m["dow"]:
        rep.error(path, f"{what} {v!r}: {d.date()} is a {RFC822_DAYS[d.weekday()]}, not a {m['dow']}")
        return None
    plausible(rep, path, d, what, v)
    return d


def parse_rfc3339(rep: Report, path: str, value: str | None, what: str) -> dt.datetime | None:
    """RFC 3339 date-time with a zone, upper-case T and Z (RFC 4287 3.3)."""
    if value is None:
        return None
    if value != value.strip():
        rep.error(path, f"{what} {value!r} has white space around it")
    v = value.strip()
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", v)
    if not m:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?", v):
            rep.error(path, f"{what} {v!r} has no time zone; RFC 3339 requires Z or +hh:mm")
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", v) or v.endswith("z"):
            rep.error(path, f"{what} {v!r}: the date and time are separated by an upper-case T and UTC is an upper-case Z (RFC 4287 3.3)")
        else:
            rep.error(path, f"{what} {v!r} is not an RFC 3339 date-time (like 2003-12-13T18:30:02Z)")
        return None
    y, mo, d, h, mi, s = (int(m[i]) for i in range(1, 7))
    zone = m[8]
    if zone == "Z":
        tz = dt.timezone.utc
    else:
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            rep.error(path, f"{what} {v!r}: zone offset out of range")
            return None
        tz = dt.timezone(dt.timedelta(hours=zh, minutes=zm) * (-1 if zone[0] == "-" else 1))
    try:
        out = dt.datetime(y, mo, d, h, mi, 59 if s == 60 else s, tzinfo=tz)
    except ValueError as e:
        rep.error(path, f"{what} {v!r} is not a real date-time ({e})")
        return None
    plausible(rep, path, out, what, v)
    return out


def plausible(rep: Report, path: str, d: dt.datetime, what: str, v: str) -> None:
    if d.year < 1970:
        rep.warn(path, f"{what} {v!r} is implausibly early")
    elif d - NOW > dt.timedelta(days=1):
        rep.warn(path, f"{what} {v!r} is in the future")


def check_lang(rep: Report, path: str, v: str | None, what: str) -> None:
    if v is None:
        return
    if not LANG_RE.match(v.strip()):
        rep.error(path, f"{what} {v!r} is not a language tag (BCP 47, like en or en-GB)")


def check_plain_text(rep: Report, path: str, v: str, what: str) -> None:
    """Text a reader shows as it is: markup or entity references in it were escaped twice."""
    if DOUBLE_ESCAPED.search(v):
        rep.warn(path, f"{what} {v[:80]!r} holds an escaped entity reference after unescaping; it looks escaped twice")


class _HtmlScan(html.parser.HTMLParser):
    URL_ATTRS = {"href", "src", "cite", "poster", "action", "longdesc", "background", "data", "formaction"}
    RISKY = {"script", "applet", "base", "meta", "link"}
    EMBEDS = {"iframe", "object", "embed", "form", "style", "frame", "frameset"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.risky: list[str] = []
        self.embeds: list[str] = []
        self.relative: list[str] = []
        self.handlers: list[str] = []
        self.js: list[str] = []
        self.tags = 0

    def handle_starttag(self, tag, attrs):
        self.tags += 1
        if tag in self.RISKY:
            self.risky.append(tag)
        if tag in self.EMBEDS:
            self.embeds.append(tag)
        for k, val in attrs:
            if k.startswith("on"):
                self.handlers.append(f"{tag} {k}")
            urls = []
            if k in self.URL_ATTRS and val is not None:
                urls = [val]
            elif k == "srcset" and val:
                urls = [c.strip().split(" ")[0] for c in val.split(",") if c.strip()]
            for u in urls:
                u = u.strip()
                scheme = urllib.parse.urlsplit(u).scheme.lower()
                if re.sub(r"[\s\x00-\x1f]", "", u).lower().startswith(("javascript:", "vbscript:")):
                    self.js.append(u)
                elif not scheme:
                    self.relative.append(u)

    handle_startendtag = handle_starttag


def check_html(rep: Report, path: str, v: str, what: str, base: str | None) -> None:
    """Checks HTML carried as text (RSS description, content:encoded, Atom html, content_html)."""
    s = _HtmlScan()
    try:
        s.feed(v)
        s.close()
    except Exception as e:  # html.parser is lenient; this is belt and braces
        rep.error(path, f"{what} cannot be parsed as HTML: {e}")
        return
    if s.risky:
        rep.error(path, f"{what} contains <{'>, <'.join(sorted(set(s.risky)))}> markup, a security risk that readers strip or refuse")
    if s.handlers:
        rep.error(path, f"{what} contains event-handler attributes ({', '.join(sorted(set(s.handlers)))}), a security risk")
    if s.js:
        rep.error(path, f"{what} contains script URLs ({', '.join(sorted(set(s.js)))}), a security risk")
    if s.embeds:
        rep.warn(path, f"{what} contains <{'>, <'.join(sorted(set(s.embeds)))}>, which many readers strip")
    if s.relative:
        uniq = sorted(set(s.relative))
        where = f"against {base}" if base else "against the feed's own URL, not the post's"
        rep.warn(path, f"{what} has {len(s.relative)} relative URL reference(s) ({', '.join(repr(u) for u in uniq[:5])}"
                       f"{', ...' if len(uniq) > 5 else ''}); readers resolve them {where}, so links and images break; make them absolute")


def check_content_type(rep: Report, header: str | None, wanted: str, tolerated: tuple[str, ...]) -> None:
    if header is None:
        return
    mt, _, params = header.partition(";")
    mt = mt.strip().lower()
    charset = None
    for p in params.split(";"):
        k, _, val = p.partition("=")
        if k.strip().lower() == "charset":
            charset = val.strip().strip('"').lower()
    if mt == wanted:
        pass
    elif mt in tolerated:
        rep.warn("HTTP Content-Type", f"{mt} is tolerated, but this feed should be served as {wanted}")
    else:
        rep.error("HTTP Content-Type", f"{mt!r} is not a feed media type; serve it as {wanted}")
    if charset is not None and charset not in ("utf-8", "utf8"):
        rep.error("HTTP Content-Type", f"charset={charset} does not match the UTF-8 content")
    if mt == "text/xml" and charset is None:
        rep.error("HTTP Content-Type", "text/xml without a charset means US-ASCII (RFC 3023); add charset=utf-8")


# ----------------------------------------------------------------------------- XML


class El:
    __slots__ = ("ns", "name", "prefix", "attrs", "children", "parts", "parent", "line", "path", "base", "lang", "cdata")

    def __init__(self, ns, name, prefix, attrs, parent, line):
        self.ns = ns
        self.name = name
        self.prefix = prefix
        self.attrs = attrs
        self.children: list[El] = []
        self.parts: list[str] = []
        self.parent = parent
        self.line = line
        self.cdata = False
        self.path = ""
        self.base = None
        self.lang = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def qname(self) -> str:
        if self.ns is None or (self.prefix is None and self.ns == ATOM):
            return self.name
        p = self.prefix or PREFIX_HINT.get(self.ns)
        return f"{p}:{self.name}" if p else f"{{{self.ns}}}{self.name}"

    def at(self) -> str:
        return f"{self.path} (line {self.line})"

    def attr(self, name, ns=None):
        return self.attrs.get((ns, name))

    def kids(self, ns, name):
        return [c for c in self.children if c.ns == ns and c.name == name]


def _split(n: str):
    parts = n.split(" ")
    if len(parts) == 1:
        return None, parts[0], None
    if len(parts) == 2:
        return parts[0], parts[1], None
    return parts[0], parts[1], parts[2]


def parse_xml(rep: Report, data: bytes) -> El | None:
    """Parses with expat, refusing DOCTYPEs and entity declarations; checks the encoding."""
    body = data
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    elif body.startswith((b"\xff\xfe", b"\xfe\xff")):
        rep.error("/", "the document is UTF-16; feeds must be UTF-8")
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        rep.error("/", f"not valid UTF-8: byte 0x{body[e.start]:02x} at offset {e.start}")
        return None
    decl = re.match(r"<\?xml\s+version\s*=\s*(['\"])(.*?)\1(?:\s+encoding\s*=\s*(['\"])(.*?)\3)?(?:\s+standalone\s*=\s*(['\"])(.*?)\5)?\s*\?>", text)
    if not text.startswith("<?xml"):
        if text.lstrip().startswith("<?xml"):
            rep.error("/", "white space before the XML declaration (it must come first)")
            return None
        rep.warn("/", "no XML declaration; add <?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    elif decl is None:
        rep.error("/", "malformed XML declaration")
        return None
    else:
        if decl.group(2) != "1.0":
            rep.error("/", f"XML version {decl.group(2)!r}; feeds must be XML 1.0")
        enc = decl.group(4)
        if enc is None:
            rep.warn("/", "the XML declaration does not declare an encoding; declare encoding=\"UTF-8\"")
        elif enc.lower() not in ("utf-8", "utf8"):
            rep.error("/", f"the declared encoding {enc!r} does not match the content, which is UTF-8")
    for i, ch in enumerate(text):
        o = ord(ch)
        if 0x80 <= o <= 0x9F:
            rep.warn("/", f"C1 control character U+{o:04X} at offset {i} (usually mis-decoded Windows-1252)")
            break
    if "\ufffd" in text:
        rep.warn("/", "U+FFFD replacement character present: some text was mis-decoded before it reached the feed")

    p = expat.ParserCreate("UTF-8", " ")
    p.namespace_prefixes = True
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[El] = []
    root: list[El] = []
    refused: list[str] = []
    langs: list[El] = []

    class Refuse(Exception):
        pass

    def doctype(name, sysid, pubid, has_internal):
        refused.append(f"DOCTYPE declaration ({name}) refused: feeds must not carry a DTD or entity declarations (line {p.CurrentLineNumber})")
        raise Refuse()

    def entity(*a):
        refused.append(f"entity declaration refused (line {p.CurrentLineNumber})")
        raise Refuse()

    def start(name, attrs):
        ns, local, prefix = _split(name)
        at = {}
        for k, v in attrs.items():
            ans, alocal, _ = _split(k)
            at[(ans, alocal)] = v
        parent = stack[-1] if stack else None
        e = El(ns, local, prefix, at, parent, p.CurrentLineNumber)
        if parent is not None:
            parent.children.append(e)
            e.base = parent.base
            e.lang = parent.lang
        else:
            root.append(e)
        xb = at.get((XMLNS, "base"))
        if xb is not None:
            # Only an explicit xml:base counts as a base here: a feed's references should not
            # depend on where a copy of it happens to be fetched from.
            e.base = urllib.parse.urljoin(e.base, xb) if e.base else xb
        xl = at.get((XMLNS, "lang"))
        if xl is not None:
            e.lang = xl
            if xl != "":
                langs.append(e)
        stack.append(e)

    def end(name):
        stack.pop()

    def chars(data):
        if stack:
            stack[-1].parts.append(data)

    def cdata_start():
        if stack:
            stack[-1].cdata = True

    def pi(target, data):
        if target.lower() != "xml-stylesheet":
            rep.warn(f"line {p.CurrentLineNumber}", f"processing instruction <?{target}?> is unusual in a feed")

    p.StartDoctypeDeclHandler = doctype
    p.EntityDeclHandler = entity
    p.UnparsedEntityDeclHandler = entity
    p.ExternalEntityRefHandler = lambda *a: (refused.append("external entity refused"), 0)[1]
    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.StartCdataSectionHandler = cdata_start
    p.ProcessingInstructionHandler = pi
    try:
        p.Parse(text.encode("utf-8"), True)
    except Refuse:
        for r in refused:
            rep.error("/", r)
        return None
    except expat.ExpatError as e:
        rep.error("/", f"not well-formed XML: {expat.ErrorString(e.code)} at line {e.lineno}, column {e.offset + 1}")
        return None
    if refused:
        for r in refused:
            rep.error("/", r)
        return None
    if not root:
        return None
    assign_paths(root[0], "")
    for e in langs:
        check_lang(rep, e.at(), e.lang, "xml:lang")
    return root[0]


def assign_paths(e: El, path: str) -> None:
    """/rss/channel/item[2]/category[3]: an index wherever a name repeats (always for items)."""
    e.path = path or f"/{e.qname()}"
    counts: dict[tuple, int] = {}
    for c in e.children:
        counts[(c.ns, c.name)] = counts.get((c.ns, c.name), 0) + 1
    seen: dict[tuple, int] = {}
    for c in e.children:
        k = (c.ns, c.name)
        seen[k] = seen.get(k, 0) + 1
        index = f"[{seen[k]}]" if counts[k] > 1 or c.name in ("item", "entry") else ""
        assign_paths(c, f"{e.path}/{c.qname()}{index}")


def no_children(rep: Report, e: El, why: str = "its text must be escaped (or in CDATA), not raw markup") -> bool:
    if e.children:
        rep.error(e.at(), f"<{e.qname()}> contains the XML element <{e.children[0].qname()}>: {why}")
        return False
    return True


def check_attrs(rep: Report, e: El, allowed: set[str]) -> None:
    for (ns, name) in e.attrs:
        if ns is None and name not in allowed:
            rep.error(e.at(), f"unexpected attribute {name!r} on <{e.qname()}>" +
                      (f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""))


def check_extension(rep: Report, e: El, context: str) -> None:
    """An element outside the format's own namespace."""
    if e.ns in VOCAB:
        if e.name not in VOCAB[e.ns]:
            rep.error(e.at(), f"<{e.qname()}> is not defined in the namespace {e.ns}")
            return
        if e.ns == DC:
            no_children(rep, e)
            if not e.text.strip():
                rep.error(e.at(), f"<{e.qname()}> is empty")
            elif e.name == "date":
                parse_rfc3339(rep, e.at(), e.text, "dc:date")
            elif e.name == "language":
                check_lang(rep, e.at(), e.text.strip(), "dc:language")
            else:
                check_plain_text(rep, e.at(), e.text, f"<{e.qname()}>")
        elif e.ns == CONTENT:
            if no_children(rep, e, "HTML in content:encoded must be escaped or in CDATA"):
                check_html(rep, e.at(), e.text, "content:encoded", e.base)
        elif e.ns == SLASH and e.name == "comments":
            if not re.fullmatch(r"\d+", e.text.strip()):
                rep.error(e.at(), f"slash:comments {e.text!r} must be a non-negative integer")
        elif e.ns == WFW:
            check_uri(rep, e.at(), e.text, f"wfw:{e.name}", base=e.base, strip_ok=True)
        elif e.ns == SY and e.name == "updatePeriod":
            if e.text.strip() not in ("hourly", "daily", "weekly", "monthly", "yearly"):
                rep.error(e.at(), f"sy:updatePeriod {e.text!r} must be hourly, daily, weekly, monthly or yearly")
        elif e.ns == SY and e.name == "updateFrequency":
            if not re.fullmatch(r"[1-9]\d*", e.text.strip()):
                rep.error(e.at(), f"sy:updateFrequency {e.text!r} must be a positive integer")
        elif e.ns == THR and e.name == "total":
            if not re.fullmatch(r"\d+", e.text.strip()):
                rep.error(e.at(), f"thr:total {e.text!r} must be a non-negative integer")
    elif e.ns in OTHER_KNOWN or e.ns == ATOM or e.ns == XHTML:
        pass
    elif e.ns is None:
        rep.error(e.at(), f"<{e.name}> is in no namespace; {context} does not define it")
    else:
        rep.warn(e.at(), f"<{e.qname()}> is in the namespace {e.ns}, which this checker does not know; readers will ignore it")


# ----------------------------------------------------------------------------- RSS 2.0

RSS_CHANNEL = {
    "title": 1, "link": 1, "description": 1, "language": 1, "copyright": 1, "managingEditor": 1,
    "webMaster": 1, "pubDate": 1, "lastBuildDate": 1, "category": None, "generator": 1, "docs": 1,
    "cloud": 1, "ttl": 1, "image": 1, "rating": 1, "textInput": 1, "skipHours": 1, "skipDays": 1,
    "item": None,
}
RSS_ITEM = {"title": 1, "link": 1, "description": 1, "author": 1, "category": None, "comments": 1,
            "enclosure": None, "guid": 1, "pubDate": 1, "source": 1}


def check_email_field(rep: Report, e: El, what: str) -> None:
    v = e.text.strip()
    m = re.fullmatch(r"(\S+@\S+)(?:\s+\((.+)\))?", v)
    if not m or not EMAIL_RE.match(m.group(1)):
        rep.error(e.at(), f"{what} {v!r} must be an e-mail address, optionally followed by a name in parentheses")


def check_counts(rep: Report, parent: El, spec: dict, label: str) -> None:
    seen: dict[str, int] = {}
    for c in parent.children:
        if c.ns is None:
            seen[c.name] = seen.get(c.name, 0) + 1
    for name, n in seen.items():
        if name in spec and spec[name] == 1 and n > 1:
            rep.error(parent.at(), f"{label} has {n} <{name}> elements; at most one is allowed")


def check_rss(rep: Report, root: El, url: str | None) -> int:
    if root.ns is not None or root.name != "rss":
        rep.error(root.at(), f"the root element is <{root.qname()}>; an RSS 2.0 feed has <rss version=\"2.0\"> in no namespace")
        return 0
    check_attrs(rep, root, {"version"})
    version = root.attr("version")
    if version != "2.0":
        rep.error(root.at(), f"version={version!r}; it must be \"2.0\"")
    channels = [c for c in root.children if c.ns is None and c.name == "channel"]
    for c in root.children:
        if c.ns is None and c.name != "channel":
            rep.error(c.at(), f"<{c.name}> is not allowed under <rss>; only <channel> is")
        elif c.ns is not None:
            check_extension(rep, c, "RSS 2.0 (under <rss>)")
    if root.text.strip():
        rep.error(root.at(), "text directly inside <rss>")
    if len(channels) != 1:
        rep.error(root.at(), f"an RSS feed has exactly one <channel>, this one has {len(channels)}")
        if not channels:
            return 0
    ch = channels[0]
    check_attrs(rep, ch, set())
    check_counts(rep, ch, RSS_CHANNEL, "<channel>")
    for req in ("title", "link", "description"):
        if not ch.kids(None, req):
            rep.error(ch.at(), f"<channel> lacks the required <{req}>")
    channel_link = None
    for c in ch.children:
        if c.ns is not None:
            if c.ns == ATOM and c.name == "link":
                continue
            check_extension(rep, c, "RSS 2.0 (in <channel>)")
            continue
        if c.name not in RSS_CHANNEL:
            rep.error(c.at(), f"<{c.name}> is not an RSS 2.0 channel element")
            continue
        if c.name not in ("image", "cloud", "textInput", "skipHours", "skipDays", "item", "category"):
            check_attrs(rep, c, set())
            no_children(rep, c)
        t = c.text
        if c.name == "title":
            if not t.strip():
                rep.error(c.at(), "the channel title is empty")
            check_plain_text(rep, c.at(), t, "the channel title")
        elif c.name == "link":
            channel_link = check_uri(rep, c.at(), t, "the channel link", strip_ok=True)
        elif c.name == "description":
            if not t.strip():
                rep.warn(c.at(), "the channel description is empty")
        elif c.name == "language":
            check_lang(rep, c.at(), t.strip(), "<language>")
        elif c.name in ("pubDate", "lastBuildDate"):
            parse_rfc822(rep, c.at(), t, f"<{c.name}>")
        elif c.name in ("managingEditor", "webMaster"):
            check_email_field(rep, c, f"<{c.name}>")
        elif c.name == "docs":
            check_uri(rep, c.at(), t, "<docs>", strip_ok=True)
        elif c.name == "ttl":
            if not re.fullmatch(r"\d+", t.strip()):
                rep.error(c.at(), f"<ttl> {t!r} must be a whole number of minutes")
        elif c.name == "category":
            check_rss_category(rep, c)
        elif c.name == "image":
            check_rss_image(rep, c, channel_link)
        elif c.name == "cloud":
            check_attrs(rep, c, {"domain", "port", "path", "registerProcedure", "protocol"})
            for a in ("domain", "port", "path", "registerProcedure", "protocol"):
                if c.attr(a) is None:
                    rep.error(c.at(), f"<cloud> lacks the attribute {a}")
            if c.attr("protocol") not in (None, "xml-rpc", "soap", "http-post"):
                rep.error(c.at(), f"<cloud protocol={c.attr('protocol')!r}> must be xml-rpc, soap or http-post")
        elif c.name == "textInput":
            for sub in c.children:
                if sub.ns is None and sub.name not in ("title", "description", "name", "link"):
                    rep.error(sub.at(), f"<{sub.name}> is not allowed in <textInput>")
            for req in ("title", "description", "name", "link"):
                if not c.kids(None, req):
                    rep.error(c.at(), f"<textInput> lacks <{req}>")
        elif c.name == "skipHours":
            for h in c.children:
                if h.name != "hour" or not re.fullmatch(r"\d{1,2}", h.text.strip()) or int(h.text.strip()) > 23:
                    rep.error(h.at(), "<skipHours> holds <hour> elements of 0 to 23")
        elif c.name == "skipDays":
            days = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
            for d in c.children:
                if d.name != "day" or d.text.strip() not in days:
                    rep.error(d.at(), "<skipDays> holds <day> elements naming days (Monday ... Sunday)")
    check_rss_self(rep, ch, channel_link, url)

    items = ch.kids(None, "item")
    guids: dict[str, str] = {}
    for it in items:
        check_rss_item(rep, it, guids)
    return len(items)


def check_rss_category(rep: Report, c: El) -> None:
    check_attrs(rep, c, {"domain"})
    no_children(rep, c)
    if not c.text.strip():
        rep.error(c.at(), "<category> is empty")
    else:
        check_plain_text(rep, c.at(), c.text, "<category>")


def check_rss_image(rep: Report, c: El, channel_link: str | None) -> None:
    allowed = {"url": 1, "title": 1, "link": 1, "width": 1, "height": 1, "description": 1}
    check_counts(rep, c, allowed, "<image>")
    for sub in c.children:
        if sub.ns is None and sub.name not in allowed:
            rep.error(sub.at(), f"<{sub.name}> is not allowed in <image>")
    for req in ("url", "title", "link"):
        if not c.kids(None, req):
            rep.error(c.at(), f"<image> lacks <{req}>")
    for u in c.kids(None, "url"):
        check_uri(rep, u.at(), u.text, "the image URL", strip_ok=True)
    for ln in c.kids(None, "link"):
        v = check_uri(rep, ln.at(), ln.text, "the image link", strip_ok=True)
        if v and channel_link and norm_url(v) != norm_url(channel_link):
            rep.warn(ln.at(), "the image link differs from the channel link")
    for dim, mx in (("width", 144), ("height", 400)):
        for d in c.kids(None, dim):
            if not re.fullmatch(r"\d+", d.text.strip()) or int(d.text.strip()) > mx:
                rep.error(d.at(), f"image {dim} {d.text!r} must be a whole number of at most {mx}")


def check_rss_self(rep: Report, ch: El, channel_link: str | None, url: str | None) -> None:
    links = ch.kids(ATOM, "link")
    selfs = [ln for ln in links if ln.attr("rel") == "self"]
    for ln in links:
        check_atom_link_attrs(rep, ln)
    if not selfs:
        hint = ""
        if any(c.name == "link" and c.ns not in (None, ATOM) for c in ch.children):
            hint = " (an atom:link is present, but not in the Atom namespace http://www.w3.org/2005/Atom)"
        rep.error(ch.at(), "no <atom:link rel=\"self\"> giving the feed's own URL (RSS Best Practices)" + hint)
        return
    if len(selfs) > 1:
        rep.error(ch.at(), f"{len(selfs)} atom:link rel=\"self\" elements; there must be one")
    s = selfs[0]
    t = s.attr("type")
    if t != "application/rss+xml":
        rep.error(s.at(), f"the self link's type is {t!r}; for an RSS feed it must be \"application/rss+xml\"")
    href = check_uri(rep, s.at(), s.attr("href"), "the self link href")
    if href:
        if url and norm_url(href) != norm_url(url):
            rep.error(s.at(), f"the self link {href!r} does not match the feed's location {url!r}")
        elif not url and channel_link:
            if urllib.parse.urlsplit(href).hostname != urllib.parse.urlsplit(channel_link).hostname:
                rep.warn(s.at(), f"the self link {href!r} is on another host than the channel link {channel_link!r}")
        if channel_link and norm_url(href) == norm_url(channel_link):
            rep.error(s.at(), "the self link is the channel link (the HTML page), not the feed's URL")


def check_rss_item(rep: Report, it: El, guids: dict[str, str]) -> None:
    check_attrs(rep, it, set())
    check_counts(rep, it, RSS_ITEM, "<item>")
    if not it.kids(None, "title") and not it.kids(None, "description"):
        rep.error(it.at(), "an item needs a <title> or a <description>")
    elif not any(k.text.strip() for k in it.kids(None, "title") + it.kids(None, "description")):
        rep.error(it.at(), "the item's title and description are both empty")
    if not it.kids(None, "guid"):
        rep.error(it.at(), "the item has no <guid>; readers cannot tell it from others without one")
    for c in it.children:
        if c.ns is not None:
            if c.ns == ATOM and c.name == "link":
                check_atom_link_attrs(rep, c)
                continue
            check_extension(rep, c, "RSS 2.0 (in <item>)")
            continue
        if c.name not in RSS_ITEM:
            rep.error(c.at(), f"<{c.name}> is not an RSS 2.0 item element")
            continue
        t = c.text
        if c.name == "title":
            check_attrs(rep, c, set())
            no_children(rep, c)
            if not t.strip():
                rep.warn(c.at(), "the item title is empty")
            if LOOKS_HTML.search(t):
                rep.warn(c.at(), f"the item title {t[:80]!r} appears to contain HTML markup; readers differ on whether an RSS title is HTML, so some will show it raw and some will interpret it")
            check_plain_text(rep, c.at(), t, "the item title")
        elif c.name == "link":
            check_attrs(rep, c, set())
            no_children(rep, c)
            check_uri(rep, c.at(), t, "the item link", strip_ok=True)
        elif c.name == "description":
            check_attrs(rep, c, set())
            if no_children(rep, c, "HTML in a description must be escaped or in CDATA"):
                check_html(rep, c.at(), t, "the item description", c.base)
        elif c.name == "author":
            check_attrs(rep, c, set())
            no_children(rep, c)
            check_email_field(rep, c, "<author>")
        elif c.name == "category":
            check_rss_category(rep, c)
        elif c.name == "comments":
            check_attrs(rep, c, set())
            no_children(rep, c)
            check_uri(rep, c.at(), t, "<comments>", strip_ok=True)
        elif c.name == "enclosure":
            check_attrs(rep, c, {"url", "length", "type"})
            no_children(rep, c, "an enclosure is empty")
            check_uri(rep, c.at(), c.attr("url"), "the enclosure url")
            ln = c.attr("length")
            if ln is None or not re.fullmatch(r"\d+", ln):
                rep.error(c.at(), f"the enclosure length {ln!r} must be a whole number of bytes")
            ty = c.attr("type")
            if ty is None or not MIME_RE.match(ty):
                rep.error(c.at(), f"the enclosure type {ty!r} must be a MIME type")
        elif c.name == "guid":
            check_attrs(rep, c, {"isPermaLink"})
            no_children(rep, c)
            g = t.strip()
            perma = c.attr("isPermaLink")
            if perma not in (None, "true", "false"):
                rep.error(c.at(), f"isPermaLink={perma!r} must be \"true\" or \"false\"")
            if not g:
                rep.error(c.at(), "the guid is empty")
            elif perma in (None, "true"):
                check_uri(rep, c.at(), t, "the guid (a permalink unless isPermaLink=\"false\")", strip_ok=True)
            if g:
                if g in guids:
                    rep.error(c.at(), f"duplicate guid {g!r} (also at {guids[g]})")
                else:
                    guids[g] = c.at()
        elif c.name == "pubDate":
            check_attrs(rep, c, set())
            no_children(rep, c)
            parse_rfc822(rep, c.at(), t, "<pubDate>")
        elif c.name == "source":
            check_attrs(rep, c, {"url"})
            no_children(rep, c)
            check_uri(rep, c.at(), c.attr("url"), "the source url")
    dc_creators = it.kids(DC, "creator")
    if dc_creators and it.kids(None, "author"):
        rep.warn(it.at(), "both <author> and <dc:creator>; use one")


# ----------------------------------------------------------------------------- Atom 1.0

ATOM_FEED = {"author": None, "category": None, "contributor": None, "generator": 1, "icon": 1,
             "id": 1, "link": None, "logo": 1, "rights": 1, "subtitle": 1, "title": 1,
             "updated": 1, "entry": None}
ATOM_ENTRY = {"author": None, "category": None, "content": 1, "contributor": None, "id": 1,
              "link": None, "published": 1, "rights": 1, "source": 1, "summary": 1, "title": 1,
              "updated": 1}
ATOM_SOURCE = {k: v for k, v in ATOM_FEED.items() if k != "entry"}


def check_atom_link_attrs(rep: Report, ln: El) -> None:
    check_attrs(rep, ln, {"href", "rel", "type", "hreflang", "title", "length"})
    rel = ln.attr("rel")
    if rel is not None and rel not in ATOM_RELS and not urllib.parse.urlsplit(rel).scheme:
        rep.warn(ln.at(), f"link rel={rel!r} is neither a registered relation nor an IRI")
    ty = ln.attr("type")
    if ty is not None and not MIME_RE.match(ty):
        rep.error(ln.at(), f"link type={ty!r} is not a MIME media type")
    hl = ln.attr("hreflang")
    if hl is not None:
        check_lang(rep, ln.at(), hl, "hreflang")
    le = ln.attr("length")
    if le is not None and not re.fullmatch(r"\d+", le):
        rep.error(ln.at(), f"link length={le!r} must be a whole number")
    if ln.children or ln.text.strip():
        rep.warn(ln.at(), "atom:link should be empty")


def atom_counts(rep: Report, parent: El, spec: dict, label: str) -> None:
    seen: dict[str, int] = {}
    for c in parent.children:
        if c.ns == ATOM:
            seen[c.name] = seen.get(c.name, 0) + 1
    for name, n in seen.items():
        if spec.get(name) == 1 and n > 1:
            rep.error(parent.at(), f"{label} has {n} atom:{name} elements; exactly one is allowed")


def atom_text(rep: Report, e: El, what: str) -> str:
    """An Atom Text construct (RFC 4287 3.1); returns its text."""
    check_attrs(rep, e, {"type"})
    ty = e.attr("type") or "text"
    if ty not in ("text", "html", "xhtml"):
        rep.error(e.at(), f"{what} type={ty!r}; a Text construct's type is text, html or xhtml")
        return e.text
    if ty in ("text", "html"):
        if no_children(rep, e, f"type=\"{ty}\" content is escaped text; use type=\"xhtml\" for inline markup"):
            if ty == "html":
                check_html(rep, e.at(), e.text, what, e.base)
            else:
                check_plain_text(rep, e.at(), e.text, what)
        return e.text
    return atom_xhtml(rep, e, what)


def atom_xhtml(rep: Report, e: El, what: str) -> str:
    divs = [c for c in e.children]
    if len(divs) != 1 or divs[0].ns != XHTML or divs[0].name != "div":
        rep.error(e.at(), f"type=\"xhtml\" {what} must hold exactly one xhtml:div (in the namespace {XHTML})")
        return ""
    if e.text.strip():
        rep.error(e.at(), f"type=\"xhtml\" {what} has text outside its xhtml:div")

    def walk(x: El) -> str:
        out = [x.text]
        for k in x.children:
            if k.ns != XHTML:
                rep.warn(k.at(), f"<{k.qname()}> inside xhtml content is not in the XHTML namespace")
            for a in ("href", "src"):
                v = k.attr(a)
                if v is not None and not urllib.parse.urlsplit(v).scheme and not k.base:
                    rep.warn(k.at(), f"relative URL {v!r} in xhtml content without xml:base")
                if v is not None and v.strip().lower().startswith("javascript:"):
                    rep.error(k.at(), f"script URL {v!r} in xhtml content, a security risk")
            if k.ns == XHTML and k.name == "script":
                rep.error(k.at(), "<script> in xhtml content, a security risk")
            out.append(walk(k))
        return "".join(out)

    return walk(divs[0])


def atom_person(rep: Report, p: El, what: str) -> None:
    atom_counts(rep, p, {"name": 1, "uri": 1, "email": 1}, what)
    check_attrs(rep, p, set())
    names = p.kids(ATOM, "name")
    if not names:
        rep.error(p.at(), f"{what} lacks atom:name")
    for c in p.children:
        if c.ns != ATOM:
            check_extension(rep, c, "Atom")
            continue
        if c.name not in ("name", "uri", "email"):
            rep.error(c.at(), f"atom:{c.name} is not allowed in a Person construct")
            continue
        no_children(rep, c)
        if c.name == "name":
            if not c.text.strip():
                rep.error(c.at(), f"{what} has an empty name")
            check_plain_text(rep, c.at(), c.text, f"{what} name")
        elif c.name == "uri":
            check_uri(rep, c.at(), c.text, f"{what} uri", base=c.base, web=False, iri=True)
        elif c.name == "email":
            if not EMAIL_RE.match(c.text.strip()):
                rep.error(c.at(), f"{what} email {c.text!r} is not an e-mail address")
    if p.text.strip():
        rep.error(p.at(), f"text directly inside {what}")


def atom_id(rep: Report, e: El, what: str) -> str | None:
    check_attrs(rep, e, set())
    no_children(rep, e)
    v = check_uri(rep, e.at(), e.text, what, web=False, iri=True)
    if v:
        check_canonical(rep, e.at(), v, what)
    return v


def atom_common(rep: Report, parent: El, spec: dict, label: str, url: str | None, is_feed: bool) -> dict:
    """Checks the children a feed, entry or source share; returns what was found."""
    found = {"id": None, "updated": None, "published": None, "authors": 0, "self": None}
    atom_counts(rep, parent, spec, label)
    alternates: dict[tuple, El] = {}
    for c in parent.children:
        if c.ns != ATOM:
            check_extension(rep, c, "Atom")
            continue
        if c.name not in spec:
            rep.error(c.at(), f"atom:{c.name} is not allowed in {label}")
            continue
        if c.name == "id":
            found["id"] = atom_id(rep, c, f"the {label} id")
        elif c.name in ("title", "subtitle", "rights", "summary"):
            t = atom_text(rep, c, f"the {label} {c.name}")
            if c.name == "title" and not t.strip():
                if is_feed:
                    rep.error(c.at(), f"the {label} title is empty")
                else:
                    rep.warn(c.at(), f"the {label} title is empty")
        elif c.name in ("updated", "published"):
            check_attrs(rep, c, set())
            no_children(rep, c)
            found[c.name] = parse_rfc3339(rep, c.at(), c.text, f"atom:{c.name}")
        elif c.name in ("author", "contributor"):
            atom_person(rep, c, f"atom:{c.name}")
            if c.name == "author":
                found["authors"] += 1
        elif c.name == "category":
            check_attrs(rep, c, {"term", "scheme", "label"})
            term = c.attr("term")
            if term is None:
                rep.error(c.at(), "atom:category lacks the term attribute")
            elif not term.strip():
                rep.error(c.at(), "atom:category has an empty term")
            else:
                check_plain_text(rep, c.at(), term, "the category term")
            sch = c.attr("scheme")
            if sch is not None:
                check_uri(rep, c.at(), sch, "the category scheme", web=False, iri=True)
        elif c.name == "link":
            check_atom_link_attrs(rep, c)
            href = check_uri(rep, c.at(), c.attr("href"), "the link href", base=c.base, web=False, iri=True)
            rel = c.attr("rel") or "alternate"
            if rel == "alternate":
                key = (c.attr("type"), c.attr("hreflang"))
                if key in alternates:
                    rep.error(c.at(), f"a second rel=\"alternate\" link with type={key[0]!r} hreflang={key[1]!r} (the first is at {alternates[key].at()})")
                else:
                    alternates[key] = c
            elif rel == "self":
                if found["self"] is not None:
                    rep.error(c.at(), "a second rel=\"self\" link")
                found["self"] = (c, href)
        elif c.name in ("icon", "logo"):
            check_attrs(rep, c, set())
            no_children(rep, c)
            check_uri(rep, c.at(), c.text, f"atom:{c.name}", base=c.base, web=False, iri=True)
        elif c.name == "generator":
            check_attrs(rep, c, {"uri", "version"})
            no_children(rep, c)
            if c.attr("uri") is not None:
                check_uri(rep, c.at(), c.attr("uri"), "the generator uri", base=c.base, web=False, iri=True)
        elif c.name == "content":
            atom_content(rep, c, parent)
        elif c.name == "source":
            atom_common(rep, c, ATOM_SOURCE, "atom:source", None, False)
    found["alternates"] = alternates
    return found


def atom_content(rep: Report, c: El, entry: El) -> None:
    check_attrs(rep, c, {"type", "src"})
    ty = c.attr("type") or "text"
    src = c.attr("src")
    has_summary = bool(entry.kids(ATOM, "summary"))
    if src is not None:
        check_uri(rep, c.at(), src, "the content src", base=c.base, web=False, iri=True)
        if c.children or c.text.strip():
            rep.error(c.at(), "atom:content with src must be empty")
        if ty in ("text", "html", "xhtml") and c.attr("type") is not None:
            rep.warn(c.at(), f"atom:content with src should give a MIME type, not {ty!r}")
        if not has_summary:
            rep.error(entry.at(), "an entry whose content has src needs an atom:summary (RFC 4287 4.1.1.1)")
        return
    if ty in ("text", "html"):
        if no_children(rep, c, f"type=\"{ty}\" content is escaped text; use type=\"xhtml\" for inline markup"):
            if ty == "html":
                check_html(rep, c.at(), c.text, "the html content", c.base)
        return
    if ty == "xhtml":
        atom_xhtml(rep, c, "content")
        return
    if not MIME_RE.match(ty) or ";" in ty:
        rep.error(c.at(), f"atom:content type={ty!r} must be text, html, xhtml or a MIME type without parameters")
        return
    rep.warn(c.at(), f"atom:content type={ty!r}: many readers only show text, html or xhtml content")
    if ty.endswith("+xml") or ty.endswith("/xml"):
        if len(c.children) > 1:
            rep.error(c.at(), "XML content holds at most one element")
    elif ty.startswith("text/"):
        no_children(rep, c)
    else:
        no_children(rep, c, "non-text content is Base64")
        if not re.fullmatch(r"[A-Za-z0-9+/=\s]*", c.text):
            rep.error(c.at(), f"{ty} content must be Base64-encoded")
        if not has_summary:
            rep.error(entry.at(), "an entry with Base64 content needs an atom:summary (RFC 4287 4.1.1.1)")


def check_atom(rep: Report, root: El, url: str | None) -> int:
    if root.name != "feed" or root.ns != ATOM:
        where = "no namespace" if root.ns is None else f"the namespace {root.ns}"
        rep.error(root.at(), f"the root element is <{root.name}> in {where}; an Atom feed is <feed xmlns=\"{ATOM}\">")
        return 0
    check_attrs(rep, root, set())
    if root.text.strip():
        rep.error(root.at(), "text directly inside atom:feed")
    f = atom_common(rep, root, ATOM_FEED, "feed", url, True)
    for req in ("id", "title", "updated"):
        if not root.kids(ATOM, req):
            rep.error(root.at(), f"the feed lacks the required atom:{req}")
    if f["self"] is None:
        rep.error(root.at(), "the feed has no atom:link rel=\"self\" giving its own URL")
    else:
        ln, href = f["self"]
        ty = ln.attr("type")
        if ty is None:
            rep.warn(ln.at(), "the self link has no type; give type=\"application/atom+xml\"")
        elif ty != "application/atom+xml":
            rep.error(ln.at(), f"the self link's type is {ty!r}; for an Atom feed it is \"application/atom+xml\"")
        if href:
            if url and norm_url(href) != norm_url(url):
                rep.error(ln.at(), f"the self link {href!r} does not match the feed's location {url!r}")
            if not urllib.parse.urlsplit(href).scheme.lower() in ("http", "https"):
                rep.warn(ln.at(), f"the self link {href!r} is not an http(s) URL")
    feed_has_author = f["authors"] > 0
    entries = root.kids(ATOM, "entry")
    ids: dict[str, str] = {}
    newest = None
    for e in entries:
        check_attrs(rep, e, set())
        if e.text.strip():
            rep.error(e.at(), "text directly inside atom:entry")
        r = atom_common(rep, e, ATOM_ENTRY, "entry", None, False)
        for req in ("id", "title", "updated"):
            if not e.kids(ATOM, req):
                rep.error(e.at(), f"the entry lacks the required atom:{req}")
        if r["id"]:
            if r["id"] in ids:
                rep.error(e.at(), f"duplicate entry id {r['id']!r} (also at {ids[r['id']]})")
            else:
                ids[r["id"]] = e.at()
            if f["id"] and r["id"] == f["id"]:
                rep.error(e.at(), "the entry id is the feed's id")
        if not feed_has_author and r["authors"] == 0:
            src = e.kids(ATOM, "source")
            if not (src and src[0].kids(ATOM, "author")):
                rep.error(e.at(), "the entry has no atom:author and the feed has none either (RFC 4287 4.1.1)")
        if not e.kids(ATOM, "content") and "alternate" not in [(ln.attr("rel") or "alternate") for ln in e.kids(ATOM, "link")]:
            rep.error(e.at(), "an entry without atom:content needs a rel=\"alternate\" link (RFC 4287 4.1.1)")
        if r["published"] and r["updated"] and r["published"] > r["updated"]:
            rep.warn(e.at(), "atom:published is later than atom:updated")
        if r["updated"] and (newest is None or r["updated"] > newest):
            newest = r["updated"]
    if newest and f["updated"] and newest > f["updated"]:
        rep.warn(root.at(), "an entry was updated after the feed's atom:updated")
    return len(entries)


# ----------------------------------------------------------------------------- JSON Feed 1.1

JF_TOP = {"version", "title", "home_page_url", "feed_url", "description", "user_comment", "next_url",
          "icon", "favicon", "authors", "author", "language", "expired", "hubs", "items"}
JF_ITEM = {"id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
           "banner_image", "date_published", "date_modified", "authors", "author", "tags", "language",
           "attachments"}


def jf_keys(rep: Report, path: str, obj: dict, allowed: set[str]) -> None:
    for k in obj:
        if k in allowed:
            continue
        if re.match(r"^_[A-Za-z]", k):
            if "." in k:
                rep.error(f"{path}.{k}", "an extension name must not contain '.'")
            continue
        rep.error(f"{path}.{k}", f"unknown key {k!r} (extensions start with '_' and a letter)")


def jf_string(rep: Report, path: str, v, what: str, *, required: bool = False, nonempty: bool = False) -> str | None:
    if v is None:
        if required:
            rep.error(path, f"{what} is required")
        return None
    if not isinstance(v, str):
        rep.error(path, f"{what} must be a string, not {type(v).__name__}")
        return None
    if nonempty and not v.strip():
        rep.error(path, f"{what} is empty")
    return v


def jf_url(rep: Report, path: str, v, what: str, *, mailto: bool = False) -> str | None:
    s = jf_string(rep, path, v, what)
    if s is None:
        return None
    if mailto and s.lower().startswith("mailto:"):
        return check_uri(rep, path, s, what, web=False)
    return check_uri(rep, path, s, what)


def jf_authors(rep: Report, path: str, v) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        rep.error(path, "authors must be an array of author objects")
        return []
    if not v:
        rep.warn(path, "authors is an empty array")
    for i, a in enumerate(v):
        jf_author(rep, f"{path}[{i}]", a)
    return v


def jf_author(rep: Report, path: str, a) -> None:
    if not isinstance(a, dict):
        rep.error(path, "an author must be an object")
        return
    jf_keys(rep, path, a, {"name", "url", "avatar"})
    if not any(k in a for k in ("name", "url", "avatar")):
        rep.error(path, "an author object needs at least one of name, url, avatar")
    name = jf_string(rep, f"{path}.name", a.get("name"), "the author name")
    if name is not None and not name.strip():
        rep.error(f"{path}.name", "the author name is empty")
    jf_url(rep, f"{path}.url", a.get("url"), "the author url", mailto=True)
    jf_url(rep, f"{path}.avatar", a.get("avatar"), "the author avatar")


def jf_deprecated_author(rep: Report, path: str, obj: dict) -> None:
    if "author" not in obj:
        return
    jf_author(rep, f"{path}.author", obj["author"])
    if "authors" not in obj:
        rep.warn(f"{path}.author", "author is deprecated in JSON Feed 1.1; use authors (an array)")
    elif isinstance(obj["authors"], list) and obj["authors"] and obj["author"] != obj["authors"][0]:
        rep.error(f"{path}.author", "the 1.0 author differs from authors[0]; readers of either version must see the same author")


def check_json(rep: Report, data: bytes, url: str | None) -> int:
    if data.startswith(b"\xef\xbb\xbf"):
        rep.error("$", "a byte order mark; JSON text must not begin with one (RFC 8259 8.1)")
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        rep.error("$", f"not valid UTF-8: byte 0x{data[e.start]:02x} at offset {e.start}")
        return 0
    dups: list[str] = []

    def pairs(ps):
        d = {}
        for k, v in ps:
            if k in d:
                dups.append(k)
            d[k] = v
        return d

    def bad_constant(c):
        raise ValueError(f"{c} is not JSON")

    try:
        feed = json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant)
    except ValueError as e:
        rep.error("$", f"not valid JSON: {e}")
        return 0
    for k in dups:
        rep.error("$", f"duplicate key {k!r} in an object")
    if not isinstance(feed, dict):
        rep.error("$", "a JSON Feed is an object")
        return 0
    jf_keys(rep, "$", feed, JF_TOP)
    version = feed.get("version")
    if version != "https://jsonfeed.org/version/1.1":
        rep.error("$.version", f"version {version!r} must be \"https://jsonfeed.org/version/1.1\"")
    title = jf_string(rep, "$.title", feed.get("title"), "title", required=True, nonempty=True)
    if title:
        check_plain_text(rep, "$.title", title, "title")
    for k in ("home_page_url", "feed_url"):
        if k not in feed:
            rep.warn(f"$.{k}", f"{k} is missing; it should be considered required on the public web")
        else:
            jf_url(rep, f"$.{k}", feed[k], k)
    feed_url = feed.get("feed_url") if isinstance(feed.get("feed_url"), str) else None
    if url and feed_url and check_uri(Report(), "", feed_url, "") and norm_url(feed_url) != norm_url(url):
        rep.error("$.feed_url", f"feed_url {feed_url!r} does not match the feed's location {url!r}")
    for k in ("description", "user_comment"):
        jf_string(rep, f"$.{k}", feed.get(k), k)
    for k in ("icon", "favicon"):
        jf_url(rep, f"$.{k}", feed.get(k), k)
    nxt = jf_url(rep, "$.next_url", feed.get("next_url"), "next_url")
    if nxt and feed_url and norm_url(nxt) == norm_url(feed_url):
        rep.error("$.next_url", "next_url must not be feed_url")
    jf_authors(rep, "$.authors", feed.get("authors"))
    jf_deprecated_author(rep, "$", feed)
    lang = jf_string(rep, "$.language", feed.get("language"), "language")
    if lang is not None:
        check_lang(rep, "$.language", lang, "language")
    if "expired" in feed and not isinstance(feed["expired"], bool):
        rep.error("$.expired", "expired must be true or false")
    hubs = feed.get("hubs")
    if hubs is not None:
        if not isinstance(hubs, list):
            rep.error("$.hubs", "hubs must be an array")
        else:
            for i, h in enumerate(hubs):
                if not isinstance(h, dict):
                    rep.error(f"$.hubs[{i}]", "a hub is an object")
                    continue
                jf_string(rep, f"$.hubs[{i}].type", h.get("type"), "the hub type", required=True, nonempty=True)
                if "url" in h:
                    jf_url(rep, f"$.hubs[{i}].url", h["url"], "the hub url")
                else:
                    rep.error(f"$.hubs[{i}].url", "the hub url is required")
    items = feed.get("items")
    if items is None:
        rep.error("$.items", "items is required")
        return 0
    if not isinstance(items, list):
        rep.error("$.items", "items must be an array")
        return 0
    ids: dict[str, str] = {}
    for i, it in enumerate(items):
        p = f"$.items[{i}]"
        if not isinstance(it, dict):
            rep.error(p, "an item is an object")
            continue
        jf_keys(rep, p, it, JF_ITEM)
        iid = it.get("id")
        if iid is None:
            rep.error(f"{p}.id", "id is required")
        elif not isinstance(iid, str):
            rep.error(f"{p}.id", f"id must be a string, not {type(iid).__name__} ({iid!r})")
        elif not iid.strip():
            rep.error(f"{p}.id", "id is empty")
        elif iid in ids:
            rep.error(f"{p}.id", f"duplicate id {iid!r} (also at {ids[iid]})")
        else:
            ids[iid] = p
        jf_url(rep, f"{p}.url", it.get("url"), "url")
        if "url" not in it:
            rep.warn(f"{p}.url", "url (the permalink) should be present")
        jf_url(rep, f"{p}.external_url", it.get("external_url"), "external_url")
        t = jf_string(rep, f"{p}.title", it.get("title"), "title")
        if t is not None:
            check_plain_text(rep, f"{p}.title", t, "the title")
        ch = jf_string(rep, f"{p}.content_html", it.get("content_html"), "content_html")
        ct = jf_string(rep, f"{p}.content_text", it.get("content_text"), "content_text")
        if "content_html" not in it and "content_text" not in it:
            rep.error(p, "an item needs content_html or content_text (or both)")
        if ch is not None:
            check_html(rep, f"{p}.content_html", ch, "content_html", None)
        if ct is not None and LOOKS_HTML.search(ct):
            rep.warn(f"{p}.content_text", "content_text appears to hold HTML; HTML belongs in content_html only")
        sm = jf_string(rep, f"{p}.summary", it.get("summary"), "summary")
        if sm is not None and LOOKS_HTML.search(sm):
            rep.warn(f"{p}.summary", f"summary {sm[:80]!r} appears to hold HTML; it is plain text")
        for k in ("image", "banner_image"):
            jf_url(rep, f"{p}.{k}", it.get(k), k)
        dp = dm = None
        if "date_published" in it:
            s = jf_string(rep, f"{p}.date_published", it["date_published"], "date_published")
            dp = parse_rfc3339(rep, f"{p}.date_published", s, "date_published") if s is not None else None
        if "date_modified" in it:
            s = jf_string(rep, f"{p}.date_modified", it["date_modified"], "date_modified")
            dm = parse_rfc3339(rep, f"{p}.date_modified", s, "date_modified") if s is not None else None
        if dp and dm and dm < dp:
            rep.warn(p, "date_modified is earlier than date_published")
        jf_authors(rep, f"{p}.authors", it.get("authors"))
        jf_deprecated_author(rep, p, it)
        tags = it.get("tags")
        if tags is not None:
            if not isinstance(tags, list):
                rep.error(f"{p}.tags", "tags must be an array of strings")
            else:
                seen = set()
                for j, tg in enumerate(tags):
                    if not isinstance(tg, str):
                        rep.error(f"{p}.tags[{j}]", f"a tag must be a string, not {type(tg).__name__}")
                    elif not tg.strip():
                        rep.error(f"{p}.tags[{j}]", "a tag is empty")
                    elif tg in seen:
                        rep.warn(f"{p}.tags[{j}]", f"tag {tg!r} is repeated")
                    else:
                        seen.add(tg)
                        check_plain_text(rep, f"{p}.tags[{j}]", tg, "the tag")
        ilang = jf_string(rep, f"{p}.language", it.get("language"), "language")
        if ilang is not None:
            check_lang(rep, f"{p}.language", ilang, "language")
        att = it.get("attachments")
        if att is not None:
            if not isinstance(att, list):
                rep.error(f"{p}.attachments", "attachments must be an array")
            else:
                for j, a in enumerate(att):
                    ap = f"{p}.attachments[{j}]"
                    if not isinstance(a, dict):
                        rep.error(ap, "an attachment is an object")
                        continue
                    jf_keys(rep, ap, a, {"url", "mime_type", "title", "size_in_bytes", "duration_in_seconds"})
                    if "url" not in a:
                        rep.error(f"{ap}.url", "the attachment url is required")
                    else:
                        jf_url(rep, f"{ap}.url", a["url"], "the attachment url")
                    mt = jf_string(rep, f"{ap}.mime_type", a.get("mime_type"), "mime_type", required=True)
                    if mt is not None and not MIME_RE.match(mt):
                        rep.error(f"{ap}.mime_type", f"{mt!r} is not a MIME type")
                    jf_string(rep, f"{ap}.title", a.get("title"), "the attachment title")
                    for k in ("size_in_bytes", "duration_in_seconds"):
                        n = a.get(k)
                        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, float)) or n < 0):
                            rep.error(f"{ap}.{k}", f"{k} must be a non-negative number")
    return len(items)


# ----------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["rss", "atom", "json"])
    ap.add_argument("file")
    ap.add_argument("--url", help="where the feed was fetched from")
    ap.add_argument("--content-type", help="the HTTP Content-Type it was served with")
    a = ap.parse_args(argv)
    try:
        with open(a.file, "rb") as fh:
            data = fh.read()
    except OSError as e:
        print(f"ERROR: {a.file}: cannot read: {e}")
        return 1
    rep = Report()
    url = None
    if a.url:
        url = check_uri(rep, "--url", a.url, "the feed URL")
    n = 0
    if a.kind == "json":
        check_content_type(rep, a.content_type, "application/feed+json", ("application/json",))
        n = check_json(rep, data, url)
    else:
        if a.kind == "rss":
            check_content_type(rep, a.content_type, "application/rss+xml", ("application/xml", "text/xml"))
        else:
            check_content_type(rep, a.content_type, "application/atom+xml", ("application/xml", "text/xml"))
        root = parse_xml(rep, data)
        if root is not None:
            n = check_rss(rep, root, url) if a.kind == "rss" else check_atom(rep, root, url)
    for line in rep.errors + rep.warnings:
        print(line)
    if rep.errors:
        print(f"FAILED {a.kind} {a.file}: {len(rep.errors)} error(s), {len(rep.warnings)} warning(s)")
        return 1
    print(f"OK {a.kind} {a.file}: {n} items" + (f" ({len(rep.warnings)} warning(s))" if rep.warnings else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
