//! `cargo xtask image-check`: proves the executor image's final stage without a container engine.
//!
//! The release binary, built with the Dockerfile's command, goes into a Debian bookworm root file
//! system (`debootstrap --variant=minbase` from the mirror this machine's apt uses) holding exactly
//! the packages of `docker/runtime-packages.txt`, at the Dockerfile's paths and with its non-root
//! user. There `ldd` must find every library, and `pyflyte-execute` (the symlink) must run the
//! SQLite case of the propeller contract as that user. The root file system is cached under
//! `<target>/image-rootfs/`, keyed by a hash of what goes into it. Needs root (debootstrap, chroot).
//!
//! The constants below are what the Dockerfile says too; [`check_dockerfile`] (also a test) fails
//! when the two drift apart.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use crate::run_checked;

/// The final stage's packages, one per line: read by the Dockerfile and by this check.
const PACKAGE_LIST: &str = "docker/runtime-packages.txt";
/// The Dockerfile, at the workspace root.
const DOCKERFILE: &str = "Dockerfile";
/// The final stage's base image; the check's root file system is the same Debian release.
const BASE_IMAGE: &str = "debian:bookworm-slim";
/// The Debian release of [`BASE_IMAGE`].
const SUITE: &str = "bookworm";
/// The build stage's `cargo` arguments.
const BUILD_ARGS: [&str; 7] = [
    "build",
    "--release",
    "--locked",
    "-p",
    "flyte-sql",
    "--features",
    "all-backends",
];
/// The non-root user's `useradd` arguments.
const USERADD_ARGS: [&str; 5] = ["--uid", "1000", "--user-group", "--create-home", USER_NAME];
const USER_NAME: &str = "flytesql";
const USER_ID: u32 = 1000;
/// The user's home, the image's working directory.
const WORKDIR: &str = "/home/flytesql";
/// Where the binary lives in the image.
const BINARY: &str = "/usr/local/bin/flyte-sql";
/// The `pyflyte-execute` link next to it, relative so that it works in any root.
const LINK: &str = "/usr/local/bin/pyflyte-execute";
const LINK_TARGET: &str = "flyte-sql";
/// flytekit's golden container run of a Python-defined SQLAlchemyTask on SQLite.
const GOLDEN_RUN: &str = "tests/fixtures/conformance/int_input_typed_columns/entrypoint/run";
/// The script of the `golden.db` that run's template connects to (`sqlite:///golden.db`).
const GOLDEN_SQL: &str = "tests/fixtures/conformance/fixtures/golden_db.sql";

/// Runs the whole check; an error says which step failed and why.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let euid = fs::metadata("/proc/self")
        .context("reading /proc/self to learn the user id")?
        .uid();
    anyhow::ensure!(
        euid == 0,
        "image-check needs root for debootstrap and chroot (uid is {euid}): run it as root, as CI does"
    );
    let dockerfile = read(&root.join(DOCKERFILE))?;
    check_dockerfile(&dockerfile, &read(&root.join("Cargo.toml"))?)?;
    let packages = parse_packages(&read(&root.join(PACKAGE_LIST))?)
        .with_context(|| format!("reading the package list {PACKAGE_LIST}"))?;
    println!(
        "image-check: Dockerfile final stage agrees with this check ({PACKAGE_LIST}: {})",
        packages.join(" ")
    );

    let target_dir = target_dir(root)?;
    println!(
        "image-check: cargo {} (CARGO_TARGET_DIR={})",
        BUILD_ARGS.join(" "),
        target_dir.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(BUILD_ARGS);
    run_checked(build, "the release build")?;
    let binary = target_dir.join("release/flyte-sql");

    let sources = debian_sources(Path::new("/etc/apt"))?;
    let rootfs = root_file_system(&target_dir.join("image-rootfs"), &packages, &sources)?;
    install_binary(&rootfs, &binary)?;
    check_libraries(&rootfs)?;
    check_user(&rootfs)?;
    run_propeller_case(root, &rootfs)?;
    println!("image-check: ok ({}s)", started.elapsed().as_secs());
    Ok(())
}

/// The target directory: `CARGO_TARGET_DIR` (relative to the current directory) or `target/`.
fn target_dir(root: &Path) -> anyhow::Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => Ok(std::env::current_dir()
            .context("reading the current directory")?
            .join(dir)),
        None => Ok(root.join("target")),
    }
}

/// The packages of the package list: one per line, `#` starts a comment.
fn parse_packages(text: &str) -> anyhow::Result<Vec<String>> {
    let mut packages = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        anyhow::ensure!(
            line.bytes().all(|byte| byte.is_ascii_lowercase()
                || byte.is_ascii_digit()
                || b"+-.".contains(&byte)),
            "line {}: `{line}` is not one Debian package name: write one package per line",
            number + 1
        );
        packages.push(line.to_owned());
    }
    anyhow::ensure!(
        !packages.is_empty(),
        "no packages: the final stage needs at least the binary's libraries"
    );
    Ok(packages)
}

/// Checks that the Dockerfile says what this check assumes: its build stage runs our build
/// command on the workspace's rust-version, and its final stage is [`BASE_IMAGE`] with the package
/// list, the user, the binary and the link at our paths. Reports every difference.
fn check_dockerfile(dockerfile: &str, cargo_toml: &str) -> anyhow::Result<()> {
    let rust_version = cargo_toml
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .map(|version| version.trim().trim_matches('"'))
        .context("Cargo.toml has no `rust-version = \"...\"` line")?;
    let stages = stages(dockerfile);
    let mut problems = Vec::new();
    let (build, last) = match stages.as_slice() {
        [.., build, last] => (build, last),
        _ => {
            anyhow::bail!("{DOCKERFILE} must have a build stage and a final stage (two FROM lines)")
        }
    };
    let mut expect = |stage: &[String], what: &str, found: &dyn Fn(&str) -> bool| {
        if !stage.iter().any(|instruction| found(instruction)) {
            problems.push(what.to_owned());
        }
    };
    let build_from = format!("FROM rust:{rust_version}-{SUITE} AS build");
    expect(build, &build_from, &|line| line == build_from);
    let build_run = format!("RUN cargo {}", BUILD_ARGS.join(" "));
    expect(build, &build_run, &|line| line == build_run);
    let from = format!("FROM {BASE_IMAGE}");
    expect(last, &from, &|line| line == from);
    let copy_list = format!("COPY {PACKAGE_LIST} <path>, then a RUN that installs from <path>");
    expect(last, &copy_list, &|line| {
        line.strip_prefix(&format!("COPY {PACKAGE_LIST} "))
            .is_some_and(|copied| {
                last.iter().any(|run| {
                    run.starts_with("RUN ")
                        && run.contains(copied.trim())
                        && run.contains("apt-get install -y --no-install-recommends")
                })
            })
    });
    let useradd = format!("RUN useradd {}", USERADD_ARGS.join(" "));
    expect(last, &useradd, &|line| line == useradd);
    let copy_binary = format!("COPY --from=build <path>/release/flyte-sql {BINARY}");
    expect(last, &copy_binary, &|line| {
        line.starts_with("COPY --from=build ")
            && line.ends_with(&format!("/release/flyte-sql {BINARY}"))
    });
    let link = format!("RUN ln -s {LINK_TARGET} {LINK}");
    expect(last, &link, &|line| line == link);
    let user = format!("USER {USER_NAME}");
    expect(last, &user, &|line| line == user);
    let workdir = format!("WORKDIR {WORKDIR}");
    expect(last, &workdir, &|line| line == workdir);
    anyhow::ensure!(
        problems.is_empty(),
        "{DOCKERFILE} and xtask/src/image.rs disagree; the Dockerfile lacks:\n  {}\nchange both together",
        problems.join("\n  ")
    );
    Ok(())
}

/// The Dockerfile's stages, each a list of instructions (continuation lines joined, comments and
/// repeated spaces dropped), starting with its `FROM`.
fn stages(dockerfile: &str) -> Vec<Vec<String>> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        let (text, continued) = match line.strip_suffix('\\') {
            Some(text) => (text, true),
            None => (line, false),
        };
        current.push(' ');
        current.push_str(text);
        if !continued {
            instructions.push(current.split_whitespace().collect::<Vec<_>>().join(" "));
            current.clear();
        }
    }
    let mut stages: Vec<Vec<String>> = Vec::new();
    for instruction in instructions {
        match stages.last_mut() {
            Some(stage) if !instruction.starts_with("FROM ") => stage.push(instruction),
            _ => stages.push(vec![instruction]),
        }
    }
    stages
}

/// One `deb` line of apt's sources.
#[derive(Debug, PartialEq, Eq)]
struct Source {
    uri: String,
    suite: String,
    components: String,
}

/// The host's Debian [`SUITE`] sources (`bookworm`, `bookworm-updates`, `bookworm-security`) from
/// `sources.list`, `sources.list.d/*.list` and `sources.list.d/*.sources`: only their mirrors are
/// reachable here.
fn debian_sources(apt: &Path) -> anyhow::Result<Vec<Source>> {
    let mut files = vec![apt.join("sources.list")];
    if let Ok(entries) = fs::read_dir(apt.join("sources.list.d")) {
        let mut listed: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect();
        listed.sort();
        files.extend(listed);
    }
    let mut sources = Vec::new();
    for file in files.iter().filter(|file| file.is_file()) {
        let text = read(file)?;
        match file.extension().and_then(|extension| extension.to_str()) {
            Some("sources") => sources.extend(deb822_sources(&text)),
            Some("list") => sources.extend(one_line_sources(&text)),
            _ => {}
        }
    }
    sources
        .retain(|source| source.suite == SUITE || source.suite.starts_with(&format!("{SUITE}-")));
    anyhow::ensure!(
        sources.iter().any(|source| source.suite == SUITE),
        "no `deb` source for Debian {SUITE} in {}/sources.list*: image-check bootstraps from the mirror apt uses",
        apt.display()
    );
    Ok(sources)
}

/// `deb [options] URI SUITE COMPONENTS...` lines.
fn one_line_sources(text: &str) -> Vec<Source> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?.trim();
            let rest = line.strip_prefix("deb ")?.trim_start();
            let rest = match rest.strip_prefix('[') {
                Some(options) => options.split_once(']')?.1,
                None => rest,
            };
            let mut words = rest.split_whitespace();
            let uri = words.next()?.to_owned();
            let suite = words.next()?.to_owned();
            Some(Source {
                uri,
                suite,
                components: words.collect::<Vec<_>>().join(" "),
            })
        })
        .collect()
}

/// deb822 stanzas (`Types:`, `URIs:`, `Suites:`, `Components:`, `Enabled:`), one source per URI
/// and suite of a `deb` stanza.
fn deb822_sources(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let is_deb =
            field("Types").is_some_and(|types| types.split_whitespace().any(|t| t == "deb"));
        let enabled = field("Enabled").is_none_or(|enabled| !enabled.eq_ignore_ascii_case("no"));
        let (Some(uris), Some(suites)) = (field("URIs"), field("Suites")) else {
            continue;
        };
        if !is_deb || !enabled {
            continue;
        }
        let components = field("Components").unwrap_or_default();
        for uri in uris.split_whitespace() {
            for suite in suites.split_whitespace() {
                sources.push(Source {
                    uri: uri.to_owned(),
                    suite: suite.to_owned(),
                    components: components.clone(),
                });
            }
        }
    }
    sources
}

/// The cached root file system for these packages and sources, built when missing: debootstrap,
/// the host's sources, the packages, the user. Other (stale) root file systems are removed.
fn root_file_system(
    cache: &Path,
    packages: &[String],
    sources: &[Source],
) -> anyhow::Result<PathBuf> {
    let sources_list: String = sources
        .iter()
        .map(|source| {
            format!(
                "deb {} {} {}\n",
                source.uri, source.suite, source.components
            )
        })
        .collect();
    let key = fnv1a(
        format!(
            "{SUITE}\n{}\n{sources_list}{}\n",
            packages.join(" "),
            USERADD_ARGS.join(" ")
        )
        .as_bytes(),
    );
    let rootfs = cache.join(format!("{SUITE}-{key:016x}"));
    if rootfs.is_dir() {
        println!("image-check: root file system cached: {}", rootfs.display());
        return Ok(rootfs);
    }
    if cache.exists() {
        println!(
            "image-check: removing stale root file systems in {}",
            cache.display()
        );
        fs::remove_dir_all(cache).with_context(|| format!("removing {}", cache.display()))?;
    }
    let partial = cache.join(format!("{SUITE}-{key:016x}.partial"));
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    ensure_debootstrap()?;
    let mirror = &sources
        .iter()
        .find(|source| source.suite == SUITE)
        .expect("debian_sources returns a source for the suite")
        .uri;
    println!(
        "image-check: debootstrap --variant=minbase {SUITE} {} {mirror}",
        partial.display()
    );
    let mut debootstrap = Command::new("debootstrap");
    debootstrap
        .args(["--variant=minbase", SUITE])
        .arg(&partial)
        .arg(mirror)
        .stdout(std::process::Stdio::null());
    run_checked(debootstrap, "debootstrap")?;
    fs::write(partial.join("etc/apt/sources.list"), &sources_list)
        .context("writing the root file system's sources.list")?;
    println!(
        "image-check: apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    run_checked(
        chroot(&partial, ["apt-get", "update", "-qq"]),
        "apt-get update in the root file system",
    )?;
    let mut install = chroot(
        &partial,
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends"],
    );
    install
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(std::process::Stdio::null());
    run_checked(install, "apt-get install of the package list")?;
    run_checked(
        chroot(&partial, ["apt-get", "clean"]),
        "apt-get clean in the root file system",
    )?;
    println!("image-check: useradd {}", USERADD_ARGS.join(" "));
    let mut useradd = chroot(&partial, ["useradd"]);
    useradd.args(USERADD_ARGS);
    run_checked(useradd, "useradd in the root file system")?;
    fs::rename(&partial, &rootfs).with_context(|| format!("renaming {}", partial.display()))?;
    Ok(rootfs)
}

/// Installs debootstrap with apt-get when it is missing.
fn ensure_debootstrap() -> anyhow::Result<()> {
    let found = Command::new("debootstrap")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return Ok(());
    }
    println!("image-check: apt-get install debootstrap");
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    run_checked(update, "apt-get update")?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "debootstrap"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_checked(install, "apt-get install debootstrap")
}

/// Copies the binary in at [`BINARY`] and links [`LINK`] to it, as the Dockerfile does.
fn install_binary(rootfs: &Path, binary: &Path) -> anyhow::Result<()> {
    println!("image-check: install {BINARY}, {LINK} -> {LINK_TARGET}");
    let installed = inside(rootfs, BINARY);
    fs::copy(binary, &installed)
        .with_context(|| format!("copying {} to {}", binary.display(), installed.display()))?;
    let link = inside(rootfs, LINK);
    if link.symlink_metadata().is_ok() {
        fs::remove_file(&link).with_context(|| format!("removing {}", link.display()))?;
    }
    std::os::unix::fs::symlink(LINK_TARGET, &link)
        .with_context(|| format!("linking {}", link.display()))
}

/// `ldd` inside the root file system: every library of the binary must be found there.
fn check_libraries(rootfs: &Path) -> anyhow::Result<()> {
    println!("image-check: ldd {BINARY}");
    let output = chroot(rootfs, ["ldd", BINARY])
        .output()
        .context("starting ldd in the root file system")?;
    let listing = String::from_utf8_lossy(&output.stdout);
    for line in listing.lines() {
        println!("  {}", line.trim());
    }
    anyhow::ensure!(
        output.status.success(),
        "ldd failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let missing: Vec<&str> = listing
        .lines()
        .filter(|line| line.contains("not found"))
        .map(str::trim)
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "libraries missing from the final stage: {}; add their packages to {PACKAGE_LIST}",
        missing.join(", ")
    );
    Ok(())
}

/// The user exists in the root file system with the Dockerfile's uid and owns the working directory.
fn check_user(rootfs: &Path) -> anyhow::Result<()> {
    let output = chroot(rootfs, ["id", "-u", USER_NAME])
        .output()
        .context("starting id in the root file system")?;
    let uid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    anyhow::ensure!(
        uid == USER_ID.to_string(),
        "user {USER_NAME} has uid `{uid}` in the root file system, expected {USER_ID}: delete {} and rerun",
        rootfs.display()
    );
    let owner = fs::metadata(inside(rootfs, WORKDIR))
        .with_context(|| format!("reading {WORKDIR} in the root file system"))?
        .uid();
    anyhow::ensure!(
        owner == USER_ID,
        "{WORKDIR} belongs to uid {owner}, not to {USER_NAME}: the working directory must be writable by the image's user"
    );
    println!("image-check: user {USER_NAME} (uid {USER_ID}) owns {WORKDIR}");
    Ok(())
}

/// The SQLite case of the propeller contract, as the image's user in its working directory: the
/// golden TaskTemplate and inputs, `golden.db`, and the reference's container args through the
/// `pyflyte-execute` link.
fn run_propeller_case(root: &Path, rootfs: &Path) -> anyhow::Result<()> {
    let run_dir_inside = format!("{WORKDIR}/propeller");
    let run_dir = inside(rootfs, &run_dir_inside);
    if run_dir.exists() {
        fs::remove_dir_all(&run_dir).with_context(|| format!("clearing {}", run_dir.display()))?;
    }
    fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let golden = root.join(GOLDEN_RUN);
    for file in ["task.pb", "inputs.pb"] {
        fs::copy(golden.join(file), run_dir.join(file))
            .with_context(|| format!("copying {GOLDEN_RUN}/{file}"))?;
    }
    let mut database = Command::new("python3");
    database
        .args([
            "-c",
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.executescript(open(sys.argv[2]).read()); db.commit()",
        ])
        .arg(run_dir.join("golden.db"))
        .arg(root.join(GOLDEN_SQL));
    run_checked(database, "python3 building golden.db (install python3)")?;
    for path in [
        run_dir.clone(),
        run_dir.join("task.pb"),
        run_dir.join("inputs.pb"),
        run_dir.join("golden.db"),
    ] {
        std::os::unix::fs::chown(&path, Some(USER_ID), Some(USER_ID))
            .with_context(|| format!("giving {} to {USER_NAME}", path.display()))?;
    }

    let args = [
        "pyflyte-execute",
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
    ];
    println!(
        "image-check: as {USER_NAME} in {run_dir_inside}: {}",
        args.join(" ")
    );
    let mut execute = Command::new("chroot");
    execute
        .arg(format!("--userspec={USER_ID}:{USER_ID}"))
        .arg(rootfs)
        .args(["env", "-i"])
        .arg(format!("--chdir={run_dir_inside}"))
        .arg("PATH=/usr/local/bin:/usr/bin:/bin")
        .arg(format!("HOME={WORKDIR}"))
        .arg("LANG=C.UTF-8")
        .args(args);
    run_checked(execute, "pyflyte-execute in the root file system")?;

    let out = run_dir.join("out");
    let errors: Vec<String> = fs::read_dir(&out)
        .with_context(|| format!("listing {}: the run wrote no output prefix", out.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("error"))
        .collect();
    anyhow::ensure!(
        errors.is_empty(),
        "the run failed: it wrote {} under {}",
        errors.join(", "),
        out.display()
    );
    anyhow::ensure!(
        out.join("outputs.pb").is_file(),
        "the run wrote no {}",
        out.join("outputs.pb").display()
    );
    let raw = run_dir.join("raw");
    let directories: Vec<String> = fs::read_dir(&raw)
        .with_context(|| format!("listing {}: the run wrote no raw data", raw.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let [directory] = directories.as_slice() else {
        anyhow::bail!(
            "expected one directory under {}, found {directories:?}",
            raw.display()
        );
    };
    anyhow::ensure!(
        directory.len() == 32 && directory.bytes().all(|byte| byte.is_ascii_hexdigit()),
        "the raw data directory `{directory}` is not 32 hex digits"
    );
    let parquet = raw.join(directory).join("00000");
    anyhow::ensure!(parquet.is_file(), "the run wrote no {}", parquet.display());
    println!("image-check: out/outputs.pb, no error.pb, raw/{directory}/00000");
    Ok(())
}

/// A command run inside the root file system as root.
fn chroot<const N: usize>(rootfs: &Path, args: [&str; N]) -> Command {
    let mut command = Command::new("chroot");
    command.arg(rootfs).args(args);
    command
}

/// The host path of an absolute path inside the root file system.
fn inside(rootfs: &Path, path: &str) -> PathBuf {
    rootfs.join(path.trim_start_matches('/'))
}

/// FNV-1a, 64 bits: a stable cache key (std's hasher may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_file(path: &str) -> String {
        read(&crate::project_root().join(path)).unwrap()
    }

    #[test]
    fn the_dockerfile_says_what_the_check_assumes() {
        check_dockerfile(&project_file(DOCKERFILE), &project_file("Cargo.toml")).unwrap();
        assert!(
            !parse_packages(&project_file(PACKAGE_LIST))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_dockerfile_without_the_package_list_is_refused() {
        let dockerfile = project_file(DOCKERFILE).replace(PACKAGE_LIST, "docker/other.txt");
        let error = check_dockerfile(&dockerfile, &project_file("Cargo.toml")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Dockerfile and xtask/src/image.rs disagree; the Dockerfile lacks:\n  COPY docker/runtime-packages.txt <path>, then a RUN that installs from <path>\nchange both together"
        );
    }

    #[test]
    fn package_lists_take_one_package_per_line() {
        assert_eq!(
            parse_packages("# libraries\nlibpq5\n\nca-certificates  # roots\n").unwrap(),
            ["libpq5", "ca-certificates"]
        );
        assert_eq!(
            parse_packages("libpq5 libmariadb3\n")
                .unwrap_err()
                .to_string(),
            "line 1: `libpq5 libmariadb3` is not one Debian package name: write one package per line"
        );
    }

    #[test]
    fn apt_sources_are_read_in_both_formats() {
        let deb822 = "Types: deb\n# a comment\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://off.example\nSuites: bookworm\n";
        let one_line = "deb [signed-by=/k.gpg] http://sec.example/debian-security bookworm-security main # x\ndeb-src http://src.example bookworm main\n";
        let shown = |sources: Vec<Source>| {
            sources
                .iter()
                .map(|source| format!("{} {} {}", source.uri, source.suite, source.components))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shown(deb822_sources(deb822)),
            [
                "http://deb.example/debian bookworm main",
                "http://deb.example/debian bookworm-updates main"
            ]
        );
        assert_eq!(
            shown(one_line_sources(one_line)),
            ["http://sec.example/debian-security bookworm-security main"]
        );
    }
}
