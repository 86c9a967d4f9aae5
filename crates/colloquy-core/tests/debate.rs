//! Debate outputs as their consumers see them: the summary through the post renderer, the
//! calendar file through a real iCalendar parser.

// In a module named `debate`, so that `cargo test debate` selects these too.
mod debate {
    use colloquy_core::debate::*;
    use colloquy_core::markdown;

    fn hostile_questions() -> Vec<SummaryQuestion> {
        vec![
            SummaryQuestion {
                number: 1,
                text: "# Take over the page\n## and this".into(),
                answers: vec![
                    SummaryAnswer {
                        author: "<script>alert(1)</script>".into(),
                        text: "| a | b |\n|---|---|\n| 1 | 2 |".into(),
                        reactions: 4,
                    },
                    SummaryAnswer {
                        author: "**Mallory**".into(),
                        text: "> nested\n\n# heading\n<img src=x onerror=alert(1)>\n[click](javascript:alert(1))\n1. list\n- item\n---\n    code\n<!-- comment".into(),
                        reactions: 3,
                    },
                    SummaryAnswer {
                        author: "Trent".into(),
                        text: "[ref]: https://evil.example\n\nsee [ref] & &lt;b&gt;".into(),
                        reactions: 2,
                    },
                ],
            },
            SummaryQuestion {
                number: 2,
                text: "Plain question".into(),
                answers: vec![],
            },
        ]
    }

    /// The chart as the site writes it into a summary.
    const CHART: &str = "![Messages per minute during the debate (the table below gives the figures)](https://example.org/debates/42/chart.svg)";

    fn summary_input<'a>(
        questions: &'a [SummaryQuestion],
        chart: &'a str,
        per_minute: &'a [u32],
    ) -> SummaryInput<'a> {
        SummaryInput {
            title: "Tea | coffee",
            original_title: "Why ](javascript:x) tea wins",
            original_url: "https://example.org/why-tea-wins",
            transcript_url: "https://example.org/debates/42/transcript",
            questions,
            participants: 3,
            messages: 9,
            peak_readers: 20,
            duration_minutes: 10,
            chart_markdown: chart,
            per_minute,
        }
    }

    #[test]
    fn hostile_text_cannot_change_the_rendered_summary_structure() {
        let qs = hostile_questions();
        let per_minute = [1u32, 0, 3, 2, 0, 0, 1, 1, 0, 1];
        let md = summary_markdown(&summary_input(&qs, CHART, &per_minute));
        let html = markdown::render(&md);

        // Headings are exactly ours: Q1, Q2, figures, the table's.
        assert_eq!(html.matches("<h2").count(), 3, "{html}");
        assert_eq!(html.matches("<h3").count(), 1, "{html}");
        assert!(!html.contains("<h1"), "{html}");
        // One table (ours), three answer quotes, no nested quote, no lists but ours.
        assert_eq!(html.matches("<table").count(), 1, "{html}");
        assert_eq!(html.matches("<blockquote").count(), 3, "{html}");
        assert_eq!(html.matches("<ul").count(), 1, "{html}");
        assert!(!html.contains("<ol"), "{html}");
        assert!(!html.contains("<pre"), "{html}");
        assert!(!html.contains("<hr"), "{html}");
        // One image: our chart. The answer's `<img onerror>` is text.
        assert_eq!(html.matches("<img").count(), 1, "{html}");
        assert!(html.contains(r#"<img src="https://example.org/debates/42/chart.svg""#));
        assert!(!html.contains("onerror=\""), "{html}");
        assert!(!html.contains("<strong>Mallory"), "{html}");
        // Links: the piece, the transcript. Nothing from user text.
        assert_eq!(html.matches("<a ").count(), 2, "{html}");
        assert!(!html.contains("evil.example\""), "{html}");
        assert!(!html.contains("javascript:x)\""), "{html}");
        // User text reads as typed.
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("# Take over the page ## and this"), "{html}");
        assert!(html.contains("&amp;lt;b&amp;gt;"), "{html}");
        assert!(html.contains("Why ](javascript:x) tea wins</a>"), "{html}");
    }

    #[test]
    fn the_summary_shows_the_chart_as_a_described_image_above_its_table() {
        let per_minute = [2u32, 5, 1];
        // Why an image: the renderer strips an inline SVG whole (drawing and labels).
        let svg = svg_chart("summary", "Messages per minute", &per_minute);
        let raw = markdown::render(&format!("Before\n\n{svg}\n\nAfter\n"));
        assert!(!raw.contains("<svg"), "{raw}");
        assert!(!raw.contains("Messages per minute"), "{raw}");

        let qs = [];
        let html = markdown::render(&summary_markdown(&summary_input(&qs, CHART, &per_minute)));
        let img = html.find("<img").expect(&html);
        let tag = &html[img..img + html[img..].find('>').unwrap()];
        assert!(
            tag.contains(r#"src="https://example.org/debates/42/chart.svg""#),
            "{tag}"
        );
        assert!(
            tag.contains(
                r#"alt="Messages per minute during the debate (the table below gives the figures)""#
            ),
            "{tag}"
        );
        let table = html.find("<table>").expect(&html);
        assert!(img < table, "the chart comes before its table: {html}");
        assert!(html.contains(">5</td>"), "{html}");

        // Without a chart: the table alone.
        let html = markdown::render(&summary_markdown(&summary_input(&qs, "", &per_minute)));
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn the_transcript_markdown_renders_with_one_heading_per_question() {
        let lines = vec![
            TranscriptLine {
                id: 1,
                at: 1_800_000_000,
                author: "# Alice".into(),
                kind: MessageKind::Question,
                question: Some(1),
                reply_to: None,
                body: "<b>bold?</b>\n\n## not a heading".into(),
                hidden: false,
            },
            TranscriptLine {
                id: 2,
                at: 1_800_000_060,
                author: "Bob".into(),
                kind: MessageKind::Answer,
                question: Some(1),
                reply_to: Some(1),
                body: "> yes\n| x |".into(),
                hidden: false,
            },
        ];
        let html = markdown::render(&transcript_markdown("Title", &lines));
        assert_eq!(html.matches("<h1").count(), 1, "{html}");
        assert_eq!(html.matches("<h2").count(), 1, "{html}");
        assert!(!html.contains("<b>") && !html.contains("<blockquote") && !html.contains("<table"));
        assert!(html.contains("(replying to # Alice)"), "{html}");
    }

    /// Parses the ICS with Python's `icalendar` where it is installed; says so and passes where
    /// it is not (nothing is installed for the test).
    #[test]
    fn python_icalendar_reads_the_calendar_file() {
        use std::io::Write;
        use std::process::{Command, Stdio};

        let probe = Command::new("python3")
            .args(["-c", "import icalendar"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            let msg = "SKIPPED: python3 with the icalendar package is not available";
            assert!(std::env::var("COLLOQUY_REQUIRE_SERVICES").is_err(), "{msg}");
            eprintln!("{msg}");
            return;
        }
        let description = "Line one; with, punctuation \\ and\nline two — ☕🍵 ".repeat(6);
        let ev = CalendarEvent {
            uid: "debate-42@example.org",
            sequence: 2,
            stamp: 1_790_000_000,
            start: 1_796_328_000, // 2026-12-03T20:00:00Z
            duration_minutes: 90,
            title: "Tea, coffee; or both?",
            description: &description,
            url: "https://example.org/debates/42",
            cancelled: true,
        };
        let script = r#"
    import sys, icalendar
    cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
    ev = [c for c in cal.walk("VEVENT")][0]
    print(str(cal["PRODID"]))
    print(str(ev["UID"]))
    print(int(ev["SEQUENCE"]))
    print(ev.decoded("DTSTART").isoformat())
    print(ev.decoded("DTEND").isoformat())
    print(str(ev["SUMMARY"]))
    print(str(ev["STATUS"]))
    print(str(ev["URL"]))
    sys.stdout.write(str(ev["DESCRIPTION"]))
    "#;
        // The script is indented with this file; Python wants it at the margin.
        let script: String = script
            .lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ics(&ev).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.splitn(9, '\n');
        assert_eq!(lines.next(), Some("-//Colloquy//Debates//EN"));
        assert_eq!(lines.next(), Some("debate-42@example.org"));
        assert_eq!(lines.next(), Some("2"));
        assert_eq!(lines.next(), Some("2026-12-03T20:00:00+00:00"));
        assert_eq!(lines.next(), Some("2026-12-03T21:30:00+00:00"));
        assert_eq!(lines.next(), Some("Tea, coffee; or both?"));
        assert_eq!(lines.next(), Some("CANCELLED"));
        assert_eq!(lines.next(), Some("https://example.org/debates/42"));
        assert_eq!(lines.next(), Some(description.as_str()));
    }
}
