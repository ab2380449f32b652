//! Fuzzing as ordinary tests (issue 14, item 6), for the parsers that read what a
//! client sends: SMTP, IMAP and POP3 commands, MIME at delivery, FHIR resources and
//! search parameters, the directory imports, card certificates, assertions.
//!
//! A target is a function from bytes to nothing that must not panic (and may assert
//! its own invariants). [`Target::run`] first replays the target's committed corpus
//! (one input per file, the crashes found earlier among them), then lets `proptest`
//! generate inputs for a bounded budget: corpus entries mutated (bytes flipped,
//! inserted, deleted, duplicated, the target's tokens spliced in), two entries
//! spliced, and random bytes. A failing input is shrunk, written into the corpus as
//! `crash-<hash>` and the test fails: committing that file makes it a regression test.
//!
//! Not coverage-guided (no nightly toolchain installs from the registries here):
//! what guides it is the corpus, which holds real protocol text for each target.
//! The budget: `SANTE_FUZZ_SECONDS` (default 5) and `SANTE_FUZZ_CASES` (default
//! 1 000 000) per target, whichever ends first; a longer campaign is the same test
//! with larger values (`SANTE_FUZZ_SECONDS=600 cargo test -p sante-mail fuzz_targets`).
//!
//! Architecture: a dev-dependency only; knows no Sante crate.

// A test harness: failing loudly is its purpose.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// The target `name` of the calling crate, its corpus in `<crate>/fuzz/<name>/`.
#[macro_export]
macro_rules! target {
    ($name:literal) => {
        $crate::Target::new($name, concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/", $name))
    };
}

/// One fuzz target: its name, its corpus directory, the tokens of its grammar.
pub struct Target {
    name: String,
    corpus_dir: PathBuf,
    tokens: Vec<Vec<u8>>,
}

/// The longest input generated.
const MAX_LEN: usize = 64 * 1024;

/// One change applied to a corpus entry.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Token(Index, Index),
    Delete(Index, usize),
    /// Repeats a slice: deep nesting, long lists, many literals.
    Repeat(Index, usize, usize),
}

impl Target {
    /// A target whose corpus is `corpus_dir` (which must hold at least one input).
    pub fn new(name: &str, corpus_dir: impl AsRef<Path>) -> Target {
        Target {
            name: name.to_owned(),
            corpus_dir: corpus_dir.as_ref().to_path_buf(),
            tokens: Vec::new(),
        }
    }

    /// Words of the target's grammar spliced into inputs (`"{"`, `"BODY["`, `"\r\n"`…).
    pub fn tokens(mut self, tokens: &[&[u8]]) -> Target {
        self.tokens = tokens.iter().map(|t| t.to_vec()).collect();
        self
    }

    fn corpus(&self) -> Vec<(String, Vec<u8>)> {
        let Ok(entries) = std::fs::read_dir(&self.corpus_dir) else {
            panic!(
                "fuzz target {}: no corpus at {}",
                self.name,
                self.corpus_dir.display()
            );
        };
        let mut corpus: Vec<(String, Vec<u8>)> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        corpus.sort();
        assert!(
            !corpus.is_empty(),
            "fuzz target {}: the corpus {} is empty",
            self.name,
            self.corpus_dir.display()
        );
        corpus
    }

    /// Replays the corpus, then fuzzes `check` for the budget. Panics (fails the test)
    /// on the first input that makes `check` panic.
    pub fn run(self, check: impl Fn(&[u8])) {
        let corpus = self.corpus();
        for (file, input) in &corpus {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| check(input)));
            if outcome.is_err() {
                panic!(
                    "fuzz target {}: corpus entry {} fails (a regression)",
                    self.name, file
                );
            }
        }
        let seconds = budget("SANTE_FUZZ_SECONDS", 5);
        let cases = budget("SANTE_FUZZ_CASES", 1_000_000);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runner = TestRunner::new(Config {
            cases: u32::try_from(cases).unwrap_or(u32::MAX),
            failure_persistence: None,
            // proptest would shrink the edits, not the bytes: `minimise` does that.
            max_shrink_iters: 0,
            max_global_rejects: 0,
            ..Config::default()
        });
        let inputs = corpus.into_iter().map(|(_, input)| input).collect();
        let strategy = inputs_strategy(inputs, self.tokens.clone());
        let ran = std::cell::Cell::new(0u64);
        let spent = std::cell::Cell::new(false);
        let result = runner.run(&strategy, |input| {
            if Instant::now() > deadline {
                // The one rejection allowed: it stops the runner.
                spent.set(true);
                return Err(TestCaseError::reject("budget spent"));
            }
            ran.set(ran.get() + 1);
            std::panic::catch_unwind(AssertUnwindSafe(|| check(&input)))
                .map_err(|_| TestCaseError::fail("panicked"))
        });
        match result {
            Ok(()) => eprintln!(
                "fuzz target {}: corpus replayed, {} generated inputs passed",
                self.name,
                ran.get()
            ),
            Err(TestError::Abort(_)) if spent.get() => eprintln!(
                "fuzz target {}: corpus replayed, {} generated inputs passed in {seconds} s",
                self.name,
                ran.get()
            ),
            Err(TestError::Fail(_, input)) => {
                let input = minimise(input, &check);
                let file = self.save_crash(&input);
                panic!(
                    "fuzz target {}: an input fails, shrunk to {} bytes and saved as {}; \
                     commit it with the fix (it becomes a regression test): {:?}",
                    self.name,
                    input.len(),
                    file.display(),
                    String::from_utf8_lossy(&input)
                );
            }
            Err(TestError::Abort(why)) => panic!("fuzz target {}: aborted: {why}", self.name),
        }
    }

    fn save_crash(&self, input: &[u8]) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        input.hash(&mut hasher);
        let file = self
            .corpus_dir
            .join(format!("crash-{:016x}", hasher.finish()));
        std::fs::write(&file, input).unwrap();
        file
    }
}

/// The failing input made smaller while it still fails: chunks removed, halving their
/// size down to single bytes (bounded in tries and in time, so that a slow target
/// still ends).
fn minimise(mut input: Vec<u8>, check: &impl Fn(&[u8])) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let fails =
        |candidate: &[u8]| std::panic::catch_unwind(AssertUnwindSafe(|| check(candidate))).is_err();
    // Thousands of expected panics: their messages would bury the one that matters.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut tries = 0;
    let mut chunk = input.len().div_ceil(2).max(1);
    loop {
        let mut at = 0;
        while at < input.len() && tries < 20_000 && Instant::now() < deadline {
            tries += 1;
            let end = (at + chunk).min(input.len());
            let mut candidate = input[..at].to_vec();
            candidate.extend_from_slice(&input[end..]);
            if fails(&candidate) {
                input = candidate;
            } else {
                at += chunk;
            }
        }
        if chunk == 1 || tries >= 20_000 || Instant::now() >= deadline {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    std::panic::set_hook(hook);
    input
}

fn budget(variable: &str, default: u64) -> u64 {
    match std::env::var(variable) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{variable}={value:?} is not a number")),
        Err(_) => default,
    }
}

fn edit_strategy(tokens: usize) -> impl Strategy<Value = Edit> {
    let token = if tokens == 0 { 1 } else { 3 };
    prop_oneof![
        3 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Flip(at, b)),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        token => (any::<Index>(), any::<Index>()).prop_map(|(at, t)| Edit::Token(at, t)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => (any::<Index>(), 1usize..32, 2usize..200)
            .prop_map(|(at, n, times)| Edit::Repeat(at, n, times)),
    ]
}

fn apply(mut input: Vec<u8>, edits: &[Edit], tokens: &[Vec<u8>]) -> Vec<u8> {
    for edit in edits {
        let len = input.len();
        match edit {
            Edit::Flip(at, b) if len > 0 => input[at.index(len)] = *b,
            Edit::Flip(..) => input.push(0),
            Edit::Insert(at, bytes) => {
                let at = at.index(len + 1);
                input.splice(at..at, bytes.iter().copied());
            }
            Edit::Token(at, t) if !tokens.is_empty() => {
                let at = at.index(len + 1);
                let token = &tokens[t.index(tokens.len())];
                input.splice(at..at, token.iter().copied());
            }
            Edit::Token(..) => {}
            Edit::Delete(at, n) if len > 0 => {
                let at = at.index(len);
                let end = (at + n).min(len);
                input.drain(at..end);
            }
            Edit::Delete(..) => {}
            Edit::Repeat(at, n, times) if len > 0 => {
                let at = at.index(len);
                let end = (at + n).min(len);
                let slice = input[at..end].to_vec();
                let room = MAX_LEN.saturating_sub(len) / slice.len().max(1);
                for _ in 0..(*times).min(room) {
                    input.splice(at..at, slice.iter().copied());
                }
            }
            Edit::Repeat(..) => {}
        }
    }
    input.truncate(MAX_LEN);
    input
}

fn inputs_strategy(corpus: Vec<Vec<u8>>, tokens: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec(edit_strategy(tokens.len()), 1..8);
    let mutated = {
        let tokens = tokens.clone();
        (prop::sample::select(corpus.clone()), edits)
            .prop_map(move |(seed, edits)| apply(seed, &edits, &tokens))
    };
    let spliced = (
        prop::sample::select(corpus.clone()),
        prop::sample::select(corpus),
        any::<Index>(),
        any::<Index>(),
    )
        .prop_map(move |(a, b, i, j)| {
            let mut out = a[..i.index(a.len() + 1)].to_vec();
            out.extend_from_slice(&b[j.index(b.len() + 1)..]);
            out.truncate(MAX_LEN);
            out
        });
    prop_oneof![
        6 => mutated,
        2 => spliced,
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_of(entries: &[&[u8]]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (i, e) in entries.iter().enumerate() {
            std::fs::write(dir.path().join(format!("seed-{i}")), e).unwrap();
        }
        dir
    }

    #[test]
    fn a_parser_that_panics_on_some_input_is_found_shrunk_and_saved() {
        let dir = corpus_of(&[b"a1 NOOP\r\n"]);
        let outcome = std::panic::catch_unwind(|| {
            Target::new("test", dir.path())
                .tokens(&[b"{"])
                .run(|input| assert!(!input.contains(&b'{'), "a brace"));
        });
        assert!(outcome.is_err(), "the harness missed a panicking input");
        let saved: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("crash-"))
            .collect();
        assert_eq!(saved.len(), 1, "{saved:?}");
        let crash = std::fs::read(dir.path().join(&saved[0])).unwrap();
        assert_eq!(crash, b"{", "shrunk to the one byte that matters");
        // Replayed next time, it fails at once: a regression test.
        let again = std::panic::catch_unwind(|| {
            Target::new("test", dir.path()).run(|input| assert!(!input.contains(&b'{')));
        });
        assert!(again.is_err());
    }

    #[test]
    fn a_sound_parser_passes() {
        let dir = corpus_of(&[b"a1 NOOP\r\n", b"a2 LOGIN x y\r\n"]);
        Target::new("sound", dir.path()).run(|input| {
            let _ = std::str::from_utf8(input);
        });
    }
}
