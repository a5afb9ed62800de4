//! `cargo xtask conformance`: the Python oracle. The real `flyteidl==1.16.8` (pip-installed into
//! `target/conformance-venv`) decodes every kind of message flyte-sql emits and compares it with
//! flytekit's goldens in `tests/fixtures/conformance/`.
//!
//! Steps: make the virtualenv (once); write our descriptor set; run the `conformance_emit` example
//! of flyte-sql-idl (TaskTemplates, TaskSpecs, LiteralMaps, ErrorDocuments, Nodes, with a manifest
//! of goldens and normalizations); run `flyte-sql package` on the golden package's tasks; then
//! `xtask/conformance/oracle.py`, which fails on any mismatch.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::codegen;

/// The flyteidl release our `.proto` files mirror (crates/flyte-sql-idl/proto/VERSION).
const FLYTEIDL_VERSION: &str = "1.16.8";

/// Runs the oracle; an error means a mismatch (the oracle prints each one) or a broken setup.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let proto_version = fs::read_to_string(root.join("crates/flyte-sql-idl/proto/VERSION"))
        .context("reading crates/flyte-sql-idl/proto/VERSION")?;
    anyhow::ensure!(
        proto_version.trim() == FLYTEIDL_VERSION,
        "the protos say flyteidl {}, the oracle installs {FLYTEIDL_VERSION}: update xtask/src/conformance.rs",
        proto_version.trim()
    );
    let python = virtualenv(root)?;
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

    let mut oracle = Command::new(&python);
    oracle
        .arg(root.join("xtask/conformance/oracle.py"))
        .arg(&emitted)
        .arg(root.join("tests/fixtures/conformance"));
    run_checked(oracle, "the Python oracle (xtask/conformance/oracle.py)")
}

/// The virtualenv's python, after creating the venv and installing flyteidl when needed.
fn virtualenv(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/conformance-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        run_checked(
            create,
            "python3 -m venv (install python3 with its venv module)",
        )?;
    }
    let installed = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('flyteidl'))",
        ])
        .output()
        .context("asking the virtualenv for its flyteidl version")?;
    if String::from_utf8_lossy(&installed.stdout).trim() != FLYTEIDL_VERSION {
        let mut install = Command::new(&python);
        install
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("flyteidl=={FLYTEIDL_VERSION}"));
        run_checked(install, "pip install flyteidl")?;
    }
    Ok(python)
}

fn run_checked(mut command: Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {what}"))?;
    anyhow::ensure!(status.success(), "{what} failed ({status})");
    Ok(())
}
