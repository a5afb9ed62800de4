//! `cargo xtask bench`: flyte-sql side by side with its peers, on the same data, in one run.
//!
//! The workload is `select * from events` to Parquet on local disk, where `events` is
//! `(id bigint, user_id bigint, amount double, name text, flag boolean, created_at timestamp,
//! note text)`: rows from a fixed-seed PRNG ([`write_events`]), the same on every backend (names of
//! 5 to 40 characters, some non-ASCII; about 20% of the notes NULL; SQLite stores `created_at` as
//! text `YYYY-MM-DD HH:MM:SS[.ffffff]`). For each backend and size the entries are:
//!
//! - `flyte-sql run --uri .. --query ..`, the release binary with every backend;
//! - the peers, from a virtualenv `target/bench-venv` ([`REQUIREMENTS`], `xtask/bench/peers.py`):
//!   connectorx (`arrow_stream` into a pyarrow `ParquetWriter`), DuckDB `COPY .. TO` through its
//!   sqlite / postgres / mysql scanner, loaded by path from the `duckdb-ext-*` packages (INSTALL
//!   would need the internet), and the Python plugin through flytekit's real `pyflyte-execute` (a
//!   TaskTemplate flytekit serialized, local output prefixes);
//! - the floor, the database's own client reading every row and throwing it away ([`floor_entry`]).
//!
//! Every entry runs as a fresh process under GNU time (`/usr/bin/time`: CPU seconds and peak RSS
//! from the child's rusage); the entries run round-robin, the order rotated by one each round.
//! Every run's output row count is checked (Parquet metadata, `COPY n`), so a failing entry
//! cannot win: a failed entry is marked failed and is not a candidate for the best peer. Reported:
//! the medians of wall time, CPU seconds and peak RSS, and the medians of the per-round ratios of
//! flyte-sql's wall time to the best peer's and to the floor's. The table goes to
//! `target/bench/results.md` (every sample to `target/bench/samples.tsv`) and, except with
//! `--quick`, between the markers of `docs/performance.md`.
//!
//! The data lives in `target/bench/`: the generated rows, the SQLite files, a throw-away
//! PostgreSQL cluster (port [`POSTGRES_PORT`]) and a throw-away MariaDB server (port
//! [`MARIADB_PORT`]) that the harness starts and stops. Each is loaded once per size and reused
//! while its stamp ([`DATA_STAMP`]) matches.
//!
//! Options: `--sizes 100k,1m,10m` (default all three), `--rounds N` (default 5), `--backends
//! sqlite,postgres,mariadb` (default all three), `--quick` (100k rows, one round, no docs).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::conformance::python_virtualenv;
use crate::run_checked;

/// The peers and what they need, pinned (the Python plugin's stack is the conformance oracle's).
const REQUIREMENTS: &[(&str, &str)] = &[
    ("flyteidl", "1.16.8"),
    ("flytekit", "1.16.31"),
    ("flytekitplugins-sqlalchemy", "1.16.31"),
    ("protobuf", "7.36.2"),
    ("SQLAlchemy", "2.1.9"),
    ("pandas", "3.1.1"),
    ("pyarrow", "26.0.1"),
    ("numpy", "2.4.6"),
    ("connectorx", "0.4.6"),
    ("duckdb", "1.4.4"),
    ("duckdb-ext-sqlite", "1.4.4.20260205"),
    ("duckdb-ext-postgres", "1.4.4.20260205"),
    ("duckdb-ext-mysql", "1.4.4.20260205"),
    ("psycopg2-binary", "2.9.13"),
    ("PyMySQL", "1.2.4"),
];

/// Where `duckdb-ext-*` put the extension files, inside the virtualenv.
const DUCKDB_EXTENSIONS: &str =
    "lib/python3.11/site-packages/duckdb_ext/extensions/v1.4.4/linux_amd64";

const POSTGRES_PORT: u16 = 54329;
const MARIADB_PORT: u16 = 33069;

/// Names a loaded data set: change it (with [`SEED`] or the generator) and everything reloads.
const DATA_STAMP: &str = "flyte-sql bench events v1";
const SEED: u64 = 0x5EED_F17E_5A1B_0001;

const QUERY: &str = "select * from events";
const COLUMNS: u64 = 7;

/// GNU time's report: user and system CPU seconds, peak RSS in KiB.
const GNU_TIME: &str = "/usr/bin/time";
const GNU_TIME_FORMAT: &str = "%U %S %M";

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(2).collect();
    let options = Options::parse(&arguments)?;
    anyhow::ensure!(
        Path::new(GNU_TIME).exists(),
        "{GNU_TIME} is missing: install GNU time (`apt-get install time`)"
    );
    let bench = root.join("target/bench");
    fs::create_dir_all(&bench).with_context(|| format!("creating {}", bench.display()))?;
    let flyte_sql = build_release(root)?;
    let python = python_virtualenv(&root.join("target/bench-venv"), REQUIREMENTS)?;
    let tools = Tools {
        flyte_sql,
        peers: Peers {
            python: python.clone(),
            script: root.join("xtask/bench/peers.py"),
            duckdb_extensions: root.join("target/bench-venv").join(DUCKDB_EXTENSIONS),
            pyflyte_execute: python.with_file_name("pyflyte-execute"),
        },
    };
    let load_before = load_average();
    let started = Instant::now();
    let mut groups = Vec::new();
    for &backend in &options.backends {
        let server = Server::start(backend, &bench)?;
        let measured = options.sizes.iter().try_for_each(|&rows| {
            let events = write_events(&bench.join("data"), rows)?;
            let source = server.load(&bench, rows, &events)?;
            println!("bench: {} {}", backend.name(), size_label(rows));
            groups.push(measure_group(&tools, &bench, &source, options.rounds)?);
            anyhow::Ok(())
        });
        // Stopped whether or not the measurement got through: the servers are throw-away.
        server.stop()?;
        measured?;
    }
    let machine = Machine::describe(
        root,
        &tools.peers.python,
        &options.backends,
        load_before,
        started.elapsed(),
    );
    let section = render_section(&options, &groups, &machine);
    fs::write(bench.join("results.md"), &section).context("writing target/bench/results.md")?;
    fs::write(bench.join("samples.tsv"), render_samples(&groups))
        .context("writing target/bench/samples.tsv")?;
    println!("{section}");
    if !options.quick {
        update_docs(&root.join("docs/performance.md"), &section)?;
        println!("bench: wrote docs/performance.md and target/bench/results.md");
    }
    let failures: Vec<String> = groups
        .iter()
        .flat_map(|group| {
            group.entries.iter().filter_map(|entry| {
                let failure = entry.failure.as_ref()?;
                Some(format!(
                    "{} {}: {} failed: {failure}",
                    group.backend.name(),
                    size_label(group.rows),
                    entry.name
                ))
            })
        })
        .collect();
    for failure in &failures {
        eprintln!("bench: {failure}");
    }
    // A failing peer is a result; flyte-sql failing is a bug.
    anyhow::ensure!(
        !groups
            .iter()
            .any(|group| group.entries[0].failure.is_some()),
        "flyte-sql run failed (see above and target/bench/logs/)"
    );
    Ok(())
}

/// What `cargo xtask bench` was asked for.
#[derive(Debug, PartialEq)]
struct Options {
    sizes: Vec<u64>,
    rounds: usize,
    backends: Vec<Backend>,
    quick: bool,
}

impl Options {
    fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut options = Self {
            sizes: vec![100_000, 1_000_000, 10_000_000],
            rounds: 5,
            backends: vec![Backend::Sqlite, Backend::Postgres, Backend::Mariadb],
            quick: false,
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            let mut value = |name: &str| {
                arguments
                    .next()
                    .with_context(|| format!("{name} needs a value"))
            };
            match argument.as_str() {
                "--sizes" => {
                    options.sizes = value("--sizes")?
                        .split(',')
                        .map(parse_size)
                        .collect::<anyhow::Result<_>>()?;
                }
                "--rounds" => {
                    let text = value("--rounds")?;
                    options.rounds = text
                        .parse()
                        .ok()
                        .filter(|&rounds| rounds > 0)
                        .with_context(|| {
                            format!("--rounds `{text}` is not a positive whole number")
                        })?;
                }
                "--backends" => {
                    options.backends = value("--backends")?
                        .split(',')
                        .map(Backend::parse)
                        .collect::<anyhow::Result<_>>()?;
                }
                "--quick" => options.quick = true,
                other => anyhow::bail!(
                    "unknown bench option `{other}` (expected --sizes, --rounds, --backends or --quick)"
                ),
            }
        }
        if options.quick {
            options.sizes = vec![100_000];
            options.rounds = 1;
        }
        Ok(options)
    }
}

/// `100k`, `1m`, `10m` or a plain row count.
fn parse_size(text: &str) -> anyhow::Result<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, factor) = if let Some(digits) = lower.strip_suffix('k') {
        (digits, 1_000)
    } else if let Some(digits) = lower.strip_suffix('m') {
        (digits, 1_000_000)
    } else {
        (lower.as_str(), 1)
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|count| count.checked_mul(factor))
        .filter(|&rows| rows > 0)
        .with_context(|| format!("size `{text}` is not a row count such as 100k, 1m or 250000"))
}

fn size_label(rows: u64) -> String {
    if rows.is_multiple_of(1_000_000) {
        format!("{}M", rows / 1_000_000)
    } else if rows.is_multiple_of(1_000) {
        format!("{}k", rows / 1_000)
    } else {
        rows.to_string()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    Mariadb,
}

impl Backend {
    fn parse(text: &str) -> anyhow::Result<Self> {
        match text.trim() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mariadb" | "mysql" => Ok(Self::Mariadb),
            other => {
                anyhow::bail!("unknown backend `{other}` (expected sqlite, postgres or mariadb)")
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::Mariadb => "MariaDB",
        }
    }

    fn database(rows: u64) -> String {
        format!("bench{rows}")
    }
}

// ---------------------------------------------------------------------------------------------
// The data

/// SplitMix64: small, fast and the same everywhere, which is all the data needs.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What a name is made of: mostly ASCII, with some Latin, Cyrillic, CJK and an emoji (four UTF-8
/// bytes, so MariaDB needs utf8mb4). No tab, newline, backslash or quote: the rows travel as
/// PostgreSQL text format / `LOAD DATA` / `.import` lines.
const NAME_ASCII: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_";
const NAME_OTHER: &[char] = &['é', 'ü', 'ß', 'ø', 'ł', 'ñ', 'Ω', 'ж', '中', '文', '😀'];
const NOTE_WORDS: &[&str] = &[
    "refund", "late", "gift", "retry", "manual", "priority", "bulk", "promo", "flagged", "ok",
];
/// 2020-01-01 00:00:00 UTC and five years of seconds after it.
const CREATED_FROM: i64 = 1_577_836_800;
const CREATED_SPAN: u64 = 5 * 365 * 86_400;

/// One `events` row as a tab-separated line (`\N` for NULL, booleans as 0/1).
fn event_line(id: u64, rng: &mut Prng, line: &mut String) {
    line.clear();
    let user_id = 1 + rng.below(100_000);
    // Cents, so every backend parses the same double from the same text.
    let amount = (rng.below(10_000_000) as f64 - 2_000_000.0) / 100.0;
    let _ = write!(line, "{id}\t{user_id}\t{amount}\t");
    for _ in 0..5 + rng.below(36) {
        if rng.below(100) < 8 {
            line.push(NAME_OTHER[rng.below(NAME_OTHER.len() as u64) as usize]);
        } else {
            line.push(char::from(
                NAME_ASCII[rng.below(NAME_ASCII.len() as u64) as usize],
            ));
        }
    }
    let flag = rng.below(2);
    let seconds = CREATED_FROM + rng.below(CREATED_SPAN) as i64;
    let micros = if rng.below(2) == 0 {
        0
    } else {
        rng.below(1_000_000)
    };
    let _ = write!(line, "\t{flag}\t{}\t", timestamp_text(seconds, micros));
    if rng.below(5) == 0 {
        line.push_str("\\N");
    } else {
        line.push_str("note");
        for _ in 0..1 + rng.below(4) {
            line.push(' ');
            line.push_str(NOTE_WORDS[rng.below(NOTE_WORDS.len() as u64) as usize]);
        }
        let _ = write!(line, " #{}", rng.below(1_000));
    }
    line.push('\n');
}

/// `YYYY-MM-DD HH:MM:SS`, with `.ffffff` when `micros` is not 0, of Unix time `seconds` (UTC).
fn timestamp_text(seconds: i64, micros: u64) -> String {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if micros != 0 {
        let _ = write!(text, ".{micros:06}");
    }
    text
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `dir/events-<rows>.tsv`: the rows every backend loads, written once (atomically) per size.
fn write_events(dir: &Path, rows: u64) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("events-{rows}.tsv"));
    let stamp = dir.join(format!("events-{rows}.stamp"));
    if path.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(DATA_STAMP) {
        return Ok(path);
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    println!("bench: generating {rows} rows");
    let pending = path.with_extension("tsv.pending");
    let mut file = BufWriter::new(
        fs::File::create(&pending).with_context(|| format!("creating {}", pending.display()))?,
    );
    let mut rng = Prng(SEED);
    let mut line = String::new();
    for id in 1..=rows {
        event_line(id, &mut rng, &mut line);
        file.write_all(line.as_bytes())?;
    }
    file.into_inner()
        .map_err(|error| error.into_error())
        .and_then(|file| file.sync_all())
        .with_context(|| format!("writing {}", pending.display()))?;
    fs::rename(&pending, &path).with_context(|| format!("writing {}", path.display()))?;
    fs::write(&stamp, DATA_STAMP).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// The servers and the loaded data

/// A backend ready to serve: nothing for SQLite, a throw-away server for the others.
enum Server {
    Sqlite,
    Postgres(PostgresCluster),
    Mariadb(MariadbServer),
}

/// A cluster of its own in `<dir>/data`, listening on 127.0.0.1:[`POSTGRES_PORT`] with trust
/// auth, owned by `postgres` when we are root (the server refuses to run as root).
struct PostgresCluster {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
}

impl PostgresCluster {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut bindir = Command::new("pg_config");
        bindir.arg("--bindir");
        let cluster = Self {
            bin: PathBuf::from(output_line(
                bindir,
                "pg_config --bindir (install postgresql)",
            )?),
            dir: dir.to_path_buf(),
            as_postgres: running_as_root(),
        };
        let data = dir.join("data");
        if !data.join("PG_VERSION").exists() {
            let _ = fs::remove_dir_all(dir);
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            if cluster.as_postgres {
                let mut chown = Command::new("chown");
                chown.arg("postgres:postgres").arg(dir);
                run_checked(chown, "chown postgres (the bench cluster's directory)")?;
            }
            let mut initdb = cluster.tool("initdb");
            initdb
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ])
                .stdout(Stdio::null());
            run_checked(initdb, "initdb (the bench cluster)")?;
        }
        let mut status = cluster.tool("pg_ctl");
        status
            .arg("status")
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null());
        // Left running by an interrupted bench: use it (and stop it at the end).
        if !status.status().is_ok_and(|status| status.success()) {
            let mut start = cluster.tool("pg_ctl");
            start
                .args(["start", "-w", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(dir.join("server.log"))
                .arg("-o")
                .arg(format!(
                    "-p {POSTGRES_PORT} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                     -c shared_buffers=256MB",
                    dir.display()
                ))
                .stdout(Stdio::null());
            run_checked(start, "pg_ctl start (the bench cluster)")?;
        }
        Ok(cluster)
    }

    /// One of the server's programs, run as `postgres` when we are root.
    fn tool(&self, name: &str) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join(name));
            command
        } else {
            Command::new(self.bin.join(name))
        }
    }

    fn stop(self) -> anyhow::Result<()> {
        let mut stop = self.tool("pg_ctl");
        stop.args(["stop", "-m", "fast", "-D"])
            .arg(self.dir.join("data"))
            .stdout(Stdio::null());
        run_checked(stop, "pg_ctl stop (the bench cluster)")
    }
}

/// A server of its own on `<dir>/data`, 127.0.0.1:[`MARIADB_PORT`], root without a password.
struct MariadbServer {
    child: Child,
}

impl MariadbServer {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let data = dir.join("data");
        if !data.join("mysql").exists() {
            let _ = fs::remove_dir_all(dir);
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut install = Command::new("mariadb-install-db");
            install
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--user=root",
                ])
                .stdout(Stdio::null());
            run_checked(install, "mariadb-install-db (install mariadb-server)")?;
        }
        let log_path = dir.join("server.log");
        let log = fs::File::create(&log_path).context("creating the MariaDB log")?;
        let mut child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.join("mariadbd.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--port={MARIADB_PORT}"))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                "--local-infile=1",
                "--innodb-buffer-pool-size=1G",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_bin",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting mariadbd (install mariadb-server)")?;
        let mut exited = None;
        let ready = wait_until("the bench MariaDB server", || {
            exited = child.try_wait().ok().flatten();
            let mut ping = mariadb_client(None);
            ping.args(["-e", "select 1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            exited.is_some() || ping.status().is_ok_and(|status| status.success())
        });
        if let Some(status) = exited {
            anyhow::bail!("mariadbd exited ({status}); see {}", log_path.display());
        }
        ready?;
        Ok(Self { child })
    }

    fn stop(mut self) -> anyhow::Result<()> {
        let mut shutdown = mariadb_client(None);
        shutdown.args(["-e", "shutdown"]);
        run_checked(shutdown, "shutting down the bench MariaDB server")?;
        self.child.wait().context("waiting for mariadbd")?;
        Ok(())
    }
}

/// One backend × size, loaded: how each entry reaches it.
struct Source {
    backend: Backend,
    rows: u64,
    /// SQLite: the database file.
    sqlite_file: Option<PathBuf>,
}

impl Source {
    fn database(&self) -> String {
        Backend::database(self.rows)
    }

    /// The URI `flyte-sql run` takes, or with `python_driver` the Python plugin (SQLAlchemy
    /// forms both).
    fn sqlalchemy_uri(&self, python_driver: bool) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite:///{}", self.sqlite_path()),
            // SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3; the plugin's image has
            // psycopg2.
            Backend::Postgres => format!(
                "{}://postgres@127.0.0.1:{POSTGRES_PORT}/{}",
                if python_driver {
                    "postgresql+psycopg2"
                } else {
                    "postgresql"
                },
                self.database()
            ),
            Backend::Mariadb => format!(
                "{}://root@127.0.0.1:{MARIADB_PORT}/{}",
                if python_driver {
                    "mysql+pymysql"
                } else {
                    "mysql"
                },
                self.database()
            ),
        }
    }

    fn connectorx_uri(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.sqlite_path()),
            _ => self.sqlalchemy_uri(false),
        }
    }

    /// DuckDB's ATTACH type and string.
    fn duckdb_attach(&self) -> (&'static str, &'static str, String) {
        match self.backend {
            Backend::Sqlite => ("sqlite", "sqlite_scanner", self.sqlite_path()),
            Backend::Postgres => (
                "postgres",
                "postgres_scanner",
                format!(
                    "host=127.0.0.1 port={POSTGRES_PORT} user=postgres dbname={}",
                    self.database()
                ),
            ),
            Backend::Mariadb => (
                "mysql",
                "mysql_scanner",
                format!(
                    "host=127.0.0.1 port={MARIADB_PORT} user=root database={}",
                    self.database()
                ),
            ),
        }
    }

    fn sqlite_path(&self) -> String {
        self.sqlite_file
            .as_deref()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    }
}

fn psql(database: &str) -> Command {
    let mut command = Command::new("psql");
    command.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        &POSTGRES_PORT.to_string(),
        "-U",
        "postgres",
        "-d",
        database,
    ]);
    command
}

fn mariadb_client(database: Option<&str>) -> Command {
    let mut command = Command::new("mariadb");
    command.args([
        "--no-defaults",
        "--protocol=tcp",
        "-h",
        "127.0.0.1",
        "-P",
        &MARIADB_PORT.to_string(),
        "-u",
        "root",
    ]);
    command.args(database);
    command
}

/// The first line of `command`'s stdout, trimmed; a failure says the last line of its stderr.
fn output_line(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("starting {what}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        last_line(&String::from_utf8_lossy(&output.stderr))
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Waits until `ready` succeeds, for at most a minute.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what} did not come up within a minute"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

impl Server {
    fn start(backend: Backend, bench: &Path) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => Ok(Self::Sqlite),
            Backend::Postgres => Ok(Self::Postgres(PostgresCluster::start(
                &bench.join("postgres"),
            )?)),
            Backend::Mariadb => Ok(Self::Mariadb(MariadbServer::start(&bench.join("mariadb"))?)),
        }
    }

    fn stop(self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite => Ok(()),
            Self::Postgres(cluster) => cluster.stop(),
            Self::Mariadb(server) => server.stop(),
        }
    }

    /// Loads `events` (from the generated rows) for `rows` unless it is there with our stamp.
    fn load(&self, bench: &Path, rows: u64, events: &Path) -> anyhow::Result<Source> {
        let backend = match self {
            Self::Sqlite => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
            Self::Mariadb(_) => Backend::Mariadb,
        };
        let stamp = format!("{DATA_STAMP} {rows}");
        let database = Backend::database(rows);
        let mut source = Source {
            backend,
            rows,
            sqlite_file: None,
        };
        match backend {
            Backend::Sqlite => {
                let file = bench.join("data").join(format!("events-{rows}.db"));
                source.sqlite_file = Some(file.clone());
                let stamp_file = file.with_extension("db.stamp"); // beside events-N.stamp of the rows
                if file.exists() && fs::read_to_string(&stamp_file).ok() == Some(stamp.clone()) {
                    return Ok(source);
                }
                println!("bench: loading SQLite ({rows} rows)");
                let _ = fs::remove_file(&file);
                let script = format!(
                    "create table events (id bigint not null, user_id bigint not null, \
                     amount double not null, name text not null, flag boolean not null, \
                     created_at timestamp not null, note text);\n\
                     .mode tabs\n.import '{}' events\n\
                     update events set note = null where note = '\\N';\n",
                    events.display()
                );
                let mut sqlite = Command::new("sqlite3");
                sqlite
                    .args(["-bail", "-batch"])
                    .arg(&file)
                    .stdin(Stdio::piped());
                run_with_stdin(sqlite, &script, "sqlite3 (loading the bench data)")?;
                check_count(
                    {
                        let mut count = Command::new("sqlite3");
                        count.arg(&file).arg("select count(*) from events");
                        count
                    },
                    rows,
                )?;
                fs::write(&stamp_file, &stamp)?;
            }
            Backend::Postgres => {
                let mut stamped = psql("postgres");
                stamped.args([
                    "-tAc",
                    &format!(
                        "select 1 from pg_shdescription d join pg_database b on b.oid = d.objoid \
                         where b.datname = '{database}' and d.description = '{stamp}'"
                    ),
                ]);
                if output_line(stamped, "psql (the bench cluster)")? == "1" {
                    return Ok(source);
                }
                println!("bench: loading PostgreSQL ({rows} rows)");
                let mut recreate = psql("postgres");
                recreate.args([
                    "-c",
                    &format!("drop database if exists {database}"),
                    "-c",
                    &format!("create database {database}"),
                ]);
                run_checked(recreate, "psql (creating the bench database)")?;
                let mut load = psql(&database);
                load.args([
                    "-c",
                    "create table events (id bigint not null, user_id bigint not null, \
                     amount double precision not null, name text not null, \
                     flag boolean not null, created_at timestamp not null, note text)",
                    "-c",
                    &format!("\\copy events from '{}'", events.display()),
                    "-c",
                    "vacuum (freeze, analyze) events",
                    "-c",
                    &format!("comment on database {database} is '{stamp}'"),
                ]);
                run_checked(load, "psql (loading the bench data)")?;
                let mut count = psql(&database);
                count.args(["-tAc", "select count(*) from events"]);
                check_count(count, rows)?;
            }
            Backend::Mariadb => {
                let mut stamped = mariadb_client(None);
                stamped.args([
                    "-N",
                    "-e",
                    &format!(
                        "select 1 from information_schema.tables where table_schema = \
                         '{database}' and table_name = 'events' and table_comment = '{stamp}'"
                    ),
                ]);
                if output_line(stamped, "mariadb (the bench server)")? == "1" {
                    return Ok(source);
                }
                println!("bench: loading MariaDB ({rows} rows)");
                let mut load = mariadb_client(None);
                load.arg("--local-infile=1").args([
                    "-e",
                    &format!(
                        "drop database if exists {database}; create database {database}; \
                         use {database}; \
                         create table events (id bigint not null primary key, \
                         user_id bigint not null, amount double not null, name text not null, \
                         flag boolean not null, created_at datetime(6) not null, note text) \
                         engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin; \
                         load data local infile '{}' into table events character set utf8mb4; \
                         analyze table events; alter table events comment = '{stamp}';",
                        events.display()
                    ),
                ]);
                load.stdout(Stdio::null());
                run_checked(load, "mariadb (loading the bench data)")?;
                let mut count = mariadb_client(Some(&database));
                count.args(["-N", "-e", "select count(*) from events"]);
                check_count(count, rows)?;
            }
        }
        Ok(source)
    }
}

fn run_with_stdin(mut command: Command, input: &str, what: &str) -> anyhow::Result<()> {
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    child
        .stdin
        .take()
        .context("no stdin")?
        .write_all(input.as_bytes())
        .with_context(|| format!("writing to {what}"))?;
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "{what} failed ({status})");
    Ok(())
}

fn check_count(command: Command, rows: u64) -> anyhow::Result<()> {
    let count = output_line(command, "counting the loaded rows")?;
    anyhow::ensure!(
        count == rows.to_string(),
        "the loaded table has {count} rows, not {rows}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The entries

struct Tools {
    flyte_sql: PathBuf,
    peers: Peers,
}

struct Peers {
    python: PathBuf,
    script: PathBuf,
    duckdb_extensions: PathBuf,
    pyflyte_execute: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    FlyteSql,
    Peer,
    Floor,
}

/// How a run's output row count is read.
enum RowCount {
    /// The Parquet file, or all files under the directory.
    Parquet(PathBuf),
    /// psql's `COPY n` line in the run's stdout.
    PsqlCopy,
    /// The floor writes its rows to /dev/null: each run is checked by its exit status and
    /// stderr, and one untimed run before the rounds counts its output lines (minus a header).
    DiscardedLines { header_lines: u64 },
}

struct Entry {
    name: &'static str,
    role: Role,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
    /// The run's working directory, emptied (but for `keep`) before every run.
    dir: PathBuf,
    keep: Vec<&'static str>,
    row_count: RowCount,
    /// Where the entry writes a Flyte error document when it fails (and still exits 0).
    error_document: Option<&'static str>,
}

/// The environment of the Python plugin's run, as the golden runs have it.
const PLUGIN_ENV: &[(&str, &str)] = &[
    ("FLYTE_INTERNAL_EXECUTION_ID", "bench"),
    ("FLYTE_INTERNAL_EXECUTION_PROJECT", "bench"),
    ("FLYTE_INTERNAL_EXECUTION_DOMAIN", "development"),
    ("FLYTE_INTERNAL_TASK_PROJECT", "bench"),
    ("FLYTE_INTERNAL_TASK_DOMAIN", "development"),
    ("FLYTE_INTERNAL_TASK_VERSION", "v1"),
    ("FLYTE_SDK_LOGGING_LEVEL", "20"),
];

fn os(text: impl Into<OsString>) -> OsString {
    text.into()
}

/// The floor of a backend: its own client reading every row and discarding it.
fn floor_entry(source: &Source, dir: PathBuf) -> Entry {
    let database = source.database();
    let (program, args, row_count) = match source.backend {
        Backend::Sqlite => (
            "sqlite3",
            vec![os("-batch"), os(source.sqlite_path()), os(QUERY)],
            RowCount::DiscardedLines { header_lines: 0 },
        ),
        Backend::Postgres => (
            "psql",
            vec![
                os("-X"),
                os("-h"),
                os("127.0.0.1"),
                os("-p"),
                os(POSTGRES_PORT.to_string()),
                os("-U"),
                os("postgres"),
                os("-d"),
                os(database),
                os("-c"),
                os(format!(
                    "\\copy ({QUERY}) to '/dev/null' with (format binary)"
                )),
            ],
            RowCount::PsqlCopy,
        ),
        Backend::Mariadb => (
            "mariadb",
            vec![
                os("--no-defaults"),
                os("--protocol=tcp"),
                os("-h"),
                os("127.0.0.1"),
                os("-P"),
                os(MARIADB_PORT.to_string()),
                os("-u"),
                os("root"),
                os("--quick"),
                os(database),
                os("-e"),
                os(QUERY),
            ],
            RowCount::DiscardedLines { header_lines: 1 },
        ),
    };
    Entry {
        name: floor_name(source.backend),
        role: Role::Floor,
        program: PathBuf::from(program),
        args,
        env: Vec::new(),
        dir,
        keep: Vec::new(),
        row_count,
        error_document: None,
    }
}

fn floor_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite3 CLI",
        Backend::Postgres => "psql \\copy binary",
        Backend::Mariadb => "mariadb --quick",
    }
}

/// The entries of one backend × size, flyte-sql first and the floor last.
fn entries(tools: &Tools, source: &Source, runs: &Path) -> anyhow::Result<Vec<Entry>> {
    let peers = &tools.peers;
    let out = |name: &str| runs.join(name).join("out.parquet");
    let (duckdb_type, duckdb_extension, duckdb_source) = source.duckdb_attach();
    let plugin_dir = runs.join("python-plugin");
    fs::create_dir_all(&plugin_dir)?;
    let mut template = Command::new(&peers.python);
    template
        .arg(&peers.script)
        .arg("template")
        .arg(source.sqlalchemy_uri(true))
        .arg(&plugin_dir);
    run_checked(
        template,
        "serializing the Python plugin's task (peers.py template)",
    )?;
    Ok(vec![
        Entry {
            name: "flyte-sql run",
            role: Role::FlyteSql,
            program: tools.flyte_sql.clone(),
            args: vec![
                os("run"),
                os("--uri"),
                os(source.sqlalchemy_uri(false)),
                os("--query"),
                os(QUERY),
                os("--preview"),
                os("0"),
                os("--out"),
                os("out"),
            ],
            env: Vec::new(),
            dir: runs.join("flyte-sql"),
            keep: Vec::new(),
            row_count: RowCount::Parquet(runs.join("flyte-sql/out")),
            error_document: None,
        },
        Entry {
            name: "connectorx",
            role: Role::Peer,
            program: peers.python.clone(),
            args: vec![
                os(&peers.script),
                os("connectorx"),
                os(source.connectorx_uri()),
                os(out("connectorx")),
            ],
            env: Vec::new(),
            dir: runs.join("connectorx"),
            keep: Vec::new(),
            row_count: RowCount::Parquet(out("connectorx")),
            error_document: None,
        },
        Entry {
            name: "DuckDB",
            role: Role::Peer,
            program: peers.python.clone(),
            args: vec![
                os(&peers.script),
                os("duckdb"),
                os(duckdb_type),
                os(duckdb_source),
                os(peers
                    .duckdb_extensions
                    .join(format!("{duckdb_extension}.duckdb_extension"))),
                os(out("duckdb")),
            ],
            env: Vec::new(),
            dir: runs.join("duckdb"),
            keep: Vec::new(),
            row_count: RowCount::Parquet(out("duckdb")),
            error_document: None,
        },
        Entry {
            name: "Python plugin",
            role: Role::Peer,
            program: peers.pyflyte_execute.clone(),
            args: [
                "--inputs",
                "inputs.pb",
                "--output-prefix",
                "out",
                "--raw-output-data-prefix",
                "raw",
                "--resolver",
                "flytekit.core.python_customized_container_task.default_task_template_resolver",
                "--",
                "task.pb",
                "flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor",
            ]
            .into_iter()
            .map(os)
            .collect(),
            env: PLUGIN_ENV
                .iter()
                .map(|&(name, value)| (name, value.to_owned()))
                .collect(),
            keep: vec!["task.pb", "inputs.pb"],
            row_count: RowCount::Parquet(plugin_dir.join("raw")),
            error_document: Some("out/error.pb"),
            dir: plugin_dir,
        },
        floor_entry(source, runs.join("floor")),
    ])
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// One run of one entry.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    round: usize,
    /// Its place in the round's order.
    position: usize,
    wall_seconds: f64,
    cpu_seconds: f64,
    peak_rss_kib: u64,
}

struct EntryResult {
    name: &'static str,
    role: Role,
    samples: Vec<Sample>,
    failure: Option<String>,
}

struct Group {
    backend: Backend,
    rows: u64,
    rounds: usize,
    entries: Vec<EntryResult>,
}

/// The order of the entries in `round`: every entry once, rotated by one each round, so no entry
/// always runs first (cold) or right after the same neighbour.
fn round_order(entries: usize, round: usize) -> Vec<usize> {
    (0..entries)
        .map(|index| (index + round) % entries)
        .collect()
}

fn measure_group(
    tools: &Tools,
    bench: &Path,
    source: &Source,
    rounds: usize,
) -> anyhow::Result<Group> {
    let label = format!(
        "{}-{}",
        source.backend.name().to_ascii_lowercase(),
        size_label(source.rows)
    );
    let runs = bench.join("runs").join(&label);
    let logs = bench.join("logs").join(&label);
    fs::create_dir_all(&logs)?;
    let entries = entries(tools, source, &runs)?;
    let mut results: Vec<EntryResult> = entries
        .iter()
        .map(|entry| EntryResult {
            name: entry.name,
            role: entry.role,
            samples: Vec::new(),
            failure: None,
        })
        .collect();
    // The floor's untimed run: it counts the rows the timed runs discard, and warms the caches.
    let floor = entries.len() - 1;
    if let Err(error) = verify_floor(&entries[floor], source.rows) {
        results[floor].failure = Some(format!("{error:#}"));
    }
    for round in 0..rounds {
        for (position, index) in round_order(entries.len(), round).into_iter().enumerate() {
            let (entry, result) = (&entries[index], &mut results[index]);
            if result.failure.is_some() {
                continue;
            }
            let log = logs.join(format!("{}-round{round}.log", slug(entry.name)));
            match run_entry(entry, &tools.peers, &log, source.rows) {
                Ok((wall_seconds, cpu_seconds, peak_rss_kib)) => {
                    println!(
                        "  round {round} {:<16} {wall_seconds:8.3} s wall {cpu_seconds:8.2} s CPU {:8.1} MiB",
                        entry.name,
                        peak_rss_kib as f64 / 1024.0
                    );
                    result.samples.push(Sample {
                        round,
                        position,
                        wall_seconds,
                        cpu_seconds,
                        peak_rss_kib,
                    });
                }
                Err(error) => {
                    println!("  round {round} {:<16} FAILED: {error:#}", entry.name);
                    result.failure = Some(format!("{error:#} (log: {})", log.display()));
                }
            }
        }
    }
    for entry in &entries {
        let _ = fs::remove_dir_all(&entry.dir); // the outputs are large; the logs stay
    }
    Ok(Group {
        backend: source.backend,
        rows: source.rows,
        rounds,
        entries: results,
    })
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Empties the entry's directory except for the files it keeps.
fn reset_dir(entry: &Entry) -> anyhow::Result<()> {
    fs::create_dir_all(&entry.dir)?;
    for item in fs::read_dir(&entry.dir)? {
        let path = item?.path();
        let kept = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| entry.keep.contains(&name));
        if kept {
            continue;
        }
        if path.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn entry_command(entry: &Entry, program: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(&entry.dir).env_clear();
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .envs([("LANG", "C.UTF-8"), ("LC_ALL", "C.UTF-8")])
        .envs(entry.env.iter().map(|(name, value)| (name, value)));
    command
}

/// One timed run under GNU time: `(wall seconds, CPU seconds, peak RSS KiB)` after checking the
/// exit status and the output's row count.
fn run_entry(
    entry: &Entry,
    peers: &Peers,
    log: &Path,
    rows: u64,
) -> anyhow::Result<(f64, f64, u64)> {
    reset_dir(entry)?;
    let rusage = log.with_extension("time");
    let mut command = entry_command(entry, Path::new(GNU_TIME));
    command
        .args(["--quiet", "-f", GNU_TIME_FORMAT, "-o"])
        .arg(&rusage)
        .arg(&entry.program)
        .args(&entry.args)
        .stdin(Stdio::null())
        .stderr(fs::File::create(log)?);
    let stdout_log = log.with_extension("stdout");
    if matches!(entry.row_count, RowCount::DiscardedLines { .. }) {
        command.stdout(Stdio::null());
    } else {
        command.stdout(fs::File::create(&stdout_log)?);
    }
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("starting {}", entry.program.display()))?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let stderr = fs::read_to_string(log).unwrap_or_default();
    anyhow::ensure!(
        status.success(),
        "exited with {status}: {}",
        last_line(&stderr)
    );
    if let Some(document) = entry.error_document {
        anyhow::ensure!(
            !entry.dir.join(document).exists(),
            "exited 0 but wrote the error document {document}: {}",
            last_line(&stderr)
        );
    }
    let (cpu_seconds, peak_rss_kib) = parse_gnu_time(&fs::read_to_string(&rusage)?)?;
    let counted = match &entry.row_count {
        RowCount::Parquet(path) => Some(parquet_rows(peers, path)?),
        RowCount::PsqlCopy => Some(
            fs::read_to_string(&stdout_log)?
                .lines()
                .find_map(|line| line.strip_prefix("COPY "))
                .and_then(|count| count.trim().parse().ok())
                .context("psql printed no `COPY n` line")?,
        ),
        RowCount::DiscardedLines { .. } => {
            // A client that reports an error on stderr may still exit 0 in batch mode.
            anyhow::ensure!(stderr.trim().is_empty(), "stderr: {}", last_line(&stderr));
            None
        }
    };
    if let Some(counted) = counted {
        anyhow::ensure!(counted == rows, "wrote {counted} rows, not {rows}");
    }
    Ok((wall_seconds, cpu_seconds, peak_rss_kib))
}

/// The floor, untimed, with its output counted (as it streams) instead of discarded.
fn verify_floor(entry: &Entry, rows: u64) -> anyhow::Result<()> {
    reset_dir(entry)?;
    let stderr_path = entry.dir.join("stderr.log");
    let mut child = entry_command(entry, &entry.program)
        .args(&entry.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&stderr_path)?)
        .spawn()
        .with_context(|| format!("starting {}", entry.program.display()))?;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let mut lines = 0_u64;
    let mut buffer = vec![0_u8; 1 << 16];
    loop {
        let read = stdout.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        lines += buffer[..read].iter().filter(|&&byte| byte == b'\n').count() as u64;
    }
    let status = child.wait()?;
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    anyhow::ensure!(
        status.success(),
        "exited with {status}: {}",
        last_line(&stderr)
    );
    if let RowCount::DiscardedLines { header_lines } = entry.row_count {
        let counted = lines.saturating_sub(header_lines);
        anyhow::ensure!(counted == rows, "printed {counted} rows, not {rows}");
    }
    Ok(())
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("(no output)")
}

/// GNU time's `-o` file: `USER SYSTEM MAXRSS` on the last line (a line before it says when the
/// command failed).
fn parse_gnu_time(text: &str) -> anyhow::Result<(f64, u64)> {
    let line = last_line(text);
    let fields: Vec<&str> = line.split_whitespace().collect();
    let parsed = match fields[..] {
        [user, system, rss] => user
            .parse::<f64>()
            .ok()
            .zip(system.parse::<f64>().ok())
            .zip(rss.parse::<u64>().ok())
            .map(|((user, system), rss)| (user + system, rss)),
        _ => None,
    };
    parsed.with_context(|| format!("unexpected GNU time output `{line}`"))
}

/// The row count of the Parquet output at `path` (a file, or every file under a directory),
/// read by pyarrow; the column count must be the table's.
fn parquet_rows(peers: &Peers, path: &Path) -> anyhow::Result<u64> {
    let mut command = Command::new(&peers.python);
    command.arg(&peers.script).arg("rows").arg(path);
    let line = output_line(command, "counting Parquet rows (peers.py rows)")?;
    let (rows, columns) = line
        .split_once(' ')
        .and_then(|(rows, columns)| Some((rows.parse::<u64>().ok()?, columns.parse::<u64>().ok()?)))
        .with_context(|| format!("peers.py rows printed `{line}`"))?;
    anyhow::ensure!(columns == COLUMNS, "wrote {columns} columns, not {COLUMNS}");
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Statistics

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        length if length % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// `subject`'s wall time over `other`'s, round by round (the rounds both have).
fn paired_ratios(subject: &[Sample], other: &[Sample]) -> Vec<f64> {
    subject
        .iter()
        .filter_map(|sample| {
            let paired = other
                .iter()
                .find(|candidate| candidate.round == sample.round)?;
            Some(sample.wall_seconds / paired.wall_seconds)
        })
        .collect()
}

/// An entry's medians: wall seconds, CPU seconds, peak RSS in MiB.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Medians {
    wall_seconds: f64,
    cpu_seconds: f64,
    peak_rss_mib: f64,
}

impl EntryResult {
    /// The medians of a complete entry: one that failed in any round has none.
    fn medians(&self) -> Option<Medians> {
        if self.failure.is_some() {
            return None;
        }
        let of =
            |value: fn(&Sample) -> f64| median(&self.samples.iter().map(value).collect::<Vec<_>>());
        Some(Medians {
            wall_seconds: of(|sample| sample.wall_seconds)?,
            cpu_seconds: of(|sample| sample.cpu_seconds)?,
            peak_rss_mib: of(|sample| sample.peak_rss_kib as f64 / 1024.0)?,
        })
    }
}

impl Group {
    fn subject(&self) -> &EntryResult {
        &self.entries[0]
    }

    fn floor(&self) -> Option<&EntryResult> {
        self.entries.iter().find(|entry| entry.role == Role::Floor)
    }

    /// The peer with the lowest median wall time among those that passed every round.
    fn best_peer(&self) -> Option<&EntryResult> {
        self.entries
            .iter()
            .filter(|entry| entry.role == Role::Peer)
            .filter_map(|entry| Some((entry, entry.medians()?)))
            .min_by(|(_, a), (_, b)| a.wall_seconds.total_cmp(&b.wall_seconds))
            .map(|(entry, _)| entry)
    }
}

/// `median (min–max)` of the subject's paired ratios to `other`, or why there is none.
fn ratio_cell(subject: &EntryResult, other: Option<&EntryResult>) -> String {
    let Some(other) = other.filter(|other| other.medians().is_some()) else {
        return "n/a".to_owned();
    };
    if subject.medians().is_none() {
        return "n/a".to_owned();
    }
    let ratios = paired_ratios(&subject.samples, &other.samples);
    let Some(middle) = median(&ratios) else {
        return "n/a".to_owned();
    };
    let (low, high) = ratios
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(low, high), &ratio| {
            (low.min(ratio), high.max(ratio))
        });
    if ratios.len() == 1 {
        format!("{middle:.2}")
    } else {
        format!("{middle:.2} ({low:.2}–{high:.2})")
    }
}

fn wall_cell(entry: Option<&EntryResult>, with_name: bool) -> String {
    match entry {
        None => "none passed".to_owned(),
        Some(entry) => {
            let time = match entry.medians() {
                Some(medians) => format!("{:.2} s", medians.wall_seconds),
                None => "failed".to_owned(),
            };
            if with_name {
                format!("{} {time}", entry.name)
            } else {
                time
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report

/// What the numbers were measured on.
struct Machine {
    cpu: String,
    cores: usize,
    memory_gib: f64,
    kernel: String,
    load_before: f64,
    load_after: f64,
    duration: Duration,
    versions: Vec<(String, String)>,
}

fn load_average() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The version a program prints: the first word of its first line that starts with a digit.
fn version_of(program: &Path, args: &[&str]) -> String {
    let mut command = Command::new(program);
    command.args(args).stderr(Stdio::null());
    output_line(command, "a version")
        .ok()
        .and_then(|line| version_word(&line).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn version_word(line: &str) -> Option<&str> {
    line.split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
}

impl Machine {
    fn describe(
        root: &Path,
        python: &Path,
        backends: &[Backend],
        load_before: f64,
        duration: Duration,
    ) -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let mut commit = Command::new("git");
        commit
            .current_dir(root)
            .args(["describe", "--always", "--dirty"]);
        let mut versions = vec![(
            "flyte-sql".to_owned(),
            format!(
                "{} (release, all backends)",
                output_line(commit, "git describe").unwrap_or_else(|_| "unknown".to_owned())
            ),
        )];
        for &backend in backends {
            let (name, version) = match backend {
                Backend::Sqlite => ("sqlite3", version_of(Path::new("sqlite3"), &["--version"])),
                Backend::Postgres => (
                    "PostgreSQL",
                    version_of(Path::new("pg_config"), &["--version"]),
                ),
                Backend::Mariadb => ("MariaDB", version_of(Path::new("mariadbd"), &["--version"])),
            };
            versions.push((name.to_owned(), version));
        }
        versions.extend(
            REQUIREMENTS
                .iter()
                .filter(|(package, _)| {
                    matches!(
                        *package,
                        "flytekit" | "flytekitplugins-sqlalchemy" | "pyarrow" | "pandas"
                    ) || package.starts_with("duckdb")
                        || *package == "connectorx"
                })
                .map(|(package, version)| ((*package).to_owned(), (*version).to_owned())),
        );
        versions.push(("Python".to_owned(), version_of(python, &["--version"])));
        Self {
            cpu: cpuinfo
                .lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
                .unwrap_or_else(|| "unknown".to_owned()),
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|text| text.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned()),
            load_before,
            load_after: load_average(),
            duration,
            versions,
        }
    }

    /// Busy means other work competed for the CPU: the numbers are indicative, not final.
    fn busy(&self) -> bool {
        let threshold = 0.5 * self.cores as f64;
        self.load_before > threshold || self.load_after > threshold
    }
}

fn render_section(options: &Options, groups: &[Group], machine: &Machine) -> String {
    let mut out = String::new();
    let rounds = options.rounds;
    let _ = writeln!(out, "## Side by side\n");
    let _ = writeln!(
        out,
        "`select * from events` to Parquet on local disk, every entry a fresh process, {rounds} \
         round(s) (generated by `cargo xtask bench{}`; `xtask/src/bench.rs` says how). Times are \
         medians of wall time; the ratios are the medians (min–max) of the per-round ratios of \
         flyte-sql's wall time to the best peer's and to the floor's (below 1: flyte-sql is \
         faster).\n",
        command_line(options)
    );
    if machine.busy() {
        let _ = writeln!(
            out,
            "**Caveat: this run shared the machine with other work** (load average {:.1} before, \
             {:.1} after, on {} cores): the numbers are indicative; rerun on a quiet machine for \
             the final table.\n",
            machine.load_before, machine.load_after, machine.cores
        );
    }
    let _ = writeln!(
        out,
        "| Backend | Rows | flyte-sql run | best peer | floor | flyte-sql / best peer | flyte-sql / floor |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for group in groups {
        let subject = group.subject();
        let best = group.best_peer();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            group.backend.name(),
            size_label(group.rows),
            wall_cell(Some(subject), false),
            wall_cell(best, true),
            wall_cell(group.floor(), true),
            ratio_cell(subject, best),
            ratio_cell(subject, group.floor()),
        );
    }
    let _ = writeln!(
        out,
        "\nEvery entry (medians; CPU is user + system seconds, peak RSS the child's maximum \
         resident set, both from its rusage):\n"
    );
    let _ = writeln!(
        out,
        "| Backend | Rows | Entry | Wall s | CPU s | Peak RSS MiB | Rounds |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for group in groups {
        for entry in &group.entries {
            let (wall, cpu, rss) = match entry.medians() {
                Some(medians) => (
                    format!("{:.2}", medians.wall_seconds),
                    format!("{:.2}", medians.cpu_seconds),
                    format!("{:.0}", medians.peak_rss_mib),
                ),
                None => {
                    let reason = entry.failure.as_deref().unwrap_or("no samples");
                    let reason = reason.split(" (log: ").next().unwrap_or(reason);
                    (
                        format!("failed: {}", reason.replace('|', "/")),
                        String::new(),
                        String::new(),
                    )
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {wall} | {cpu} | {rss} | {}/{} |",
                group.backend.name(),
                size_label(group.rows),
                entry.name,
                entry.samples.len(),
                group.rounds
            );
        }
    }
    let _ = writeln!(out, "\n### Method\n");
    let _ = writeln!(
        out,
        "- Data: `events(id bigint, user_id bigint, amount double, name text, flag boolean, \
         created_at timestamp, note text)` from a fixed-seed PRNG, the same rows on every backend \
         (names of 5–40 characters, some non-ASCII; about 20% of the notes NULL; SQLite stores \
         `created_at` as text). PostgreSQL {POSTGRES_PORT} and MariaDB {MARIADB_PORT} are \
         throw-away servers in `target/bench/`, on this machine over TCP.\n\
         - Entries: `flyte-sql run --uri .. --query .. --out DIR` (release build); connectorx \
         `read_sql(.., return_type=\"arrow_stream\")` into a pyarrow `ParquetWriter`; DuckDB \
         `COPY (select * from src.events) TO .. (FORMAT parquet)` with the sqlite / postgres / \
         mysql scanner loaded by path from the `duckdb-ext-*` packages; the Python plugin \
         (`SQLAlchemyTask`, serialized by flytekit) through flytekit's real `pyflyte-execute`. \
         Peers' times include their interpreter's start-up, as flyte-sql's include its own.\n\
         - Floors, the database's own client reading every row and discarding it: SQLite \
         `sqlite3 events.db 'select * from events' > /dev/null`; PostgreSQL `psql -c \"\\copy \
         (select * from events) to '/dev/null' with (format binary)\"`; MariaDB `mariadb --quick \
         -e 'select * from events' > /dev/null`.\n\
         - Every run is a fresh process under GNU time (CPU seconds and peak RSS from the child's \
         rusage; wall time measured around it; on PostgreSQL and MariaDB they are the client's, \
         the server's own work shows only in the wall time); the entries run round-robin, the order rotated \
         by one each round, after one untimed run of the floor that counts its rows and warms \
         the caches. Every run's output row count is checked (the Parquet metadata, psql's \
         `COPY n`; the floors that print to /dev/null are checked by exit status and empty \
         stderr, their row count by the untimed run). An entry that fails or writes the wrong \
         row count is marked failed and is not a candidate for the best peer.\n\
         - Raw samples: `target/bench/samples.tsv`; each run's log: `target/bench/logs/`."
    );
    let _ = writeln!(out, "\n### Machine\n");
    let _ = writeln!(
        out,
        "{}, {} cores, {:.0} GiB memory, Linux {}; load average {:.1} before and {:.1} after \
         the run, which took {:.0} s.\n",
        machine.cpu,
        machine.cores,
        machine.memory_gib,
        machine.kernel,
        machine.load_before,
        machine.load_after,
        machine.duration.as_secs_f64()
    );
    let versions: Vec<String> = machine
        .versions
        .iter()
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    let _ = writeln!(out, "Versions: {}.", versions.join(", "));
    out
}

/// The options as a command line (what to type to repeat the run).
fn command_line(options: &Options) -> String {
    if options.quick {
        return " --quick".to_owned();
    }
    let sizes: Vec<String> = options
        .sizes
        .iter()
        .map(|&rows| size_label(rows).to_ascii_lowercase())
        .collect();
    let backends: Vec<&str> = options
        .backends
        .iter()
        .map(|backend| match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mariadb => "mariadb",
        })
        .collect();
    format!(
        " --sizes {} --rounds {} --backends {}",
        sizes.join(","),
        options.rounds,
        backends.join(",")
    )
}

fn render_samples(groups: &[Group]) -> String {
    let mut out =
        String::from("backend\trows\tentry\tround\tposition\twall_s\tcpu_s\tpeak_rss_kib\n");
    for group in groups {
        for entry in &group.entries {
            for sample in &entry.samples {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{:.4}\t{:.2}\t{}",
                    group.backend.name(),
                    group.rows,
                    entry.name,
                    sample.round,
                    sample.position,
                    sample.wall_seconds,
                    sample.cpu_seconds,
                    sample.peak_rss_kib
                );
            }
        }
    }
    out
}

const SECTION_BEGIN: &str =
    "<!-- bench:begin (generated by `cargo xtask bench`: rerun it, do not edit) -->";
const SECTION_END: &str = "<!-- bench:end -->";

/// `document` with the text between the bench markers replaced by `section` (the markers and the
/// section appended when the document has none).
fn replace_section(document: &str, section: &str) -> String {
    let block = format!("{SECTION_BEGIN}\n{}\n{SECTION_END}", section.trim_end());
    let begin = document.find("<!-- bench:begin");
    let end = document.find(SECTION_END);
    match (begin, end) {
        (Some(begin), Some(end)) if begin < end => format!(
            "{}{block}{}",
            &document[..begin],
            &document[end + SECTION_END.len()..]
        ),
        _ if document.trim().is_empty() => format!("# Performance\n\n{block}\n"),
        _ => format!("{}\n\n{block}\n", document.trim_end()),
    }
}

fn update_docs(path: &Path, section: &str) -> anyhow::Result<()> {
    let document = fs::read_to_string(path).unwrap_or_default();
    fs::write(path, replace_section(&document, section))
        .with_context(|| format!("writing {}", path.display()))
}

/// `cargo build --release` of the binary with every backend; its path.
fn build_release(root: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build.current_dir(root).args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "flyte-sql",
        "--features",
        "flyte-sql/all-backends",
    ]);
    run_checked(build, "cargo build --release --package flyte-sql")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |dir| root.join(dir));
    Ok(target.join("release/flyte-sql"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(round: usize, wall_seconds: f64) -> Sample {
        Sample {
            round,
            position: 0,
            wall_seconds,
            cpu_seconds: wall_seconds,
            peak_rss_kib: 1024,
        }
    }

    fn entry(name: &'static str, role: Role, walls: &[f64]) -> EntryResult {
        EntryResult {
            name,
            role,
            samples: walls
                .iter()
                .enumerate()
                .map(|(round, &wall)| sample(round, wall))
                .collect(),
            failure: None,
        }
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ratios_pair_the_same_round() {
        let subject = [sample(0, 1.0), sample(1, 2.0), sample(2, 3.0)];
        // Out of order and missing round 1: pairs by round, not by position.
        let other = [sample(2, 6.0), sample(0, 4.0)];
        assert_eq!(paired_ratios(&subject, &other), vec![0.25, 0.5]);
    }

    #[test]
    fn every_round_runs_every_entry_once_rotated_by_one() {
        assert_eq!(round_order(5, 0), vec![0, 1, 2, 3, 4]);
        assert_eq!(round_order(5, 1), vec![1, 2, 3, 4, 0]);
        assert_eq!(round_order(5, 4), vec![4, 0, 1, 2, 3]);
        assert_eq!(round_order(5, 5), round_order(5, 0));
        // Over as many rounds as entries, each entry holds each position exactly once.
        for entry in 0..5 {
            let mut positions: Vec<usize> = (0..5)
                .map(|round| {
                    round_order(5, round)
                        .iter()
                        .position(|&e| e == entry)
                        .unwrap()
                })
                .collect();
            positions.sort_unstable();
            assert_eq!(positions, vec![0, 1, 2, 3, 4]);
        }
    }

    #[test]
    fn a_failed_peer_is_never_the_best_even_when_fastest() {
        let mut fast_but_failed = entry("connectorx", Role::Peer, &[0.1, 0.1]);
        fast_but_failed.failure = Some("wrote 5 rows, not 10".to_owned());
        let group = Group {
            backend: Backend::Sqlite,
            rows: 10,
            rounds: 2,
            entries: vec![
                entry("flyte-sql run", Role::FlyteSql, &[1.0, 1.2]),
                fast_but_failed,
                entry("DuckDB", Role::Peer, &[2.0, 3.0]),
                entry("Python plugin", Role::Peer, &[9.0, 9.0]),
                entry("sqlite3 CLI", Role::Floor, &[0.5, 0.6]),
            ],
        };
        let best = group.best_peer().unwrap();
        assert_eq!(best.name, "DuckDB");
        assert_eq!(ratio_cell(group.subject(), Some(best)), "0.45 (0.40–0.50)");
        assert_eq!(
            ratio_cell(group.subject(), group.floor()),
            "2.00 (2.00–2.00)"
        );
        assert_eq!(ratio_cell(group.subject(), Some(&group.entries[1])), "n/a");
    }

    #[test]
    fn sizes_and_options_parse_and_refuse_nonsense() {
        assert_eq!(parse_size("100k").unwrap(), 100_000);
        assert_eq!(parse_size("1M").unwrap(), 1_000_000);
        assert_eq!(parse_size("250000").unwrap(), 250_000);
        for bad in ["", "0", "k", "1.5m", "-1k", "99999999999999999999m"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let arguments = |text: &str| {
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let options = Options::parse(&arguments(
            "--sizes 1m --rounds 3 --backends sqlite,postgres",
        ))
        .unwrap();
        assert_eq!(options.sizes, vec![1_000_000]);
        assert_eq!(options.rounds, 3);
        assert_eq!(options.backends, vec![Backend::Sqlite, Backend::Postgres]);
        let quick = Options::parse(&arguments("--quick --rounds 4")).unwrap();
        assert_eq!((quick.sizes, quick.rounds), (vec![100_000], 1));
        for bad in ["--rounds 0", "--rounds", "--backends oracle", "--fast"] {
            assert!(Options::parse(&arguments(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn gnu_time_output_parses_with_and_without_a_failure_line() {
        assert_eq!(parse_gnu_time("1.50 0.25 40960\n").unwrap(), (1.75, 40960));
        assert_eq!(
            parse_gnu_time("Command exited with non-zero status 1\n0.01 0.00 2048\n").unwrap(),
            (0.01, 2048)
        );
        assert!(parse_gnu_time("Command terminated by signal 9\n").is_err());
    }

    #[test]
    fn the_generated_rows_are_fixed_and_well_formed() {
        let mut rng = Prng(SEED);
        let mut line = String::new();
        let mut lines = Vec::new();
        for id in 1..=2000 {
            event_line(id, &mut rng, &mut line);
            lines.push(line.clone());
        }
        // The same seed gives the same rows.
        let mut again = Prng(SEED);
        event_line(1, &mut again, &mut line);
        assert_eq!(line, lines[0]);
        let mut nulls = 0;
        let mut non_ascii = 0;
        for (index, line) in lines.iter().enumerate() {
            let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
            assert_eq!(fields.len(), 7, "{line}");
            assert_eq!(fields[0], (index + 1).to_string());
            let name_chars = fields[3].chars().count();
            assert!((5..=40).contains(&name_chars), "{line}");
            assert!(!fields[3].contains(['\\', '"', '\t', '\n']), "{line}");
            non_ascii += usize::from(!fields[3].is_ascii());
            assert!(["0", "1"].contains(&fields[4]), "{line}");
            assert!(fields[5].len() == 19 || fields[5].len() == 26, "{line}");
            nulls += usize::from(fields[6] == "\\N");
        }
        assert!((300..500).contains(&nulls), "{nulls} NULL notes of 2000");
        assert!(non_ascii > 500, "{non_ascii} non-ASCII names of 2000");
    }

    #[test]
    fn versions_are_the_first_numeric_word() {
        let word = |line| version_word(line).unwrap();
        assert_eq!(word("3.40.1 2022-12-28 14:03:47 df5c"), "3.40.1");
        assert_eq!(word("PostgreSQL 15.20 (Debian 15.20-0+deb12u1)"), "15.20");
        assert_eq!(
            word("mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu"),
            "10.11.19-MariaDB-0+deb12u1"
        );
        assert_eq!(word("Python 3.11.7"), "3.11.7");
        assert_eq!(version_word("no version here"), None);
    }

    #[test]
    fn timestamps_are_civil_dates() {
        assert_eq!(timestamp_text(0, 0), "1970-01-01 00:00:00");
        assert_eq!(timestamp_text(CREATED_FROM, 0), "2020-01-01 00:00:00");
        // 2024-02-29 (a leap day) 12:34:56.000789
        assert_eq!(
            timestamp_text(1_709_210_096, 789),
            "2024-02-29 12:34:56.000789"
        );
        assert_eq!(timestamp_text(-1, 0), "1969-12-31 23:59:59");
    }

    #[test]
    fn the_docs_section_is_replaced_between_the_markers_only() {
        let document = format!(
            "# Performance\n\nintro\n\n{SECTION_BEGIN}\nold table\n{SECTION_END}\n\n## Levers\n\nkept\n"
        );
        let updated = replace_section(&document, "## Side by side\n\nnew table\n");
        assert_eq!(
            updated,
            format!(
                "# Performance\n\nintro\n\n{SECTION_BEGIN}\n## Side by side\n\nnew table\n{SECTION_END}\n\n## Levers\n\nkept\n"
            )
        );
        assert_eq!(
            replace_section(&updated, "## Side by side\n\nnew table\n"),
            updated
        );
        let fresh = replace_section("", "S");
        assert_eq!(
            fresh,
            format!("# Performance\n\n{SECTION_BEGIN}\nS\n{SECTION_END}\n")
        );
        let appended = replace_section("# Performance\n\n## Levers\n", "S");
        assert!(appended.starts_with("# Performance\n\n## Levers\n\n<!-- bench:begin"));
    }
}
