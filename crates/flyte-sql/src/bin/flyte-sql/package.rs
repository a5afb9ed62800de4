//! `flyte-sql package`: task files to a registration archive for `flytectl register files`, like
//! `pyflyte package`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use flyte_sql_idl::package_members;

use crate::serialize::{SettingsArgs, load_tasks};
use crate::terminal::print_line;

/// Package task files for `flytectl register files`: a gzip tar of `<index>_<name>_1.pb`
/// TaskSpecs, with project, domain and version left for flytectl to fill.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  flyte-sql package examples/*.toml --image ghcr.io/example/sql:1.0 -o flyte-package.tgz
  flytectl register files --project flytesnacks --domain development --version v1 \\
      --archive flyte-package.tgz")]
pub(crate) struct PackageArgs {
    /// Task files (TOML).
    #[arg(required = true, value_name = "TASK.toml")]
    tasks: Vec<PathBuf>,
    #[command(flatten)]
    settings: SettingsArgs,
    /// The archive to write.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "flyte-package.tgz"
    )]
    output: PathBuf,
}

pub(crate) fn run(args: &PackageArgs) -> anyhow::Result<()> {
    // `pyflyte package` leaves project, domain and version empty: flytectl fills them.
    let settings = args.settings.settings("", "", "")?;
    let tasks = load_tasks(&args.tasks)?;
    let members = package_members(&tasks, &settings).context("serializing the tasks")?;
    let mtime = archive_mtime();
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for member in &members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_size(member.contents.len() as u64);
        archive
            .append_data(&mut header, &member.name, member.contents.as_slice())
            .with_context(|| format!("adding {} to the archive", member.name))?;
    }
    let compressed = archive
        .into_inner()
        .and_then(|gzip| gzip.finish())
        .context("finishing the archive")?;
    flyte_sql_storage::Location::local(&args.output).write_atomically(&compressed)?;
    for member in &members {
        print_line(&member.name)?;
    }
    print_line(&format!(
        "packaged {} task(s) into {}",
        members.len(),
        args.output.display()
    ))?;
    Ok(())
}

/// The members' modification time: `SOURCE_DATE_EPOCH` when set (reproducible archives), else now.
fn archive_mtime() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs())
        })
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::Path;

    use flyte_sql_idl::Message;
    use flyte_sql_idl::proto::admin::TaskSpec;

    use super::*;
    use crate::serialize::tests::{fixture_task, settings_args};

    fn golden(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/conformance/_reference/package")
            .join(name)
    }

    #[test]
    fn the_archive_has_pyflyte_packages_members_and_task_specs() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("flyte-package.tgz");
        let args = PackageArgs {
            tasks: vec![fixture_task("tracks.toml"), fixture_task("insert.toml")],
            settings: settings_args(&[], &["ghcr.io/example/sql:latest"]),
            output: output.clone(),
        };
        run(&args).unwrap();

        let listing: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(golden("listing.json")).unwrap())
                .unwrap();
        let gzip = flate2::read::GzDecoder::new(std::fs::File::open(&output).unwrap());
        let mut archive = tar::Archive::new(gzip);
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            assert_eq!(entry.header().mode().unwrap(), 0o644);
            assert_eq!(entry.header().entry_type(), tar::EntryType::Regular);
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            let mut ours = TaskSpec::decode(bytes.as_slice()).unwrap();
            let golden =
                TaskSpec::decode(std::fs::read(golden(&name)).unwrap().as_slice()).unwrap();
            // The one allowed difference: metadata.runtime names the serializer.
            let runtime = |spec: &mut TaskSpec| {
                spec.template
                    .as_mut()
                    .unwrap()
                    .metadata
                    .as_mut()
                    .unwrap()
                    .runtime
                    .take()
            };
            let mut golden = golden;
            assert_eq!(runtime(&mut ours).unwrap().flavor, "flyte-sql");
            assert_eq!(runtime(&mut golden).unwrap().flavor, "python");
            assert_eq!(ours, golden, "{name}");
            names.push(name);
        }
        let golden_names: Vec<&str> = listing["members_in_archive_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|member| member["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, golden_names);
    }
}
