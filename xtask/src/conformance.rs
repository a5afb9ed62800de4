//! `cargo xtask conformance`: the Python oracle. The real `flyteidl==1.16.8` (pip-installed into
//! `target/conformance-venv`) decodes every kind of message flyte-sql emits and compares it with
//! flytekit's goldens in `tests/fixtures/conformance/`.
//!
//! Steps: make the virtualenv (once per pinned requirement set); write our descriptor set; run the
//! `conformance_emit` example of flyte-sql-idl (TaskTemplates, TaskSpecs, LiteralMaps,
//! ErrorDocuments, Nodes, with a manifest of goldens and normalizations); run `flyte-sql package` on
//! the golden package's tasks; then `xtask/conformance/oracle.py`, which fails on any mismatch.
//!
//! Then the runtime's outputs, with the real Python stack (flytekit 1.16.31, pandas, pyarrow): every
//! recorded entrypoint run of the goldens (`<case>/entrypoint/<run>/`) is replayed in a scratch
//! directory `target/conformance-runs/<case>/<run>/` (`golden.db`, `task.pb`, `inputs.pb`) by
//! `flyte-sql pyflyte-execute` with the run README's exact argv and environment (and again in
//! `target/conformance-runs-symlink/`, the README's command verbatim through a `pyflyte-execute`
//! symlink to the binary in `target/conformance-bin/`), and `xtask/conformance/outputs_oracle.py`
//! compares what it wrote with the golden run: the output files, the LiteralMap, the Parquet values,
//! the error document's classification, and flytekit reading every `outputs.pb` as a DataFrame, a
//! StructuredDataset and a FlyteSchema.
//!
//! The same checks also run over flytekit's own golden runs (copied to
//! `target/conformance-goldens/<case>/<run>/`) as a self-test of the oracle: everything must pass
//! there except the checks of flyte-sql's documented deviations and classification, which must fail.
//!
//! Options: `--runs-only` skips the message oracle; `--runs-from-goldens` runs only the self-test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::codegen;
use crate::run_checked;

/// The flyteidl release our `.proto` files mirror (crates/flyte-sql-idl/proto/VERSION).
const FLYTEIDL_VERSION: &str = "1.16.8";

/// What the virtualenv holds: the versions the goldens were made with
/// (`tests/fixtures/conformance/VERSIONS.json`, checked below). Changing this list reinstalls.
const REQUIREMENTS: &[(&str, &str)] = &[
    ("flyteidl", FLYTEIDL_VERSION),
    ("flytekit", "1.16.31"),
    ("flytekitplugins-sqlalchemy", "1.16.31"),
    ("protobuf", "7.36.2"),
    ("SQLAlchemy", "2.1.9"),
    ("pandas", "3.1.1"),
    ("pyarrow", "26.0.1"),
    ("numpy", "2.4.6"),
];

/// Which parts `cargo xtask conformance` runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The message oracle, our runtime's runs and the self-test over the goldens.
    All,
    /// `--runs-only`: our runtime's runs and the self-test.
    Runs,
    /// `--runs-from-goldens`: only the self-test of the outputs oracle over flytekit's runs.
    Goldens,
}

/// Where the outputs of a replayed run come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RunSource {
    /// `flyte-sql pyflyte-execute ARGS`, run in the scratch directory.
    FlyteSql,
    /// `pyflyte-execute ARGS`, the README's command verbatim, through a symlink to our binary (as
    /// in the executor image).
    Symlink,
    /// The golden run's own `out/` and `raw/`, copied (the oracle's self-test).
    Goldens,
}

/// Runs the oracle; an error means a mismatch (the oracle prints each one) or a broken setup.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let mut scope = Scope::All;
    // `cargo xtask conformance [OPTION]`: the arguments after the subcommand's name.
    for argument in std::env::args().skip(2) {
        scope = match argument.as_str() {
            "--runs-only" => Scope::Runs,
            "--runs-from-goldens" => Scope::Goldens,
            other => anyhow::bail!(
                "unknown conformance option `{other}` (expected --runs-only or --runs-from-goldens)"
            ),
        };
    }
    let python = virtualenv(root)?;
    if scope == Scope::All {
        messages(root, &python)?;
    }
    let mut failures = Vec::new();
    // The self-test first: it says whether the oracle itself can be trusted.
    if let Err(error) = runs(root, &python, RunSource::Goldens) {
        failures.push(format!("{error:#}"));
    }
    if scope != Scope::Goldens {
        for source in [RunSource::FlyteSql, RunSource::Symlink] {
            if let Err(error) = runs(root, &python, source) {
                failures.push(format!("{error:#}"));
            }
        }
    }
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// The message oracle: everything we emit, decoded by flyteidl and compared with the goldens.
fn messages(root: &Path, python: &Path) -> anyhow::Result<()> {
    let proto_version = fs::read_to_string(root.join("crates/flyte-sql-idl/proto/VERSION"))
        .context("reading crates/flyte-sql-idl/proto/VERSION")?;
    anyhow::ensure!(
        proto_version.trim() == FLYTEIDL_VERSION,
        "the protos say flyteidl {}, the oracle installs {FLYTEIDL_VERSION}: update xtask/src/conformance.rs",
        proto_version.trim()
    );
    let emitted = root.join("target/conformance-emitted");
    if emitted.exists() {
        fs::remove_dir_all(&emitted).with_context(|| format!("clearing {}", emitted.display()))?;
    }
    fs::create_dir_all(&emitted).with_context(|| format!("creating {}", emitted.display()))?;

    let descriptor_set = codegen::file_descriptor_set(root, false)?;
    fs::write(
        emitted.join("flyte-sql.descriptor_set.bin"),
        prost::Message::encode_to_vec(&descriptor_set),
    )
    .context("writing the descriptor set")?;

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut emit = Command::new(&cargo);
    emit.current_dir(root)
        .args([
            "run",
            "--quiet",
            "--package",
            "flyte-sql-idl",
            "--example",
            "conformance_emit",
            "--",
        ])
        .arg(&emitted);
    run_checked(emit, "the conformance_emit example")?;

    let package_tasks = root.join("tests/fixtures/conformance/_flyte_sql_extra/package");
    let mut package = Command::new(&cargo);
    package
        .current_dir(root)
        .args([
            "run",
            "--quiet",
            "--package",
            "flyte-sql",
            "--bin",
            "flyte-sql",
            "--",
            "package",
        ])
        .arg(package_tasks.join("tracks.toml"))
        .arg(package_tasks.join("insert.toml"))
        .args(["--image", "ghcr.io/example/sql:latest", "--output"])
        .arg(emitted.join("flyte-package.tgz"));
    run_checked(package, "flyte-sql package")?;

    let mut oracle = Command::new(python);
    oracle
        .arg(root.join("xtask/conformance/oracle.py"))
        .arg(&emitted)
        .arg(root.join("tests/fixtures/conformance"));
    run_checked(oracle, "the Python oracle (xtask/conformance/oracle.py)")
}

/// The virtualenv's python, after creating the venv and installing [`REQUIREMENTS`] when the
/// marker file `target/conformance-venv/requirements.txt` does not list exactly them.
fn virtualenv(root: &Path) -> anyhow::Result<PathBuf> {
    let versions_path = root.join("tests/fixtures/conformance/VERSIONS.json");
    let versions = fs::read_to_string(&versions_path)
        .with_context(|| format!("reading {}", versions_path.display()))?;
    for (package, version) in REQUIREMENTS {
        anyhow::ensure!(
            versions.contains(&format!("\"{package}\": \"{version}\"")),
            "{} does not say {package} {version}: update REQUIREMENTS in xtask/src/conformance.rs",
            versions_path.display()
        );
    }
    python_virtualenv(&root.join("target/conformance-venv"), REQUIREMENTS)
}

/// The python of the virtualenv `venv`, after creating it and installing `requirements` when the
/// marker file `<venv>/requirements.txt` does not list exactly them (shared with `xtask bench`).
pub(crate) fn python_virtualenv(
    venv: &Path,
    requirements: &[(&str, &str)],
) -> anyhow::Result<PathBuf> {
    let requirements: String = requirements
        .iter()
        .map(|(package, version)| format!("{package}=={version}\n"))
        .collect();
    let python = venv.join("bin/python");
    let marker = venv.join("requirements.txt");
    if python.exists() && fs::read_to_string(&marker).ok().as_deref() == Some(&requirements) {
        return Ok(python);
    }
    if !python.exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(venv);
        run_checked(
            create,
            "python3 -m venv (install python3 with its venv module)",
        )?;
    }
    println!("installing the pinned Python stack into {}", venv.display());
    let _ = fs::remove_file(&marker);
    let pending = venv.join("requirements.pending.txt");
    fs::write(&pending, &requirements).with_context(|| format!("writing {}", pending.display()))?;
    let mut install = Command::new(&python);
    install
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--requirement",
        ])
        .arg(&pending);
    run_checked(install, &format!("pip install into {}", venv.display()))?;
    // Written only after a successful install, so an interrupted one is retried.
    fs::rename(&pending, &marker).with_context(|| format!("writing {}", marker.display()))?;
    Ok(python)
}

/// One recorded entrypoint run of a golden case.
struct GoldenRun {
    case: String,
    run: String,
    dir: PathBuf,
}

/// Every `<case>/entrypoint/<run>/` of the conformance fixtures, sorted.
fn golden_runs(fixtures: &Path) -> anyhow::Result<Vec<GoldenRun>> {
    let mut runs = Vec::new();
    for case in sorted_dirs(fixtures)? {
        let entrypoint = case.join("entrypoint");
        if !entrypoint.is_dir() {
            continue;
        }
        for dir in sorted_dirs(&entrypoint)? {
            runs.push(GoldenRun {
                case: file_name(&case),
                run: file_name(&dir),
                dir,
            });
        }
    }
    anyhow::ensure!(
        !runs.is_empty(),
        "no entrypoint runs under {}",
        fixtures.display()
    );
    Ok(runs)
}

fn sorted_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What a run's README says: the command line after `pyflyte-execute`, the environment besides
/// PATH/HOME, and the exit status.
struct RunReadme {
    args: Vec<String>,
    env: Vec<(String, String)>,
    exit_status: i32,
}

fn parse_readme(path: &Path) -> anyhow::Result<RunReadme> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut args = None;
    let mut env = Vec::new();
    let mut exit_status = None;
    let mut in_environment = false;
    for line in text.lines() {
        if line.starts_with("Environment") {
            in_environment = true;
        } else if line.starts_with("Files:") {
            in_environment = false;
        }
        if let Some(command) = line.strip_prefix("    pyflyte-execute ") {
            args = Some(command.split_whitespace().map(str::to_owned).collect());
        } else if in_environment {
            if let Some((name, value)) = line.trim().split_once('=') {
                let value = value
                    .strip_prefix('\'')
                    .and_then(|value| value.strip_suffix('\''))
                    .with_context(|| format!("{}: unquoted value in `{line}`", path.display()))?;
                env.push((name.to_owned(), value.to_owned()));
            }
        } else if let Some(status) = line.strip_prefix("Exit status of the process: ") {
            exit_status = Some(status.trim_end_matches('.').parse()?);
        }
    }
    Ok(RunReadme {
        args: args.with_context(|| format!("{}: no pyflyte-execute command", path.display()))?,
        env,
        exit_status: exit_status.with_context(|| format!("{}: no exit status", path.display()))?,
    })
}

/// Replays every golden run from `source` into a scratch directory, then runs
/// `xtask/conformance/outputs_oracle.py` over them.
fn runs(root: &Path, python: &Path, source: RunSource) -> anyhow::Result<()> {
    let fixtures = root.join("tests/fixtures/conformance");
    let (scratch, label) = match source {
        RunSource::FlyteSql => (
            root.join("target/conformance-runs"),
            "flyte-sql pyflyte-execute",
        ),
        RunSource::Symlink => (
            root.join("target/conformance-runs-symlink"),
            "pyflyte-execute (a symlink to flyte-sql)",
        ),
        RunSource::Goldens => (
            root.join("target/conformance-goldens"),
            "the self-test over flytekit's golden runs",
        ),
    };
    println!("conformance: runtime outputs of {label}");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).with_context(|| format!("clearing {}", scratch.display()))?;
    }
    let golden_runs = golden_runs(&fixtures)?;
    let run_dirs: Vec<PathBuf> = golden_runs
        .iter()
        .map(|golden| scratch.join(&golden.case).join(&golden.run))
        .collect();
    for (golden, dir) in golden_runs.iter().zip(&run_dirs) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for file in ["task.pb", "inputs.pb"] {
            copy(&golden.dir.join(file), &dir.join(file))?;
        }
    }
    let mut build_db = Command::new(python);
    build_db
        .arg(root.join("xtask/conformance/outputs_oracle.py"))
        .arg("build-db")
        .arg(fixtures.join("fixtures/golden_db.sql"))
        .args(run_dirs.iter().map(|dir| dir.join("golden.db")));
    run_checked(build_db, "building golden.db (outputs_oracle.py build-db)")?;

    // The program and the subcommand before the README's arguments.
    let program = match source {
        RunSource::FlyteSql | RunSource::Symlink => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let mut build = Command::new(cargo);
            build.current_dir(root).args([
                "build",
                "--quiet",
                "--package",
                "flyte-sql",
                "--bin",
                "flyte-sql",
            ]);
            run_checked(build, "cargo build --package flyte-sql --bin flyte-sql")?;
            let binary = root.join("target/debug/flyte-sql");
            if source == RunSource::FlyteSql {
                Some((binary, Some("pyflyte-execute")))
            } else {
                let bin = root.join("target/conformance-bin");
                fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
                let link = bin.join("pyflyte-execute");
                if link.symlink_metadata().is_ok() {
                    fs::remove_file(&link)
                        .with_context(|| format!("removing {}", link.display()))?;
                }
                std::os::unix::fs::symlink(&binary, &link).with_context(|| {
                    format!("linking {} to {}", link.display(), binary.display())
                })?;
                Some((link, None))
            }
        }
        RunSource::Goldens => None,
    };
    let mut exit_mismatches = Vec::new();
    for (golden, dir) in golden_runs.iter().zip(&run_dirs) {
        let readme = parse_readme(&golden.dir.join("README.md"))?;
        match &program {
            Some((program, subcommand)) => {
                let mut execute = Command::new(program);
                execute
                    .current_dir(dir)
                    .env_clear()
                    .args(subcommand)
                    .args(&readme.args)
                    .envs(readme.env.iter().map(|(name, value)| (name, value)));
                for name in ["PATH", "HOME"] {
                    if let Some(value) = std::env::var_os(name) {
                        execute.env(name, value);
                    }
                }
                let output = execute
                    .output()
                    .with_context(|| format!("starting {}", program.display()))?;
                let log = dir.join("log.txt");
                fs::write(&log, [output.stdout, output.stderr].concat())
                    .with_context(|| format!("writing {}", log.display()))?;
                if output.status.code() != Some(readme.exit_status) {
                    exit_mismatches.push(format!(
                        "{}/{}: {label} exited with {}, the reference with {} (log: {})",
                        golden.case,
                        golden.run,
                        output.status,
                        readme.exit_status,
                        log.display()
                    ));
                }
            }
            None => {
                // What the entrypoint wrote; the `.json` renderings beside it are the fixtures'.
                for sub in ["out", "raw"] {
                    if golden.dir.join(sub).exists() {
                        copy_tree(&golden.dir.join(sub), &dir.join(sub))?;
                    }
                }
            }
        }
    }

    let mut oracle = Command::new(python);
    oracle
        .arg(root.join("xtask/conformance/outputs_oracle.py"))
        .arg("check")
        .arg(&scratch)
        .arg(&fixtures);
    if source == RunSource::Goldens {
        oracle.arg("--goldens");
    }
    let checked = run_checked(oracle, &format!("the outputs oracle ({label})"));
    for mismatch in &exit_mismatches {
        eprintln!("FAIL: {mismatch}");
    }
    anyhow::ensure!(
        exit_mismatches.is_empty(),
        "{} run(s) of {label} exited unlike the reference",
        exit_mismatches.len()
    );
    checked
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else if path.extension().is_none_or(|extension| extension != "json") {
            copy(&path, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        crate::project_root().join("tests/fixtures/conformance")
    }

    #[test]
    fn every_golden_run_has_a_readme_with_the_reference_command() {
        let runs = golden_runs(&fixtures()).unwrap();
        assert!(runs.iter().any(|run| run.case == "sql_error"));
        for run in runs {
            let readme = parse_readme(&run.dir.join("README.md")).unwrap();
            assert_eq!(readme.args[..2], ["--inputs", "inputs.pb"], "{}", run.case);
            assert_eq!(
                readme.args.last().unwrap(),
                "flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor"
            );
            assert!(
                readme
                    .env
                    .contains(&("FLYTE_SDK_LOGGING_LEVEL".to_owned(), "20".to_owned())),
                "{}: {:?}",
                run.case,
                readme.env
            );
            assert_eq!(readme.exit_status, 0, "{}", run.case);
        }
    }

    #[test]
    fn the_pins_are_the_goldens_versions() {
        let versions = fs::read_to_string(fixtures().join("VERSIONS.json")).unwrap();
        for (package, version) in REQUIREMENTS {
            assert!(
                versions.contains(&format!("\"{package}\": \"{version}\"")),
                "{package}"
            );
        }
    }
}
