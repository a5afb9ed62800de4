//! Peak memory (and throughput) of extracting 1M rows to Parquet, per backend.
//!
//! `cargo bench -p flyte-sql-executor --bench memory [--features postgres] [-- ROWS]`
//!
//! The parent creates the data, then runs the extraction in a child process (this same binary
//! with `--extract`), which reports its own peak resident set size (`VmHWM` from
//! `/proc/self/status`) when it is done. The check fails when the peak exceeds the bound, the
//! same at any row count: memory must not grow with the result. SQLite always runs; PostgreSQL
//! when `FLYTE_SQL_TEST_POSTGRES` is set (mandatory with `FLYTE_SQL_TEST_REQUIRE_ALL=1`); SQLite
//! to an object store when `FLYTE_SQL_BENCH_STORE_PREFIX` names one (such as `s3://bucket/bench`,
//! with the store's credentials in the environment; `.ci/run` points it at a moto server);
//! MariaDB when `FLYTE_SQL_TEST_MYSQL` is set and the `mysql` feature is on (mandatory with
//! `FLYTE_SQL_TEST_REQUIRE_ALL=1`; its rows come from MariaDB's `seq_1_to_N` sequence tables).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use flyte_sql_config::ConnectionConfig;
use flyte_sql_executor::{
    Executor, NoProgress, PoolOptions, RunOptions, RunOutput, resolve_connect_options,
};
use flyte_sql_model::{Output, TableKind, TableOutput};
use flyte_sql_template::Statement;

/// The most resident memory an extraction may use, whatever the row count.
const PEAK_RSS_BOUND_MIB: f64 = 64.0;

const DEFAULT_ROWS: u64 = 1_000_000;

/// The columns of SPEC section 8's `events` table, one expression per column over `n`.
fn events_select(source: &str) -> String {
    format!(
        "select n as id, n % 1000 as user_id, (n % 10000) * 0.01 as amount, \
         'name-' || n as name, n % 2 = 0 as flag, {timestamp} as created_at, \
         case when n % 10 = 0 then null else 'note for event ' || n end as note from {source}",
        timestamp = if source.contains("generate_series") {
            "timestamp '2024-01-01' + n * interval '1 second'"
        } else {
            "datetime(1704067200 + n, 'unixepoch')"
        }
    )
}

/// The same `events` columns in MariaDB's dialect, over its `seq_1_to_N` sequence table.
fn mariadb_events_select(rows: u64) -> String {
    format!(
        "select seq as id, seq % 1000 as user_id, (seq % 10000) * 0.01 as amount, \
         concat('name-', seq) as name, seq % 2 = 0 as flag, \
         timestamp '2024-01-01 00:00:00' + interval seq second as created_at, \
         case when seq % 10 = 0 then null else concat('note for event ', seq) end as note \
         from seq_1_to_{rows}"
    )
}

fn statement(executor: &Executor, sql: &str) -> Statement {
    Statement::from_sql(sql, executor.dialect()).expect("one statement without markers")
}

fn connect(uri: &str) -> Executor {
    let config = ConnectionConfig::new(uri).expect("a valid uri");
    let options = resolve_connect_options(&config).expect("connect options");
    Executor::connect(config.uri(), options, &PoolOptions::single()).expect("connecting")
}

fn execute(executor: &Executor, sql: String, scratch: &Path) {
    executor
        .run_statement(
            &statement(executor, &sql),
            &Output::None,
            &RunOptions::new(scratch.to_path_buf()),
            &mut NoProgress,
        )
        .expect("setting up the benchmark data");
}

/// The child: extracts `select * from events` to `out` (a local directory or an object-store
/// prefix) and prints `rows bytes seconds peak_kib`.
fn extract(uri: &str, out: &str) {
    let out = flyte_sql_storage::Location::parse(out, "the output prefix").expect("a location");
    let executor = connect(uri);
    let started = Instant::now();
    let output = Output::Table(TableOutput {
        kind: TableKind::Schema,
        columns: None,
    });
    let report = executor
        .run_statement(
            &statement(&executor, "select * from events"),
            &output,
            &RunOptions::to(out),
            &mut NoProgress,
        )
        .expect("extracting");
    let seconds = started.elapsed().as_secs_f64();
    let RunOutput::Table(table) = report.output else {
        panic!("a query produces a table");
    };
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    println!(
        "{} {} {seconds} {peak_kib}",
        table.rows, table.location.bytes
    );
}

/// Runs the child and checks its report; returns whether it stayed within the bound.
fn measure(backend: &str, uri: &str, rows: u64, out: &str) -> bool {
    let child = Command::new(std::env::current_exe().expect("this benchmark's path"))
        .args(["--extract", uri])
        .arg(out)
        .output()
        .expect("running the extraction");
    assert!(
        child.status.success(),
        "extraction failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let report = String::from_utf8_lossy(&child.stdout);
    let fields: Vec<f64> = report
        .split_whitespace()
        .map(|field| field.parse().expect("a number"))
        .collect();
    let [extracted, bytes, seconds, peak_kib] = fields[..] else {
        panic!("unexpected child report: {report}");
    };
    assert_eq!(extracted as u64, rows, "every row extracted");
    let peak_mib = peak_kib / 1024.0;
    println!(
        "{backend:<9} {rows} rows  {seconds:>7.3} s  {:>10.0} rows/s  {:>6.1} MiB Parquet  peak RSS {peak_mib:.1} MiB (bound {PEAK_RSS_BOUND_MIB} MiB)",
        extracted / seconds,
        bytes / 1024.0 / 1024.0,
    );
    peak_mib <= PEAK_RSS_BOUND_MIB
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, uri, out] = &args[..]
        && flag == "--extract"
    {
        extract(uri, out);
        return ExitCode::SUCCESS;
    }
    // `cargo bench` passes `--bench`; a number sets the row count.
    let rows = args
        .iter()
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(DEFAULT_ROWS);
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let mut within_bound = true;

    let database = scratch.path().join("events.db");
    std::fs::File::create(&database).expect("creating the SQLite database");
    let sqlite_uri = format!("sqlite:///{}", database.display());
    {
        let setup = connect(&sqlite_uri);
        execute(
            &setup,
            format!(
                "create table events as {}",
                events_select(&format!(
                    "(with recursive s(n) as (select 1 union all select n + 1 from s where n < {rows}) select n from s)"
                ))
            ),
            scratch.path(),
        );
    }
    let local_out = |backend: &str| {
        scratch
            .path()
            .join(format!("out-{backend}"))
            .display()
            .to_string()
    };
    within_bound &= measure("sqlite", &sqlite_uri, rows, &local_out("sqlite"));
    match std::env::var("FLYTE_SQL_BENCH_STORE_PREFIX") {
        Ok(prefix) if !prefix.is_empty() => {
            within_bound &= measure("sqlite→store", &sqlite_uri, rows, &prefix);
        }
        _ => println!(
            "sqlite→store skipped: set FLYTE_SQL_BENCH_STORE_PREFIX to an object-store prefix"
        ),
    }

    match std::env::var("FLYTE_SQL_TEST_POSTGRES") {
        Ok(uri) if cfg!(feature = "postgres") && !uri.is_empty() => {
            let setup = connect(&uri);
            execute(
                &setup,
                "drop table if exists events".to_owned(),
                scratch.path(),
            );
            execute(
                &setup,
                format!(
                    "create table events as {}",
                    events_select(&format!("generate_series(1, {rows}) as s(n)"))
                ),
                scratch.path(),
            );
            within_bound &= measure("postgres", &uri, rows, &local_out("postgres"));
            execute(&setup, "drop table events".to_owned(), scratch.path());
        }
        _ => {
            assert!(
                std::env::var("FLYTE_SQL_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "FLYTE_SQL_TEST_REQUIRE_ALL=1 requires FLYTE_SQL_TEST_POSTGRES and the postgres feature"
            );
            println!(
                "postgres  skipped: set FLYTE_SQL_TEST_POSTGRES and build with --features postgres"
            );
        }
    }
    match std::env::var("FLYTE_SQL_TEST_MYSQL") {
        Ok(uri) if cfg!(feature = "mysql") && !uri.is_empty() => {
            let setup = connect(&uri);
            execute(
                &setup,
                "drop table if exists events".to_owned(),
                scratch.path(),
            );
            execute(
                &setup,
                format!("create table events as {}", mariadb_events_select(rows)),
                scratch.path(),
            );
            within_bound &= measure("mariadb", &uri, rows, &local_out("mariadb"));
            execute(&setup, "drop table events".to_owned(), scratch.path());
        }
        _ => {
            assert!(
                std::env::var("FLYTE_SQL_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "FLYTE_SQL_TEST_REQUIRE_ALL=1 requires FLYTE_SQL_TEST_MYSQL and the mysql feature"
            );
            println!("mariadb   skipped: set FLYTE_SQL_TEST_MYSQL and build with --features mysql");
        }
    }
    if within_bound {
        ExitCode::SUCCESS
    } else {
        eprintln!("peak memory exceeded {PEAK_RSS_BOUND_MIB} MiB");
        ExitCode::FAILURE
    }
}
