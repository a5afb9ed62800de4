//! The `flyte-sql` binary's own smoke tests.
//!
//! Besides checking the command line's outer contract, this integration test makes
//! `cargo test --workspace` build the binary, which the end-to-end suite in `tests/` runs.

use std::process::Command;

fn flyte_sql() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flyte-sql"))
}

#[test]
fn help_lists_every_subcommand_and_exits_0() {
    let output = flyte_sql().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for subcommand in ["render", "run", "serialize", "package"] {
        assert!(
            help.contains(subcommand),
            "{subcommand} missing from:\n{help}"
        );
    }
}

#[test]
fn a_missing_subcommand_is_a_usage_error() {
    let output = flyte_sql().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Usage"));
}
