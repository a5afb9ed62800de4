//! The `flyte-sql` command: render, run, serialize and package SQL tasks, and execute them as a
//! Flyte container task.
//!
//! Every subcommand lives in its own module; this file parses the command line and maps errors to
//! exit codes in one place: 0 success, 1 failure while running, 2 bad input (usage, task file,
//! values).

// A command-line tool reports on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod package;
mod render;
mod run;
mod serialize;
mod task_file;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Flyte SQL tasks: render, run, serialize and package them.
#[derive(Debug, Parser)]
#[command(name = "flyte-sql", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Render(render::RenderArgs),
    Run(run::RunArgs),
    Serialize(serialize::SerializeArgs),
    Package(package::PackageArgs),
}

/// An error the user can fix by changing the command line or its inputs (exit code 2).
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Sends the libraries' tracing events to stderr: warnings by default, more with
/// `FLYTE_SQL_LOG=info|debug|trace` (or less with `error`).
fn init_logging() {
    let level = match std::env::var("FLYTE_SQL_LOG").as_deref().map(str::trim) {
        Ok("error") => tracing_subscriber::filter::LevelFilter::ERROR,
        Ok("info") => tracing_subscriber::filter::LevelFilter::INFO,
        Ok("debug") => tracing_subscriber::filter::LevelFilter::DEBUG,
        Ok("trace") => tracing_subscriber::filter::LevelFilter::TRACE,
        Ok("off") => tracing_subscriber::filter::LevelFilter::OFF,
        _ => tracing_subscriber::filter::LevelFilter::WARN,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

/// Whether anything in the error's chain says the user's input is at fault.
fn is_user_fault(error: &anyhow::Error) -> bool {
    use flyte_sql_config::ErrorKind;
    error.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause
                .downcast_ref::<flyte_sql_model::Error>()
                .is_some_and(|error| error.kind() == ErrorKind::User)
            || cause
                .downcast_ref::<flyte_sql_template::Error>()
                .is_some_and(|error| error.kind() == ErrorKind::User)
            || cause
                .downcast_ref::<flyte_sql_config::Error>()
                .is_some_and(|error| error.kind() == ErrorKind::User)
            || cause
                .downcast_ref::<flyte_sql_executor::Error>()
                .is_some_and(|error| error.kind() == ErrorKind::User)
            || cause
                .downcast_ref::<flyte_sql_idl::Error>()
                .is_some_and(|error| error.kind() == ErrorKind::User)
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout with success, everything else to stderr.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging();
    let result = match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Serialize(args) => serialize::run(&args),
        Command::Package(args) => package::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            if is_user_fault(&error) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
