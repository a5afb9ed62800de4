//! The executor: a connection pool for one database and the run of a task against it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use flyte_sql_config::{Backend, ConnectOptions, DatabaseUri};
use flyte_sql_model::{InputValues, Output, OutputColumn, SqlTask};
use flyte_sql_storage::Location;
use flyte_sql_template::{Dialect, Statement};

use crate::connection::{AnyConnection, ConnectSettings, ConnectionManager, LastError};
use crate::error::{Error, Result};
use crate::output::{OutputLocation, ParquetOptions};
use crate::stream::{Described, Progress, RowSink, SinkSettings};
use crate::types::Column;

/// How the executor's connection pool is sized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Connections at most.
    pub max_connections: u32,
    /// How long to wait for a free connection.
    pub checkout_timeout: Duration,
}

impl PoolOptions {
    /// One connection, as a single task run needs.
    pub fn single() -> PoolOptions {
        PoolOptions {
            max_connections: 1,
            checkout_timeout: Duration::from_secs(30),
        }
    }
}

/// How one run writes its result.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The directory (or object-store prefix) under which the output directory
    /// (`<32 hex>/00000`) is created: the raw output prefix.
    pub out: Location,
    /// Rows per Arrow batch: the unit of memory while streaming.
    pub batch_rows: usize,
    /// How Parquet is written.
    pub parquet: ParquetOptions,
    /// How many of the first rows to keep in the report for a preview (0 for none).
    pub preview_rows: usize,
}

impl RunOptions {
    /// Output under the local directory `out`; see [`RunOptions::to`].
    pub fn new(out: PathBuf) -> RunOptions {
        RunOptions::to(Location::local(out))
    }

    /// Output under `out`, in batches of 8192 rows, Parquet as the reference writes it, no
    /// preview.
    pub fn to(out: Location) -> RunOptions {
        RunOptions {
            out,
            batch_rows: 8192,
            parquet: ParquetOptions::reference_compatible(),
            preview_rows: 0,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The table written, or the rows a statement changed.
    pub output: RunOutput,
    /// Wall time from checkout of the connection to the published output.
    pub elapsed: Duration,
    /// Warnings from rendering the template (compatible mode's spliced strings).
    pub warnings: Vec<String>,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub enum RunOutput {
    /// A query's result, written to Parquet.
    Table(TableResult),
    /// A statement without output, committed.
    Statement {
        /// Rows inserted, updated or deleted, as the database reports them.
        rows_affected: u64,
    },
}

/// A result written to Parquet.
#[derive(Debug, Clone)]
pub struct TableResult {
    /// Where it was written.
    pub location: OutputLocation,
    /// Its columns, as written.
    pub columns: Vec<Column>,
    /// Its row count.
    pub rows: u64,
    /// The first rows, when a preview was asked for.
    pub preview: Option<RecordBatch>,
}

/// Runs tasks against one database through an r2d2 pool.
pub struct Executor {
    pool: r2d2::Pool<ConnectionManager>,
    /// The pool's last connect or check error, reported instead of its timeout.
    last_error: LastError,
    backend: Backend,
    settings: ConnectSettings,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("uri", &self.settings.redacted_uri)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// Connects to the database of `uri` with `options` (the URI's parts, connect args and
    /// resolved secrets, from `ConnectionConfig::resolved_options`).
    ///
    /// The first connection is opened at once, so a wrong URI, password or server fails here
    /// with the database's own message.
    pub fn connect(
        uri: &DatabaseUri,
        options: ConnectOptions,
        pool: &PoolOptions,
    ) -> Result<Executor> {
        let settings = ConnectSettings::new(uri, options);
        let started = Instant::now();
        let first = settings.establish()?;
        tracing::debug!(uri = %settings.redacted_uri, elapsed = ?started.elapsed(), "connected");
        let max_connections = match &first {
            // Every connection to `sqlite://` opens its own in-memory database.
            #[cfg(feature = "sqlite")]
            AnyConnection::Sqlite(_) => 1,
            #[allow(unreachable_patterns)]
            _ => pool.max_connections.max(1),
        };
        let manager = ConnectionManager::new(settings.clone(), first);
        let last_error = manager.last_error();
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(0))
            .connection_timeout(pool.checkout_timeout)
            .build_unchecked(manager);
        Ok(Executor {
            pool,
            last_error,
            backend: uri.backend(),
            settings,
        })
    }

    /// The database family.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The template dialect of the database.
    pub fn dialect(&self) -> Dialect {
        Dialect::from(self.backend)
    }

    /// Renders the task's query with `inputs` and runs it: a query with output is streamed to
    /// Parquet under `options.out`; a statement without output runs in a transaction.
    ///
    /// Rendering makes the definition-time checks of
    /// [`check_task`](flyte_sql_template::check_task) first (one statement, placeholders only
    /// where binds can go), so a task that did not pass them fails here before a connection is
    /// taken from the pool.
    pub fn run(
        &self,
        task: &SqlTask,
        inputs: &InputValues,
        options: &RunOptions,
        progress: &mut dyn Progress,
    ) -> Result<RunReport> {
        let rendered =
            flyte_sql_template::render(task.query(), task.interpolation(), self.dialect(), inputs)?;
        let warnings: Vec<String> = rendered.warnings.iter().map(ToString::to_string).collect();
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let mut report =
            self.run_statement(&rendered.statement, task.output(), options, progress)?;
        report.warnings = warnings;
        Ok(report)
    }

    /// Runs an already rendered statement with the given output (from `render`, or
    /// [`Statement::from_sql`] for SQL without parameters).
    pub fn run_statement(
        &self,
        statement: &Statement,
        output: &Output,
        options: &RunOptions,
        progress: &mut dyn Progress,
    ) -> Result<RunReport> {
        statement.ready_to_send()?;
        let mut connection = self.pool.get().map_err(|source| {
            // The database's own reason when there is one: the pool's timeout would hide it.
            self.last_error
                .lock()
                .ok()
                .and_then(|mut last| last.take())
                .unwrap_or(Error::Pool { source })
        })?;
        let started = Instant::now();
        tracing::info!(
            backend = self.backend.name(),
            binds = statement.binds.len(),
            "running query"
        );
        let output = match output {
            Output::None => RunOutput::Statement {
                rows_affected: self.execute(&mut connection, statement)?,
            },
            Output::Table(table) => RunOutput::Table(self.extract(
                &mut connection,
                statement,
                table.columns.as_deref(),
                options,
                progress,
                started,
            )?),
        };
        Ok(RunReport {
            output,
            elapsed: started.elapsed(),
            warnings: Vec::new(),
        })
    }

    fn execute(&self, connection: &mut AnyConnection, statement: &Statement) -> Result<u64> {
        match connection {
            #[cfg(feature = "sqlite")]
            AnyConnection::Sqlite(connection) => {
                let isolation_level = match &self.settings.options {
                    ConnectOptions::Sqlite(options) => options.isolation_level,
                    _ => flyte_sql_config::SqliteIsolationLevel::Deferred,
                };
                crate::sqlite::execute(connection, statement, isolation_level)
            }
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(connection) => crate::postgres::execute(connection, statement),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(session) => crate::mysql::execute(session, statement),
        }
    }

    fn extract(
        &self,
        connection: &mut AnyConnection,
        statement: &Statement,
        declared: Option<&[OutputColumn]>,
        options: &RunOptions,
        progress: &mut dyn Progress,
        started: Instant,
    ) -> Result<TableResult> {
        let described: Option<Vec<Described>> = match connection {
            #[cfg(feature = "sqlite")]
            AnyConnection::Sqlite(connection) => crate::sqlite::describe(connection, statement)?,
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(connection) => crate::postgres::describe(connection, statement),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(session) => crate::mysql::describe(session, statement),
        };
        tracing::debug!(?described, "describe step");
        let batch_rows = options.batch_rows.max(1);
        let settings = SinkSettings {
            out: options.out.clone(),
            parquet: options.parquet.clone(),
            batch_rows,
            preview_rows: options.preview_rows,
            deadline: self
                .settings
                .statement_timeout()
                .map(|timeout| (started, timeout)),
        };
        let sink = RowSink::new(settings, declared, described)?;
        let mut on_row = |rows: u64| {
            if rows.is_multiple_of(batch_rows as u64) {
                progress.rows(rows);
            }
        };
        let (sink, loaded) = match connection {
            #[cfg(feature = "sqlite")]
            AnyConnection::Sqlite(connection) => {
                crate::sqlite::stream(connection, statement, sink, &mut on_row)
            }
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(connection) => {
                crate::postgres::stream(connection, statement, sink, &mut on_row)
            }
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(session) => {
                crate::mysql::stream(session, statement, sink, &mut on_row)
            }
        };
        // On failure the sink is dropped here, and with it the partial output.
        loaded?;
        let streamed = sink.finish()?;
        progress.rows(streamed.rows);
        tracing::info!(
            rows = streamed.rows,
            bytes = streamed.location.bytes,
            "result written"
        );
        Ok(TableResult {
            location: streamed.location,
            columns: streamed.columns,
            rows: streamed.rows,
            preview: streamed.preview,
        })
    }
}
