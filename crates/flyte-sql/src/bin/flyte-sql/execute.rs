//! `flyte-sql execute` and `flyte-sql pyflyte-execute`: the Flyte container-task entrypoint.
//!
//! Flyte (flytepropeller) starts the task's container with the template's args, its placeholders
//! filled in: where the inputs (`inputs.pb`, a `LiteralMap`) and the `TaskTemplate` (`task.pb`)
//! are, where to write outputs (`<output prefix>/outputs.pb`) and raw data (Parquet under the raw
//! output prefix). After the pod ends it reads `<output prefix>/error.pb` first and, when there is
//! none, `outputs.pb`. So the order here is: load the task and inputs, run, write the Parquet
//! (published by the executor only when complete), then `outputs.pb` last, atomically. Any failure
//! writes `error.pb` instead (never both, never half a file), with our classification of the fault,
//! removes the Parquet of the run, and exits 0 as `pyflyte-execute` does, so that Flyte reads the
//! document (1 with `FLYTE_FAIL_ON_ERROR=true`).
//!
//! `pyflyte-execute` takes the Python plugin's argv unchanged (also when the binary is invoked
//! under that name), so a SQLAlchemyTask defined in Python runs here by changing only its image.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser};
use flyte_sql_executor::{Executor, NoProgress, PoolOptions, RunOptions, RunOutput};
use flyte_sql_idl::{
    ContainerFailure, Message, Recoverability, decode_literal_map, decode_task_template,
    error_document, input_values, output_literal_map, task_from_template,
};
use flyte_sql_model::{Output, SqlTask};

use crate::UsageError;
use crate::fault::{TaskLoadError, classify};
use flyte_sql_storage::Location;

/// The resolver flytekit names for tasks whose template is all they need (`SQLAlchemyTask`).
pub(crate) const TEMPLATE_RESOLVER: &str =
    "flytekit.core.python_customized_container_task.default_task_template_resolver";

/// The executor class the Python plugin's templates name.
pub(crate) const SQLALCHEMY_EXECUTOR: &str =
    "flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor";

/// The placeholder Flyte leaves when a task gets no raw output prefix; flytekit treats it as absent.
const UNFILLED_RAW_PREFIX: &str = "{{.rawOutputDataPrefix}}";

/// The paths Flyte passes to a container task.
#[derive(Debug, Args)]
pub(crate) struct EntrypointPaths {
    /// The task's inputs: a flyteidl LiteralMap (`inputs.pb`); an empty file is no inputs.
    #[arg(long, value_name = "PATH")]
    inputs: String,
    /// Where `outputs.pb` (or, on failure, `error.pb`) is written.
    #[arg(long = "output-prefix", value_name = "PREFIX")]
    output_prefix: String,
    /// Under which the result's Parquet directory (<32 hex digits>/00000, 00001, ...) is created.
    #[arg(long = "raw-output-data-prefix", value_name = "PREFIX")]
    raw_output_data_prefix: Option<String>,
    /// Accepted for Flyte's contract; SQL tasks write no checkpoints.
    #[arg(long = "checkpoint-path", value_name = "PATH")]
    checkpoint_path: Option<String>,
    /// Accepted for Flyte's contract; SQL tasks resume from no checkpoint.
    #[arg(long = "prev-checkpoint", value_name = "PATH")]
    prev_checkpoint: Option<String>,
}

/// Run a task as a Flyte container task: read its TaskTemplate and inputs, write outputs.pb or error.pb.
#[derive(Debug, Args)]
#[command(
    after_help = "The container args of a task serialized with runtime = \"native\":
  flyte-sql execute --inputs {{.input}} --output-prefix {{.outputPrefix}} \\
    --raw-output-data-prefix {{.rawOutputDataPrefix}} -- {{.taskTemplatePath}}

Exit status: 0 when outputs.pb or error.pb was written (Flyte reads error.pb), 1 when
FLYTE_FAIL_ON_ERROR=true and the task failed or when error.pb itself could not be written,
2 for a command line that names no usable output prefix."
)]
pub(crate) struct ExecuteArgs {
    #[command(flatten)]
    paths: EntrypointPaths,
    /// The TaskTemplate (`task.pb`), then optionally the executor the Python plugin names
    /// (flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor).
    #[arg(last = true, required = true, num_args = 1..=2, value_name = "TEMPLATE_PATH [EXECUTOR]")]
    loader_args: Vec<String>,
}

/// The Python plugin's entrypoint, argv unchanged: run a SQLAlchemyTask that flytekit serialized.
#[derive(Debug, Args)]
#[command(
    after_help = "The container args of a SQLAlchemyTask serialized by flytekit (change only the image):
  pyflyte-execute --inputs {{.input}} --output-prefix {{.outputPrefix}} \\
    --raw-output-data-prefix {{.rawOutputDataPrefix}} \\
    --resolver flytekit.core.python_customized_container_task.default_task_template_resolver \\
    -- {{.taskTemplatePath}} flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor

The binary also answers to the name pyflyte-execute (a symlink), so the args work as they are."
)]
pub(crate) struct PyflyteExecuteArgs {
    #[command(flatten)]
    paths: EntrypointPaths,
    /// How the task is loaded; SQLAlchemy tasks use the template resolver above.
    #[arg(long, value_name = "RESOLVER")]
    resolver: Option<String>,
    /// Accepted for flytekit's contract; SQL tasks have no code to distribute.
    #[arg(long = "dynamic-addl-distro", value_name = "URL")]
    dynamic_addl_distro: Option<String>,
    /// Accepted for flytekit's contract; SQL tasks have no code to distribute.
    #[arg(long = "dynamic-dest-dir", value_name = "DIR")]
    dynamic_dest_dir: Option<String>,
    /// Check the command line and exit without running anything, as flytekit's `--test`.
    #[arg(long)]
    test: bool,
    /// The resolver's arguments: the TaskTemplate path and the executor class.
    #[arg(last = true, value_name = "RESOLVER_ARGS")]
    resolver_args: Vec<String>,
}

/// `pyflyte-execute ...` when the binary is invoked under that name.
#[derive(Debug, Parser)]
#[command(
    name = "pyflyte-execute",
    version,
    about = "flyte-sql's drop-in for flytekit's pyflyte-execute: runs SQLAlchemy tasks"
)]
pub(crate) struct PyflyteExecuteCommand {
    #[command(flatten)]
    pub(crate) args: PyflyteExecuteArgs,
}

/// Runs `flyte-sql execute`.
pub(crate) fn execute(args: &ExecuteArgs) -> ExitCode {
    let load = || -> anyhow::Result<String> {
        match args.loader_args.as_slice() {
            [template] => Ok(template.clone()),
            [template, executor] => {
                check_executor(executor)?;
                Ok(template.clone())
            }
            _ => Err(UsageError("give the TaskTemplate path after `--`".to_owned()).into()),
        }
    };
    entrypoint(&args.paths, load)
}

/// Runs `flyte-sql pyflyte-execute` (or the binary invoked as `pyflyte-execute`).
pub(crate) fn pyflyte_execute(args: &PyflyteExecuteArgs) -> ExitCode {
    if args.test {
        tracing::info!(
            resolver = args.resolver.as_deref(),
            resolver_args = ?args.resolver_args,
            "--test: not running the task"
        );
        return ExitCode::SUCCESS;
    }
    if args.dynamic_addl_distro.is_some() || args.dynamic_dest_dir.is_some() {
        tracing::debug!(
            "--dynamic-addl-distro and --dynamic-dest-dir are ignored: SQL tasks ship no code"
        );
    }
    let load = || -> anyhow::Result<String> {
        match args.resolver.as_deref() {
            Some(TEMPLATE_RESOLVER) => {}
            Some(other) => {
                return Err(TaskLoadError(format!(
                    "the task resolver `{other}` is not one flyte-sql implements: SQLAlchemy tasks are loaded by {TEMPLATE_RESOLVER}"
                ))
                .into());
            }
            None => {
                return Err(TaskLoadError(format!(
                    "no --resolver: flyte-sql runs SQLAlchemy tasks, which flytekit serializes with --resolver {TEMPLATE_RESOLVER}"
                ))
                .into());
            }
        }
        match args.resolver_args.as_slice() {
            [template, executor] => {
                check_executor(executor)?;
                Ok(template.clone())
            }
            other => Err(TaskLoadError(format!(
                "the template resolver takes two arguments after `--`, the TaskTemplate path and {SQLALCHEMY_EXECUTOR}, but got {}",
                other.len()
            ))
            .into()),
        }
    };
    entrypoint(&args.paths, load)
}

fn check_executor(executor: &str) -> anyhow::Result<()> {
    if executor == SQLALCHEMY_EXECUTOR {
        Ok(())
    } else {
        Err(TaskLoadError(format!(
            "the task executor `{executor}` is not one flyte-sql implements: it runs {SQLALCHEMY_EXECUTOR} tasks"
        ))
        .into())
    }
}

/// Loads and runs the task, and writes outputs.pb or error.pb under the output prefix.
fn entrypoint(
    paths: &EntrypointPaths,
    template_path: impl FnOnce() -> anyhow::Result<String>,
) -> ExitCode {
    let output_prefix = match Location::parse(&paths.output_prefix, "--output-prefix") {
        Ok(prefix) => prefix,
        Err(error) => {
            crate::terminal::eprint_line(&format!("error: {error}"));
            return ExitCode::from(2);
        }
    };
    if paths.checkpoint_path.is_some() || paths.prev_checkpoint.is_some() {
        tracing::debug!("checkpoint paths are ignored: SQL tasks do not checkpoint");
    }
    let result =
        template_path().and_then(|template_path| run_task(paths, &template_path, &output_prefix));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report_failure(&error, &output_prefix),
    }
}

fn run_task(
    paths: &EntrypointPaths,
    template_path: &str,
    output_prefix: &Location,
) -> anyhow::Result<()> {
    let task = load_task(template_path)?;
    let inputs_location = Location::parse(&paths.inputs, "--inputs")?;
    let inputs_bytes = inputs_location
        .read()?
        .ok_or_else(|| anyhow::anyhow!("there is no inputs file at {inputs_location}"))?;
    let literals = decode_literal_map(&inputs_bytes)
        .with_context(|| format!("reading the inputs {inputs_location}"))?;
    let inputs = input_values(&task, &literals)?;

    let raw_prefix = match paths.raw_output_data_prefix.as_deref() {
        None | Some(UNFILLED_RAW_PREFIX) => None,
        Some(prefix) => Some(Location::parse(prefix, "--raw-output-data-prefix")?),
    };
    let raw_prefix = match (task.output(), raw_prefix) {
        (Output::Table(_), None) => {
            return Err(UsageError(
                "the task has an output but no --raw-output-data-prefix says where to write it"
                    .to_owned(),
            )
            .into());
        }
        (_, raw_prefix) => raw_prefix,
    };

    let config = task.connection();
    let options = crate::terminal::connect_options(config)?;
    tracing::info!(task = task.name(), uri = %config.uri(), "connecting");
    let executor = Executor::connect(config.uri(), options, &PoolOptions::single())?;

    // A task without output writes no raw data; its run options need a location all the same.
    let out = raw_prefix.unwrap_or_else(|| Location::local("."));
    let report = executor.run(&task, &inputs, &RunOptions::to(out), &mut NoProgress)?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    let (uri, published) = match &report.output {
        RunOutput::Table(table) => {
            let published = table.location.directory.clone();
            tracing::info!(rows = table.rows, uri = published.uri(), "result written");
            (published.uri().to_owned(), Some(published))
        }
        RunOutput::Statement { rows_affected } => {
            tracing::info!(rows_affected, "statement committed");
            (String::new(), None)
        }
    };
    let outputs = output_literal_map(&task, &uri).encode_to_vec();
    if let Err(error) = output_prefix.join("outputs.pb").write_atomically(&outputs) {
        if let Some(published) = &published
            && let Err(cleanup) = published.remove_all()
        {
            tracing::warn!(%cleanup, "cannot remove the result of the failed run");
        }
        return Err(error.into());
    }
    Ok(())
}

/// Reads the TaskTemplate at `path` into a task. A template that is not there, not a TaskTemplate
/// or not a SQL task is the user's fault (as the reference reports it); a store that fails to
/// answer is the system's.
fn load_task(path: &str) -> anyhow::Result<SqlTask> {
    let location = Location::parse(path, "the TaskTemplate path")?;
    let bytes = location
        .read()?
        .ok_or_else(|| TaskLoadError(format!("there is no TaskTemplate at {location}")))?;
    let template = decode_task_template(&bytes)
        .with_context(|| format!("reading the TaskTemplate {location}"))?;
    let task = task_from_template(&template)
        .with_context(|| format!("reading the TaskTemplate {location}"))?;
    Ok(task)
}

/// Writes the error document for `error` and returns the process's exit status.
fn report_failure(error: &anyhow::Error, output_prefix: &Location) -> ExitCode {
    let fault = classify(error);
    let message = crate::terminal::redacted(&format!("{error:#}")).into_owned();
    crate::terminal::eprint_line(&format!("error: {message}"));
    let (file_name, worker) = error_file_name_and_worker();
    let failure = ContainerFailure {
        code: fault.code(),
        message,
        recoverability: if fault.recoverable {
            Recoverability::Recoverable
        } else {
            Recoverability::NonRecoverable
        },
        origin: fault.kind,
        timestamp: chrono::Utc::now(),
        worker,
    };
    let document = error_document(&failure).encode_to_vec();
    if let Err(write_error) = output_prefix.join(&file_name).write_atomically(&document) {
        crate::terminal::eprint_line(&format!(
            "error: cannot write the error document: {:#}",
            anyhow::Error::from(write_error)
        ));
        return ExitCode::from(1);
    }
    if fail_on_error() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `error.pb`, or with a distributed error strategy (`FLYTE_INTERNAL_DIST_ERROR_STRATEGY` or
/// `_F_DES` set) `error-<32 hex>.pb` and the worker's name (`FLYTE_INTERNAL_WORKER_NAME` or
/// `_F_WN`), as flytekit names them so that propeller can pick the earliest of several workers.
fn error_file_name_and_worker() -> (String, String) {
    let env = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    };
    if env(["FLYTE_INTERNAL_DIST_ERROR_STRATEGY", "_F_DES"]).is_none() {
        return ("error.pb".to_owned(), String::new());
    }
    let worker = env(["FLYTE_INTERNAL_WORKER_NAME", "_F_WN"]).unwrap_or_default();
    (
        format!("error-{}.pb", flyte_sql_executor::random_hex()),
        worker,
    )
}

/// Whether `FLYTE_FAIL_ON_ERROR` asks for a failing exit status after error.pb (flytekit: `true`,
/// any case).
fn fail_on_error() -> bool {
    std::env::var("FLYTE_FAIL_ON_ERROR")
        .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"))
}
