//! `flyte-sql run`: runs a task file (or a one-off query) locally, writes its result as Parquet in
//! the reference's layout, and prints a preview and a summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use flyte_sql_config::ConnectionConfig;
use flyte_sql_executor::{
    Executor, PoolOptions, Progress, RunOptions, RunOutput, RunReport, batch_to_text,
};
use flyte_sql_model::{InputValues, Output, SqlTask, TableKind, TableOutput, Value};
use flyte_sql_template::{Dialect, Statement};

use crate::UsageError;
use crate::terminal::{Lines, StdoutError, eprint_line, escape_controls, print_line, write_stderr};
use flyte_sql_storage::Location;

/// Run a task file, or a one-off query, against its database and write the result as Parquet.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  flyte-sql run examples/tracks.toml --input limit=3
  flyte-sql run --uri sqlite:///examples/chinook.db --query 'select * from tracks' --out out")]
pub(crate) struct RunArgs {
    /// The task file (TOML).
    #[arg(required_unless_present = "query", conflicts_with_all = ["uri", "query"])]
    task: Option<PathBuf>,
    /// An input value as NAME=VALUE, VALUE in proto3 JSON text form (5, 2.5, true,
    /// 2024-01-02T03:04:05Z, 93784.5s, or any string). Repeatable.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// The database URI of a one-off query (SQLAlchemy form, such as sqlite:///data.db).
    #[arg(long, requires = "query")]
    uri: Option<String>,
    /// A one-off query, run as written (no placeholders).
    #[arg(long, requires = "uri")]
    query: Option<String>,
    /// Where the output directory (<32 hex digits>/00000) is created: a local directory, a
    /// file:// URL or an object-store prefix (s3://, gs://, abfs://).
    #[arg(long, value_name = "DIR", default_value = "flyte-sql-output")]
    out: String,
    /// How many rows to preview on stdout (0 for none).
    #[arg(long, value_name = "N", default_value_t = 10)]
    preview: usize,
}

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<()> {
    // Checked before anything connects: an object-store URL must not become a local folder.
    let out = Location::parse(&args.out, "--out")?;
    let (connection, statement_source) = match (&args.task, &args.uri, &args.query) {
        (Some(path), _, _) => {
            let task = crate::task_file::load(path)?;
            let inputs = task_inputs(&task, &args.inputs)?;
            (
                task.connection().clone(),
                Source::Task(Box::new(task), inputs),
            )
        }
        (None, Some(uri), Some(query)) => {
            if !args.inputs.is_empty() {
                return Err(UsageError(
                    "--input needs a task file; a --query runs as written".to_owned(),
                )
                .into());
            }
            let connection = ConnectionConfig::new(uri)?;
            // Checked as a task's query is (one statement), before anything connects.
            let statement = Statement::from_sql(query, Dialect::from(connection.uri().backend()))?;
            (connection, Source::Query(statement))
        }
        _ => return Err(UsageError("give a task file, or --uri and --query".to_owned()).into()),
    };
    let options = crate::terminal::connect_options(&connection)?;
    let executor = Executor::connect(connection.uri(), options, &PoolOptions::single())?;
    let mut run_options = RunOptions::to(out);
    run_options.preview_rows = args.preview;
    let mut progress = TerminalProgress::new();
    let report = match &statement_source {
        Source::Task(task, inputs) => executor.run(task, inputs, &run_options, &mut progress)?,
        Source::Query(statement) => {
            let output = Output::Table(TableOutput {
                kind: TableKind::StructuredDataset,
                columns: None,
            });
            executor.run_statement(statement, &output, &run_options, &mut progress)?
        }
    };
    progress.clear();
    print_report(&report)?;
    Ok(())
}

enum Source {
    Task(Box<SqlTask>, InputValues),
    Query(Statement),
}

/// The task's input values from `NAME=VALUE` arguments, completed by the task's one rule
/// ([`SqlTask::complete_inputs`]: defaults, typed nulls, unknown names refused).
fn task_inputs(task: &SqlTask, arguments: &[String]) -> anyhow::Result<InputValues> {
    let mut values = InputValues::new();
    for argument in arguments {
        let (name, text) = argument
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--input `{argument}` is not NAME=VALUE")))?;
        // An unknown name keeps its text, for `complete_inputs` to refuse by name.
        let value = match task.input(name) {
            Some(input) => {
                Value::parse_text(input.ty, text).with_context(|| format!("--input {name}"))?
            }
            None => Value::String(text.to_owned()),
        };
        if values.insert(name.to_owned(), value).is_some() {
            return Err(UsageError(format!(
                "--input `{name}` is given twice: give each input once"
            ))
            .into());
        }
    }
    Ok(task.complete_inputs(values)?)
}

fn print_report(report: &RunReport) -> Result<(), StdoutError> {
    for warning in &report.warnings {
        eprint_line(&format!("warning: {warning}"));
    }
    let seconds = report.elapsed.as_secs_f64();
    match &report.output {
        RunOutput::Table(table) => {
            if let Some(preview) = &table.preview {
                let header: Vec<String> = table
                    .columns
                    .iter()
                    .map(|column| format!("{} ({})", column.name, column.ty))
                    .collect();
                print_table(&header, &batch_to_text(preview))?;
                if table.rows > preview.num_rows() as u64 {
                    print_line(&format!(
                        "... {} more rows",
                        table.rows - preview.num_rows() as u64
                    ))?;
                }
            }
            print_line(&format!(
                "{} rows, {} bytes of Parquet in {:.3} s -> {}",
                table.rows, table.location.bytes, seconds, table.location.directory
            ))
        }
        RunOutput::Statement { rows_affected } => print_line(&format!(
            "{rows_affected} rows affected in {seconds:.3} s (committed)"
        )),
    }
}

/// Prints rows as an aligned text table, cells cut at 40 characters (control characters and
/// line breaks escaped first, so that every row stays on its line).
fn print_table(header: &[String], rows: &[Vec<String>]) -> Result<(), StdoutError> {
    let cut = |text: &str| -> String {
        let text = escape_controls(text, Lines::Escape);
        let mut cell: String = text.chars().take(40).collect();
        if cell.len() < text.len() {
            cell.push('…');
        }
        cell
    };
    let header: Vec<String> = header
        .iter()
        .map(|name| escape_controls(name, Lines::Escape).into_owned())
        .collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| cut(cell)).collect())
        .collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(index, name)| {
            rows.iter()
                .filter_map(|row| row.get(index))
                .map(|cell| cell.chars().count())
                .chain([name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    print_line(&line(&header))?;
    print_line(
        &widths
            .iter()
            .map(|width| "-".repeat(*width))
            .collect::<Vec<_>>()
            .join("-+-"),
    )?;
    for row in &rows {
        print_line(&line(row))?;
    }
    Ok(())
}

/// A one-line progress indicator on stderr, shown only when stderr is a terminal.
struct TerminalProgress {
    enabled: bool,
    started: Instant,
    shown: bool,
}

impl TerminalProgress {
    fn new() -> TerminalProgress {
        TerminalProgress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            shown: false,
        }
    }

    fn clear(&mut self) {
        if self.shown {
            write_stderr(b"\r\x1b[2K");
        }
    }
}

impl Progress for TerminalProgress {
    fn rows(&mut self, total: u64) {
        if !self.enabled {
            return;
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            total as f64 / seconds
        } else {
            0.0
        };
        write_stderr(format!("\r\x1b[2K{total} rows ({rate:.0} rows/s)").as_bytes());
        self.shown = true;
    }
}
