//! `cargo xtask`: the project's automation, written in Rust so it needs nothing but cargo.
//!
//! Subcommands:
//! - `tidy`: repository hygiene checks (also run as a `#[test]`).
//! - `codegen [--check]`: regenerate (or verify) the committed prost code of flyte-sql-idl.
//! - `conformance`: the Python oracle (real flyteidl in a virtualenv) checks everything we emit.
//! - `image-check`: the executor image's final stage, proven in a debootstrapped root file system.
//! - `bench`: flyte-sql side by side with its peers (connectorx, DuckDB, the Python plugin) and
//!   the floor, on SQLite, PostgreSQL and MariaDB.
//! - `fuzz [--seconds N] [--target NAME]`: the cargo-fuzz targets of `fuzz/`, N seconds each.

// xtask is a command-line tool: it reports on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod codegen;
mod conformance;
mod fuzz;
mod image;
mod tidy;

use std::path::{Path, PathBuf};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        print_help();
        return Ok(());
    };
    match command.as_str() {
        "tidy" => tidy::run(&project_root()),
        "codegen" => match args.get(1).map(String::as_str) {
            None => codegen::run(&project_root(), codegen::Mode::Write),
            Some("--check") => codegen::run(&project_root(), codegen::Mode::Check),
            Some(other) => anyhow::bail!("unknown codegen option `{other}` (expected --check)"),
        },
        "conformance" => conformance::run(&project_root()),
        "image-check" => image::run(&project_root()),
        "bench" => bench::run(&project_root()),
        "fuzz" => fuzz::run(&project_root(), &args[1..]),
        "--help" | "-h" | "help" => {
            print_help();
            Ok(())
        }
        other => {
            print_help();
            anyhow::bail!("unknown xtask subcommand `{other}`")
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <command>\n\ncommands:\n  tidy      check module docs, stubs and the allowed crate dependency edges\n  codegen   regenerate crates/flyte-sql-idl/src/generated (--check: fail if stale)\n  conformance  decode everything flyte-sql emits with Python's flyteidl and compare with the goldens\n  image-check  run the release binary in a root file system with exactly the Dockerfile's final-stage packages (needs root)\n  bench     flyte-sql side by side with connectorx, DuckDB, the Python plugin and the floor (--sizes 100k,1m,10m --rounds 5 --backends sqlite,postgres,mariadb, or --quick)\n  fuzz      run each fuzz target of fuzz/ for --seconds N (default 60; --target NAME for one) and report executions"
    );
}

/// The workspace root: the parent of this crate's manifest directory.
/// Runs `command`, failing with `what` when it cannot start or exits unsuccessfully.
pub(crate) fn run_checked(mut command: std::process::Command, what: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let status = command
        .status()
        .with_context(|| format!("starting {what}"))?;
    anyhow::ensure!(status.success(), "{what} failed ({status})");
    Ok(())
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
