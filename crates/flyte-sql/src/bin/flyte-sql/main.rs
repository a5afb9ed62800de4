//! The `flyte-sql` command: render, run, serialize and package SQL tasks, and execute them as a
//! Flyte container task.
//!
//! Every subcommand lives in its own module; this file parses the command line and maps errors to
//! exit codes in one place, through the one classification of `fault.rs`: 0 success, 1 failure
//! of the system while running, 2 bad input (usage, task file, values, SQL). `execute` and
//! `pyflyte-execute` report failures as Flyte error documents instead (see `execute.rs`).
//! Everything printed goes through `terminal.rs`; SIGINT and SIGTERM are handled in `signals.rs`.

mod execute;
mod fault;
mod package;
mod render;
mod run;
mod serialize;
mod signals;
mod task_file;
mod terminal;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Flyte SQL tasks: render, run, serialize and package them, and run them as Flyte container tasks.
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
    Execute(execute::ExecuteArgs),
    PyflyteExecute(execute::PyflyteExecuteArgs),
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
        // Plain text, control characters escaped, write errors ignored (see terminal.rs).
        .with_writer(|| terminal::LogWriter)
        .with_ansi(false)
        .with_target(false)
        .init();
}

/// Parses the command line, or exits as clap says: help and version on stdout with success,
/// usage errors on stderr with 2. Help that cannot be printed is reported like any other
/// output (see [`report`]).
fn parse_or_exit<P: Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|error| {
        let text = error.render().to_string();
        let text = text.trim_end();
        if error.use_stderr() {
            terminal::eprint_line(text);
            ExitCode::from(2)
        } else {
            match terminal::print_line(text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => report(&error.into()),
            }
        }
    })
}

/// The exit status for a failed command, after printing its error on stderr: 2 for the user's
/// faults, 1 for the system's, 0 (and no message) when only the reader of standard output went
/// away, since every command prints after its work is done.
fn report(error: &anyhow::Error) -> ExitCode {
    let closed_stdout = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<terminal::StdoutError>())
        .any(terminal::StdoutError::is_broken_pipe);
    if closed_stdout {
        return ExitCode::SUCCESS;
    }
    terminal::eprint_line(&format!("error: {error:#}"));
    match fault::classify(error).kind {
        flyte_sql_config::ErrorKind::User => ExitCode::from(2),
        flyte_sql_config::ErrorKind::System => ExitCode::from(1),
    }
}

fn main() -> ExitCode {
    signals::install();
    // Invoked as `pyflyte-execute` (a symlink in the executor image), the binary takes the Python
    // plugin's container args unchanged.
    let invoked_as = std::env::args_os()
        .next()
        .and_then(|arg0| Path::new(&arg0).file_stem().map(|stem| stem.to_owned()));
    if invoked_as.is_some_and(|stem| stem == "pyflyte-execute") {
        return match parse_or_exit::<execute::PyflyteExecuteCommand>() {
            Ok(command) => {
                init_logging();
                execute::pyflyte_execute(&command.args)
            }
            Err(code) => code,
        };
    }
    let cli = match parse_or_exit::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_logging();
    let result = match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Serialize(args) => serialize::run(&args),
        Command::Package(args) => package::run(&args),
        Command::Execute(args) => return execute::execute(&args),
        Command::PyflyteExecute(args) => return execute::pyflyte_execute(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}
