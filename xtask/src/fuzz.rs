//! `cargo xtask fuzz [--seconds N] [--target NAME]`: builds the cargo-fuzz targets of `fuzz/`
//! and runs each (or only NAME) for N seconds (default 60), one after another, then reports the
//! executions per target and fails if any target crashed, naming the input that did it.
//!
//! cargo-fuzz is installed on first use into `target/fuzz-tools/` (`cargo install --locked`, the
//! version pinned below). Its nightly flags are accepted by the stable compiler through
//! `RUSTC_BOOTSTRAP=1`. The build goes to `target/fuzz/build/`, the working corpus that each run
//! grows to `target/fuzz/corpus/<target>/` (the committed seeds in `fuzz/seeds/<target>/` are read,
//! never written), crashing inputs to `target/fuzz/artifacts/<target>/`. The targets are built
//! without a sanitizer: the workspace forbids `unsafe`, so a sanitizer would only slow them down.
//! `docs/fuzzing.md` says what each target checks.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::run_checked;

/// Every target in `fuzz/Cargo.toml`, in the order they run.
const TARGETS: [&str; 6] = [
    "template_render",
    "statement_lexer",
    "uri_parse",
    "task_file",
    "literal_map",
    "task_template",
];

/// The cargo-fuzz release installed into `target/fuzz-tools/`.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// A run longer than this on one input is a hang, reported like a crash.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// What `cargo xtask fuzz` was asked to do.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    seconds: u64,
    targets: Vec<&'static str>,
}

/// What libFuzzer said at the end of one run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    /// `stat::number_of_executed_units`.
    executions: Option<u64>,
    /// `exec/s` of the final `DONE` line.
    executions_per_second: Option<u64>,
    /// `cov` of the final `DONE` line: covered edges.
    coverage: Option<u64>,
    /// `corp` of the final `DONE` line: inputs in the corpus.
    corpus: Option<u64>,
    /// `stat::peak_rss_mb`: the most memory the process held, in MB.
    peak_rss_mb: Option<u64>,
    /// The longest one input took, in seconds, when libFuzzer reported a slow one.
    slowest_seconds: Option<u64>,
    /// Where libFuzzer wrote the input that crashed it (or the slowest one).
    artifact: Option<String>,
}

/// Runs the subcommand; `args` are those after `fuzz`.
pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let options = parse_args(args)?;
    let tools = root.join("target/fuzz-tools");
    ensure_cargo_fuzz(&tools)?;
    let fuzz_dir = root.join("fuzz");
    let build_dir = root.join("target/fuzz/build");

    let mut build = cargo_fuzz(&tools, &fuzz_dir, "build", &build_dir);
    if let [only] = options.targets.as_slice() {
        build.arg(only);
    }
    run_checked(build, "building the fuzz targets (cargo fuzz build)")?;

    let mut results = Vec::new();
    for target in &options.targets {
        let corpus = root.join("target/fuzz/corpus").join(target);
        let artifacts = root.join("target/fuzz/artifacts").join(target);
        for dir in [&corpus, &artifacts] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let seeds = fuzz_dir.join("seeds").join(target);
        eprintln!("fuzz: {target} for {} s", options.seconds);
        let mut command = cargo_fuzz(&tools, &fuzz_dir, "run", &build_dir);
        command
            .arg(target)
            .arg(&corpus)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={}", options.seconds))
            .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()));
        let (succeeded, stats) = run_libfuzzer(command, target)?;
        results.push((*target, succeeded, stats));
    }

    println!(
        "\n{:<16} {:>12} {:>8} {:>6} {:>7} {:>7} {:>8}  result",
        "target", "executions", "exec/s", "cov", "corpus", "rss MB", "slowest"
    );
    let mut crashes = Vec::new();
    for (target, succeeded, stats) in &results {
        let shown = |value: Option<u64>| value.map_or("?".to_owned(), |value| value.to_string());
        println!(
            "{target:<16} {:>12} {:>8} {:>6} {:>7} {:>7} {:>8}  {}",
            shown(stats.executions),
            shown(stats.executions_per_second),
            shown(stats.coverage),
            shown(stats.corpus),
            shown(stats.peak_rss_mb),
            stats
                .slowest_seconds
                .map_or("-".to_owned(), |seconds| format!("{seconds} s")),
            if *succeeded { "ok" } else { "CRASH" }
        );
        if !succeeded {
            let artifact = stats.artifact.as_deref().unwrap_or("(no input written)");
            crashes.push(format!(
                "{target}: {artifact}\n  reproduce: RUSTC_BOOTSTRAP=1 PATH={}/bin:$PATH cargo fuzz run --fuzz-dir fuzz -s none -a --target-dir target/fuzz/build {target} {artifact}",
                tools.display()
            ));
        }
    }
    anyhow::ensure!(
        crashes.is_empty(),
        "fuzzing found {} crash(es); make each a regression test (docs/fuzzing.md):\n{}",
        crashes.len(),
        crashes.join("\n")
    );
    Ok(())
}

fn parse_args(args: &[String]) -> anyhow::Result<Options> {
    let mut seconds = 60;
    let mut targets = TARGETS.to_vec();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .ok()
                    .filter(|&seconds| seconds > 0)
                    .with_context(|| {
                        format!("--seconds takes a positive whole number, not `{value}`")
                    })?;
            }
            "--target" => {
                let name = args.next().context("--target needs a target name")?;
                let target = TARGETS
                    .iter()
                    .find(|target| **target == name.as_str())
                    .with_context(|| {
                        format!(
                            "no fuzz target `{name}` (the targets: {})",
                            TARGETS.join(", ")
                        )
                    })?;
                targets = vec![*target];
            }
            other => anyhow::bail!(
                "unknown fuzz option `{other}` (expected --seconds N or --target NAME)"
            ),
        }
    }
    Ok(Options { seconds, targets })
}

/// Installs the pinned cargo-fuzz into `tools` unless it is there.
fn ensure_cargo_fuzz(tools: &Path) -> anyhow::Result<()> {
    if cargo_fuzz_binary(tools).exists() {
        return Ok(());
    }
    eprintln!(
        "fuzz: installing cargo-fuzz {CARGO_FUZZ_VERSION} into {}",
        tools.display()
    );
    let mut install = Command::new(cargo());
    install
        .args(["install", "--locked", "cargo-fuzz", "--version"])
        .arg(CARGO_FUZZ_VERSION)
        .arg("--root")
        .arg(tools)
        .env("CARGO_TARGET_DIR", tools.join("build"));
    run_checked(install, "installing cargo-fuzz")
}

fn cargo_fuzz_binary(tools: &Path) -> PathBuf {
    tools.join("bin/cargo-fuzz")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// `cargo fuzz SUBCOMMAND` with the options every call shares: our fuzz directory and build
/// directory, debug assertions on, no sanitizer, and the nightly flags allowed.
fn cargo_fuzz(tools: &Path, fuzz_dir: &Path, subcommand: &str, build_dir: &Path) -> Command {
    let mut command = Command::new(cargo_fuzz_binary(tools));
    // Run as cargo runs a subcommand: the first argument names it.
    command
        .arg("fuzz")
        .arg(subcommand)
        .arg("--fuzz-dir")
        .arg(fuzz_dir)
        .args(["--sanitizer", "none", "--debug-assertions", "--target-dir"])
        .arg(build_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO", cargo());
    command
}

/// Runs one libFuzzer run, passing its output through, and returns whether it ended without a
/// crash and what it reported.
fn run_libfuzzer(mut command: Command, target: &str) -> anyhow::Result<(bool, Stats)> {
    // libFuzzer writes everything to stderr.
    command.stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .with_context(|| format!("starting the {target} fuzz target"))?;
    let stderr = child.stderr.take().context("the fuzz target's stderr")?;
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.with_context(|| format!("reading the {target} fuzz target's output"))?;
        eprintln!("{line}");
        lines.push(line);
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for the {target} fuzz target"))?;
    Ok((status.success(), parse_stats(&lines)))
}

fn parse_stats(lines: &[String]) -> Stats {
    let mut stats = Stats::default();
    for line in lines {
        if let Some(value) = line.strip_prefix("stat::number_of_executed_units:") {
            stats.executions = value.trim().parse().ok();
        }
        if line.starts_with('#') && line.contains("DONE") {
            stats.executions_per_second = field(line, "exec/s:");
            stats.coverage = field(line, "cov:");
            stats.corpus = field(line, "corp:").or(stats.corpus);
        }
        if let Some(value) = line.strip_prefix("stat::peak_rss_mb:") {
            stats.peak_rss_mb = value.trim().parse().ok();
        }
        if let Some(rest) = line.strip_prefix("Slowest unit:") {
            stats.slowest_seconds = field(rest, "");
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            stats.artifact = Some(path.trim().to_owned());
        }
    }
    stats
}

/// The number after `label` in a libFuzzer status line (`corp: 12/345b` gives 12).
fn field(line: &str, label: &str) -> Option<u64> {
    let (_, after) = line.split_once(label)?;
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn options_default_to_every_target_for_a_minute() {
        let options = parse_args(&[]).unwrap();
        assert_eq!(options.seconds, 60);
        assert_eq!(options.targets, TARGETS);
        let options = parse_args(&strings(&["--seconds", "300", "--target", "uri_parse"])).unwrap();
        assert_eq!(
            options,
            Options {
                seconds: 300,
                targets: vec!["uri_parse"]
            }
        );
    }

    #[test]
    fn bad_options_are_refused_with_what_is_accepted() {
        let error = parse_args(&strings(&["--target", "nope"])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("template_render, statement_lexer")
        );
        assert!(parse_args(&strings(&["--seconds", "0"])).is_err());
        assert!(parse_args(&strings(&["--seconds"])).is_err());
        assert!(parse_args(&strings(&["--jobs", "2"])).is_err());
    }

    #[test]
    fn the_targets_are_those_of_the_fuzz_manifest() {
        let manifest = include_str!("../../fuzz/Cargo.toml");
        let declared: Vec<&str> = manifest
            .lines()
            .filter_map(|line| line.strip_prefix("name = \""))
            .filter_map(|rest| rest.strip_suffix('"'))
            .filter(|name| *name != "flyte-sql-fuzz")
            .collect();
        assert_eq!(declared, TARGETS);
    }

    #[test]
    fn final_stats_and_crash_artifacts_are_read() {
        let lines = strings(&[
            "#65536\tpulse  cov: 900 ft: 3000 corp: 200/9Kb exec/s: 21845 rss: 60Mb",
            "#654321\tDONE   cov: 1234 ft: 5678 corp: 321/45Kb lim: 4096 exec/s: 2181 rss: 97Mb",
            "Done 654321 runs in 300 second(s)",
            "stat::number_of_executed_units: 654321",
            "stat::average_exec_per_sec:     2181",
            "stat::peak_rss_mb:              97",
        ]);
        assert_eq!(
            parse_stats(&lines),
            Stats {
                executions: Some(654_321),
                executions_per_second: Some(2181),
                coverage: Some(1234),
                corpus: Some(321),
                peak_rss_mb: Some(97),
                slowest_seconds: None,
                artifact: None,
            }
        );
        let crashed = strings(&[
            "Slowest unit: 12 s:",
            "artifact_prefix='/r/'; Test unit written to /r/slow-unit-0a",
            "thread '<unnamed>' panicked at src/lib.rs:1:1:",
            "artifact_prefix='/r/target/fuzz/artifacts/uri_parse/'; Test unit written to /r/target/fuzz/artifacts/uri_parse/crash-da39a3ee",
            "stat::number_of_executed_units: 17",
        ]);
        let stats = parse_stats(&crashed);
        assert_eq!(
            stats.artifact.as_deref(),
            Some("/r/target/fuzz/artifacts/uri_parse/crash-da39a3ee")
        );
        assert_eq!(stats.executions, Some(17));
        assert_eq!(stats.slowest_seconds, Some(12));
    }
}
