//! Measures the confidentiality guard against a hand-labelled corpus of social-work writing and
//! debate chat (`confidentiality_corpus.txt`), prints per-kind precision and recall, and holds
//! the guard to them. Run with `-- --nocapture` to see the table.
//!
//! Scoring is per sentence and kind: a sentence labelled `phone_number` is one positive; any
//! phone-number finding in it is a true positive for that pair, and a finding of a kind the
//! sentence is not labelled with is one false positive for that pair.

use std::collections::{BTreeSet, HashMap};

use colloquy_core::confidentiality::{scan, FindingKind};

const CORPUS: &str = include_str!("confidentiality_corpus.txt");

const KINDS: [FindingKind; 7] = [
    FindingKind::NhsNumber,
    FindingKind::NiNumber,
    FindingKind::PhoneNumber,
    FindingKind::EmailAddress,
    FindingKind::Postcode,
    FindingKind::DateOfBirth,
    FindingKind::NamedPersonAge,
];

struct Labelled {
    line: usize,
    kinds: BTreeSet<&'static str>,
    text: &'static str,
}

fn corpus() -> Vec<Labelled> {
    CORPUS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let (labels, text) = l
                .split_once(" | ")
                .unwrap_or_else(|| panic!("line {}: expected `labels | text`", i + 1));
            let kinds = labels
                .split(',')
                .map(str::trim)
                .filter(|k| *k != "-")
                .map(|k| {
                    KINDS
                        .iter()
                        .find(|kind| kind.as_str() == k)
                        .unwrap_or_else(|| panic!("line {}: unknown kind {k:?}", i + 1))
                        .as_str()
                })
                .collect();
            Labelled {
                line: i + 1,
                kinds,
                text,
            }
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Counts {
    fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        1.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

#[test]
fn guard_meets_precision_and_recall_on_the_labelled_corpus() {
    let corpus = corpus();
    assert!(corpus.len() >= 120, "corpus has {} sentences", corpus.len());
    let negatives = corpus.iter().filter(|s| s.kinds.is_empty()).count();

    let mut per_kind: HashMap<&str, Counts> = HashMap::new();
    let mut mistakes = Vec::new();
    for sentence in &corpus {
        let findings = scan(sentence.text);
        for f in &findings {
            assert_eq!(&sentence.text[f.start..f.end], f.text);
        }
        let predicted: BTreeSet<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
        for kind in KINDS.map(FindingKind::as_str) {
            let c = per_kind.entry(kind).or_default();
            match (sentence.kinds.contains(kind), predicted.contains(kind)) {
                (true, true) => c.tp += 1,
                (false, true) => {
                    c.fp += 1;
                    mistakes.push(format!("line {}: unexpected {kind}", sentence.line));
                }
                (true, false) => {
                    c.fn_ += 1;
                    mistakes.push(format!("line {}: missed {kind}", sentence.line));
                }
                (false, false) => {}
            }
        }
        if sentence.kinds != predicted {
            let shown: Vec<String> = findings
                .iter()
                .map(|f| format!("{}={:?}", f.kind.as_str(), f.text))
                .collect();
            mistakes.push(format!("    {:?} -> {}", sentence.text, shown.join(", ")));
        }
    }

    let mut total = Counts::default();
    println!();
    println!(
        "confidentiality corpus: {} sentences ({} with nothing to flag)",
        corpus.len(),
        negatives
    );
    println!(
        "{:<18} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "kind", "tp", "fp", "fn", "precision", "recall"
    );
    for kind in KINDS.map(FindingKind::as_str) {
        let c = per_kind[kind];
        total.tp += c.tp;
        total.fp += c.fp;
        total.fn_ += c.fn_;
        println!(
            "{:<18} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
            kind,
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall()
        );
    }
    println!(
        "{:<18} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
        "overall",
        total.tp,
        total.fp,
        total.fn_,
        total.precision(),
        total.recall()
    );
    if !mistakes.is_empty() {
        println!("\nmistakes:");
        for m in &mistakes {
            println!("  {m}");
        }
    }

    assert!(
        total.precision() >= 0.95,
        "overall precision {:.3} < 0.95",
        total.precision()
    );
    assert!(
        total.recall() >= 0.95,
        "overall recall {:.3} < 0.95",
        total.recall()
    );
    for kind in KINDS.map(FindingKind::as_str) {
        let r = per_kind[kind].recall();
        assert!(r >= 0.9, "{kind} recall {r:.3} < 0.9");
    }
}

#[test]
fn every_kind_has_enough_labelled_examples_to_mean_something() {
    let corpus = corpus();
    for kind in KINDS.map(FindingKind::as_str) {
        let n = corpus.iter().filter(|s| s.kinds.contains(kind)).count();
        assert!(n >= 10, "only {n} sentences labelled {kind}");
    }
}
