//! Helpers shared by the tests: fixtures, a seeded generator and `python3`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A fixture file under `tests/fixtures/`, parsed as JSON.
pub(crate) fn fixture(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A small seeded generator (SplitMix64): the tests are reproducible and need no extra crate.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// A number in `low..=high`.
    pub(crate) fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = (high as i128 - low as i128 + 1) as u128;
        (low as i128 + (u128::from(self.next_u64()) % span) as i128) as i64
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One to `max_parts` fragments glued together.
    pub(crate) fn glue(&mut self, fragments: &[&str], max_parts: usize) -> String {
        let parts = 1 + self.below(max_parts);
        (0..parts).map(|_| *self.pick(fragments)).collect()
    }
}

/// Runs `python3 -c script` with `input` as JSON on stdin and parses its stdout as JSON; `None`
/// (after saying so) when there is no `python3` on this machine.
#[allow(
    clippy::print_stderr,
    reason = "a skipped differential test must say that it was skipped"
)]
pub(crate) fn python3(script: &str, input: &serde_json::Value) -> Option<serde_json::Value> {
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipped: python3 is not installed, so this differential test cannot run");
            return None;
        }
        Err(error) => panic!("cannot start python3: {error}"),
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = serde_json::to_vec(input).expect("JSON input");
    // Write from another thread so that a large answer cannot dead-lock the pipes.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("python3 runs");
    writer
        .join()
        .expect("writer thread")
        .expect("write to python3");
    assert!(output.status.success(), "python3 failed: {}", output.status);
    Some(serde_json::from_slice(&output.stdout).expect("python3 prints JSON"))
}
