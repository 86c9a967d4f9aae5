//! The XML-RPC codec for Pingback 1.0: pure functions, no I/O.
//!
//! Colloquy serves Pingback at `/xmlrpc.php` (the WordPress path) and also pings other
//! sites. This module parses incoming `<methodCall>` bodies ([`parse_call`]), writes our
//! answers ([`fault_response`], [`string_response`], [`array_response`]), builds outgoing
//! `pingback.ping` calls ([`ping_request`]) and reads other sites' answers
//! ([`parse_response`]).
//!
//! Every body is treated as hostile:
//!
//! * bodies over [`MAX_REQUEST_BYTES`] are refused before any parsing;
//! * any `<!DOCTYPE …>` is refused ([`ParseError::Doctype`]), which rules out entity
//!   declarations altogether ("billion laughs", external `SYSTEM`/`PUBLIC` entities);
//! * only the predefined entities and numeric character references are decoded; any other
//!   entity reference is an error;
//! * the document is read iteratively into a small tree whose depth is capped at
//!   [`MAX_DEPTH`], so nothing recurses deeper than that.
//!
//! Everything written is XML-escaped, and characters that XML 1.0 cannot carry at all
//! (most C0 controls) are replaced by U+FFFD.

use std::borrow::Cow;

use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// The largest request (or response) body we are willing to parse.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The deepest element nesting accepted. An XML-RPC call needs well under 10 levels; this
/// leaves room for nested structs and arrays in responses.
pub const MAX_DEPTH: usize = 64;

/// Method name of the Pingback call.
pub const PING_METHOD: &str = "pingback.ping";
/// Method name of XML-RPC introspection's method list.
pub const LIST_METHODS: &str = "system.listMethods";

/// A decoded XML-RPC call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `pingback.ping(sourceURI, targetURI)`, both trimmed.
    Ping { source: String, target: String },
    /// `system.listMethods()` (any parameters are ignored).
    ListMethods,
    /// Any other method; carries the method name.
    Other(String),
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is larger than [`MAX_REQUEST_BYTES`].
    #[error("request body is larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    /// The body is not well-formed (or not acceptable) XML.
    #[error("request is not well-formed XML: {0}")]
    NotXml(String),
    /// The body contains a document type declaration (and so possibly entity declarations).
    #[error("DOCTYPE and entity declarations are not allowed")]
    Doctype,
    /// The XML is fine but it is not an XML-RPC `<methodCall>` with a `<methodName>`.
    #[error("request is not an XML-RPC methodCall")]
    NotAMethodCall,
    /// The method is known but its parameters are wrong.
    #[error("bad parameters: {0}")]
    BadParams(String),
}

/// Fault codes of the Pingback spec, plus the usual XML-RPC server error codes.
pub mod fault {
    /// A generic fault code, for anything without a more specific code.
    pub const GENERIC: i32 = 0;
    /// The source URI does not exist.
    pub const SOURCE_MISSING: i32 = 16;
    /// The source URI does not contain a link to the target URI.
    pub const NO_LINK: i32 = 17;
    /// The specified target URI does not exist.
    pub const TARGET_MISSING: i32 = 32;
    /// The specified target URI cannot be used as a target.
    pub const TARGET_NOT_PINGABLE: i32 = 33;
    /// The pingback has already been registered.
    pub const ALREADY_REGISTERED: i32 = 48;
    /// Access denied.
    pub const ACCESS_DENIED: i32 = 49;
    /// The server could not communicate with an upstream server, or got an error.
    pub const UPSTREAM: i32 = 50;
    /// The request is not well-formed XML.
    pub const PARSE_ERROR: i32 = -32700;
    /// The requested method does not exist.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// The method parameters are invalid.
    pub const INVALID_PARAMS: i32 = -32602;
}

impl ParseError {
    /// The fault code to answer this error with.
    pub fn fault_code(&self) -> i32 {
        match self {
            ParseError::BadParams(_) => fault::INVALID_PARAMS,
            _ => fault::PARSE_ERROR,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// A parsed element: its name and its children (elements and merged text runs).
#[derive(Debug)]
struct Element {
    name: String,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    fn new(name: String) -> Self {
        Element {
            name,
            children: Vec::new(),
        }
    }

    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Node::Text(last)) = self.children.last_mut() {
            last.push_str(text);
        } else {
            self.children.push(Node::Text(text.to_owned()));
        }
    }

    /// All text directly inside this element, concatenated.
    fn text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            if let Node::Text(t) = child {
                out.push_str(t);
            }
        }
        out
    }

    /// The child elements, or `None` if there is non-whitespace text between them.
    fn element_children(&self) -> Option<Vec<&Element>> {
        let mut out = Vec::new();
        for child in &self.children {
            match child {
                Node::Element(e) => out.push(e),
                Node::Text(t) if is_xml_whitespace(t) => {}
                Node::Text(_) => return None,
            }
        }
        Some(out)
    }

    fn has_element_children(&self) -> bool {
        self.children.iter().any(|c| matches!(c, Node::Element(_)))
    }
}

fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn trim_xml(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

fn not_xml(e: impl std::fmt::Display) -> ParseError {
    ParseError::NotXml(e.to_string())
}

fn element_name(reader: &Reader<&[u8]>, e: &BytesStart<'_>) -> Result<String, ParseError> {
    let qname = e.name();
    let name = reader
        .decoder()
        .decode(qname.as_ref())
        .map_err(not_xml)?
        .into_owned();
    // Check the attributes too (XML-RPC has none we use), so that undefined entity
    // references or malformed attributes anywhere in the document are refused.
    for attr in e.attributes() {
        let attr = attr.map_err(not_xml)?;
        attr.unescape_value().map_err(not_xml)?;
    }
    Ok(name)
}

/// Reads `body` into an [`Element`] tree without recursion, refusing DOCTYPEs, unknown
/// entities, stray text outside the root, and nesting deeper than [`MAX_DEPTH`].
fn read_tree(body: &[u8]) -> Result<Element, ParseError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(ParseError::TooLarge);
    }
    let mut reader = Reader::from_reader(body);
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                // quick-xml refuses a bare `<!ENTITY …>` as a syntax error; report it for
                // what it is.
                if contains_ignore_ascii_case(body, b"<!ENTITY") {
                    return Err(ParseError::Doctype);
                }
                return Err(not_xml(e));
            }
        };
        // (element to open, whether it is closed at once)
        let (open, close) = match event {
            Event::DocType(_) => return Err(ParseError::Doctype),
            Event::Start(e) => (Some(e), false),
            // Not produced with expand_empty_elements, but handled all the same.
            Event::Empty(e) => (Some(e), true),
            // check_end_names has already matched the name against the open element.
            Event::End(_) => (None, true),
            Event::Text(t) => {
                let text = t.unescape().map_err(not_xml)?;
                match stack.last_mut() {
                    Some(parent) => parent.push_text(&text),
                    None if is_xml_whitespace(&text) => {}
                    None => return Err(not_xml("text outside the root element")),
                }
                continue;
            }
            Event::CData(c) => {
                let text = reader.decoder().decode(&c).map_err(not_xml)?;
                match stack.last_mut() {
                    Some(parent) => parent.push_text(&text),
                    None => return Err(not_xml("CDATA outside the root element")),
                }
                continue;
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => continue,
            Event::Eof => break,
        };
        if let Some(e) = open {
            if root.is_some() {
                return Err(not_xml("more than one root element"));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(not_xml(format!(
                    "elements nested more than {MAX_DEPTH} levels deep"
                )));
            }
            stack.push(Element::new(element_name(&reader, &e)?));
        }
        if close {
            let done = stack.pop().ok_or_else(|| not_xml("unmatched end tag"))?;
            match stack.last_mut() {
                Some(parent) => parent.children.push(Node::Element(done)),
                None => root = Some(done),
            }
        }
    }
    if !stack.is_empty() {
        return Err(not_xml("unexpected end of document: unclosed element"));
    }
    root.ok_or_else(|| not_xml("no root element"))
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// An XML-RPC value. Only what Pingback needs is kept precisely; other scalars keep their
/// type name and raw text.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i32),
    Struct(Vec<(String, Value)>),
    Array(Vec<Value>),
    /// `boolean`, `double`, `dateTime.iso8601`, `base64`, `i8`, `nil`, …: (type, text).
    Scalar(String, String),
}

impl Value {
    fn type_name(&self) -> &str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Struct(_) => "struct",
            Value::Array(_) => "array",
            Value::Scalar(t, _) => t,
        }
    }
}

/// Decodes a `<value>` element. Recursion is bounded by the tree depth ([`MAX_DEPTH`]).
fn parse_value(value: &Element) -> Result<Value, String> {
    if value.name != "value" {
        return Err(format!("expected <value>, found <{}>", value.name));
    }
    if !value.has_element_children() {
        // No type element: a string, per the XML-RPC spec.
        return Ok(Value::Str(value.text()));
    }
    let typed = match value.element_children().as_deref() {
        Some([one]) => *one,
        _ => return Err("<value> must contain exactly one type element".into()),
    };
    if typed.has_element_children() && !matches!(typed.name.as_str(), "struct" | "array") {
        return Err(format!("<{}> must not contain elements", typed.name));
    }
    match typed.name.as_str() {
        "string" => Ok(Value::Str(typed.text())),
        "int" | "i4" => trim_xml(&typed.text())
            .parse::<i32>()
            .map(Value::Int)
            .map_err(|_| format!("<{}> is not a 32-bit integer", typed.name)),
        "struct" => {
            let members = typed.element_children().ok_or("text inside <struct>")?;
            let mut out = Vec::with_capacity(members.len());
            for member in members {
                if member.name != "member" {
                    return Err(format!("expected <member>, found <{}>", member.name));
                }
                let parts = member.element_children().ok_or("text inside <member>")?;
                let (mut name, mut val) = (None, None);
                for part in parts {
                    match part.name.as_str() {
                        "name" if name.is_none() && !part.has_element_children() => {
                            name = Some(part.text())
                        }
                        "value" if val.is_none() => val = Some(parse_value(part)?),
                        other => return Err(format!("unexpected <{other}> in <member>")),
                    }
                }
                match (name, val) {
                    (Some(n), Some(v)) => out.push((n, v)),
                    _ => return Err("<member> needs a <name> and a <value>".into()),
                }
            }
            Ok(Value::Struct(out))
        }
        "array" => {
            let data = match typed.element_children().as_deref() {
                Some([d]) if d.name == "data" => *d,
                _ => return Err("<array> must contain exactly one <data>".into()),
            };
            let items = data.element_children().ok_or("text inside <data>")?;
            items
                .into_iter()
                .map(parse_value)
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        other => Ok(Value::Scalar(other.to_owned(), typed.text())),
    }
}

/// The `<value>`s of a `<params>` element, each checked to be `<param><value>…</value></param>`.
fn param_values(params: &Element) -> Result<Vec<&Element>, String> {
    let list = params.element_children().ok_or("text inside <params>")?;
    let mut out = Vec::with_capacity(list.len());
    for param in list {
        if param.name != "param" {
            return Err(format!("expected <param>, found <{}>", param.name));
        }
        match param.element_children().as_deref() {
            Some([v]) if v.name == "value" => out.push(*v),
            _ => return Err("<param> must contain exactly one <value>".into()),
        }
    }
    Ok(out)
}

/// Parses an XML-RPC `<methodCall>`. `pingback.ping` needs exactly two string params (a
/// `<value>` with `<string>` or bare text); both are trimmed.
pub fn parse_call(body: &[u8]) -> Result<Call, ParseError> {
    let root = read_tree(body)?;
    if root.name != "methodCall" {
        return Err(ParseError::NotAMethodCall);
    }
    let children = root.element_children().ok_or(ParseError::NotAMethodCall)?;
    let (mut method, mut params) = (None, None);
    for child in children {
        match child.name.as_str() {
            "methodName" if method.is_none() && !child.has_element_children() => {
                method = Some(trim_xml(&child.text()).to_owned())
            }
            "params" if params.is_none() => params = Some(child),
            _ => return Err(ParseError::NotAMethodCall),
        }
    }
    let method = match method {
        Some(m) if !m.is_empty() => m,
        _ => return Err(ParseError::NotAMethodCall),
    };
    match method.as_str() {
        PING_METHOD => {
            let values = match params {
                Some(p) => param_values(p).map_err(ParseError::BadParams)?,
                None => Vec::new(),
            };
            if values.len() != 2 {
                return Err(ParseError::BadParams(format!(
                    "pingback.ping takes 2 parameters (sourceURI, targetURI), got {}",
                    values.len()
                )));
            }
            let mut strings = Vec::with_capacity(2);
            for (i, v) in values.into_iter().enumerate() {
                match parse_value(v).map_err(ParseError::BadParams)? {
                    Value::Str(s) => strings.push(trim_xml(&s).to_owned()),
                    other => {
                        return Err(ParseError::BadParams(format!(
                            "parameter {} must be a string, not {}",
                            i + 1,
                            other.type_name()
                        )))
                    }
                }
            }
            let target = strings.pop().unwrap_or_default();
            let source = strings.pop().unwrap_or_default();
            Ok(Call::Ping { source, target })
        }
        LIST_METHODS => Ok(Call::ListMethods),
        _ => Ok(Call::Other(method)),
    }
}

/// Reads another site's answer to our ping: `Ok(message)` or `Err((fault code, fault
/// string))`; a malformed answer is `Err((0, "…"))`.
pub fn parse_response(body: &[u8]) -> Result<String, (i32, String)> {
    let malformed = |why: String| (fault::GENERIC, format!("malformed XML-RPC response: {why}"));
    let root = read_tree(body).map_err(|e| malformed(e.to_string()))?;
    if root.name != "methodResponse" {
        return Err(malformed(format!(
            "expected <methodResponse>, found <{}>",
            root.name
        )));
    }
    let child = match root.element_children().as_deref() {
        Some([one]) => *one,
        _ => return Err(malformed("expected one <params> or <fault>".into())),
    };
    match child.name.as_str() {
        "params" => {
            let values = param_values(child).map_err(malformed)?;
            let [value] = values.as_slice() else {
                return Err(malformed(format!("expected 1 param, got {}", values.len())));
            };
            match parse_value(value).map_err(malformed)? {
                Value::Str(s) => Ok(s),
                Value::Int(i) => Ok(i.to_string()),
                Value::Scalar(_, s) => Ok(trim_xml(&s).to_owned()),
                other => Err(malformed(format!(
                    "expected a string result, got {}",
                    other.type_name()
                ))),
            }
        }
        "fault" => {
            let value = match child.element_children().as_deref() {
                Some([v]) => *v,
                _ => return Err(malformed("<fault> must contain one <value>".into())),
            };
            let Value::Struct(members) = parse_value(value).map_err(malformed)? else {
                return Err(malformed("fault value is not a struct".into()));
            };
            let (mut code, mut message) = (None, None);
            for (name, v) in members {
                match (name.as_str(), v) {
                    ("faultCode", Value::Int(c)) => code = Some(c),
                    // Some servers send the code as a string.
                    ("faultCode", Value::Str(s)) => code = trim_xml(&s).parse().ok(),
                    ("faultString", Value::Str(s)) => message = Some(s),
                    _ => {}
                }
            }
            match (code, message) {
                (Some(c), Some(m)) => Err((c, m)),
                (Some(c), None) => Err((c, String::new())),
                _ => Err(malformed("fault without an integer faultCode".into())),
            }
        }
        other => Err(malformed(format!("unexpected <{other}>"))),
    }
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// XML-escapes `s` for element content. Characters XML 1.0 cannot represent at all become
/// U+FFFD; a carriage return is written as `&#13;` so that parsers do not normalise it away.
fn esc(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}');
    let cleaned: Cow<'_, str> = if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    };
    let escaped = match cleaned {
        Cow::Borrowed(b) => escape(b),
        Cow::Owned(o) => Cow::Owned(escape(o.as_str()).into_owned()),
    };
    if escaped.contains('\r') {
        Cow::Owned(escaped.replace('\r', "&#13;"))
    } else {
        escaped
    }
}

fn string_value(out: &mut String, s: &str) {
    out.push_str("<value><string>");
    out.push_str(&esc(s));
    out.push_str("</string></value>");
}

/// A fault: `<methodResponse><fault><value><struct>` with `faultCode` (int) and
/// `faultString` (string).
pub fn fault_response(code: i32, message: &str) -> String {
    let mut out = String::from(XML_DECL);
    out.push_str("<methodResponse><fault><value><struct>");
    out.push_str("<member><name>faultCode</name><value><int>");
    out.push_str(&code.to_string());
    out.push_str("</int></value></member>");
    out.push_str("<member><name>faultString</name>");
    string_value(&mut out, message);
    out.push_str("</member></struct></value></fault></methodResponse>\n");
    out
}

/// A successful answer carrying one string.
pub fn string_response(s: &str) -> String {
    let mut out = String::from(XML_DECL);
    out.push_str("<methodResponse><params><param>");
    string_value(&mut out, s);
    out.push_str("</param></params></methodResponse>\n");
    out
}

/// A successful answer carrying an array of strings (for `system.listMethods`).
pub fn array_response(items: &[&str]) -> String {
    let mut out = String::from(XML_DECL);
    out.push_str("<methodResponse><params><param><value><array><data>");
    for item in items {
        string_value(&mut out, item);
    }
    out.push_str("</data></array></value></param></params></methodResponse>\n");
    out
}

/// Builds a `pingback.ping` call to send to another site.
pub fn ping_request(source: &str, target: &str) -> String {
    let mut out = String::from(XML_DECL);
    out.push_str("<methodCall><methodName>pingback.ping</methodName><params><param>");
    string_value(&mut out, source);
    out.push_str("</param><param>");
    string_value(&mut out, target);
    out.push_str("</param></params></methodCall>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(s: &str) -> Element {
        read_tree(s.as_bytes()).unwrap()
    }

    #[test]
    fn text_runs_merge_across_comments_and_cdata() {
        let t = tree("<a>x<!-- c -->y<![CDATA[<z>]]>&amp;</a>");
        assert_eq!(t.text(), "xy<z>&");
        assert_eq!(t.children.len(), 1);
    }

    #[test]
    fn structural_checks() {
        assert!(matches!(read_tree(b"<a>"), Err(ParseError::NotXml(_))));
        assert!(matches!(read_tree(b"<a></b>"), Err(ParseError::NotXml(_))));
        assert!(matches!(read_tree(b"<a/><b/>"), Err(ParseError::NotXml(_))));
        assert!(matches!(read_tree(b"x<a/>"), Err(ParseError::NotXml(_))));
        assert!(matches!(read_tree(b""), Err(ParseError::NotXml(_))));
        assert!(matches!(
            read_tree(b"<a b='&x;'/>"),
            Err(ParseError::NotXml(_))
        ));
        assert!(matches!(
            read_tree(b"<a>\xff</a>"),
            Err(ParseError::NotXml(_))
        ));
    }

    #[test]
    fn depth_cap_is_exact() {
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(read_tree(ok.as_bytes()).is_ok());
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(
            read_tree(deep.as_bytes()),
            Err(ParseError::NotXml(_))
        ));
    }

    #[test]
    fn size_limit_is_inclusive() {
        let pad = |n: usize| {
            let mut s = String::from("<a>");
            s.push_str(&" ".repeat(n - 7));
            s.push_str("</a>");
            s
        };
        assert!(read_tree(pad(MAX_REQUEST_BYTES).as_bytes()).is_ok());
        assert_eq!(
            read_tree(pad(MAX_REQUEST_BYTES + 1).as_bytes()).unwrap_err(),
            ParseError::TooLarge
        );
    }

    #[test]
    fn values() {
        let v = |s: &str| parse_value(&tree(s));
        assert_eq!(v("<value> <i4> -7 </i4> </value>"), Ok(Value::Int(-7)));
        assert_eq!(v("<value/>"), Ok(Value::Str(String::new())));
        assert_eq!(v("<value><string/></value>"), Ok(Value::Str(String::new())));
        assert!(v("<value><int>x</int></value>").is_err());
        assert!(v("<value><string>a</string><string>b</string></value>").is_err());
        assert_eq!(
            v("<value><array><data><value>a</value><value><int>1</int></value></data></array></value>"),
            Ok(Value::Array(vec![Value::Str("a".into()), Value::Int(1)]))
        );
        assert_eq!(
            v("<value><boolean>1</boolean></value>"),
            Ok(Value::Scalar("boolean".into(), "1".into()))
        );
    }

    #[test]
    fn escaping_replaces_unrepresentable_characters() {
        assert_eq!(esc("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
        assert_eq!(esc("a\u{0}b\r\n\t"), "a\u{FFFD}b&#13;\n\t");
        let msg = "x\r\ny\u{1}";
        assert_eq!(
            parse_response(string_response(msg).as_bytes()),
            Ok("x\r\ny\u{FFFD}".to_owned())
        );
    }

    #[test]
    fn fault_codes_for_parse_errors() {
        assert_eq!(
            ParseError::BadParams("x".into()).fault_code(),
            fault::INVALID_PARAMS
        );
        assert_eq!(ParseError::Doctype.fault_code(), fault::PARSE_ERROR);
    }
}
