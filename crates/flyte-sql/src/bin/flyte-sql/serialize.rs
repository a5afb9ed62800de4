//! `flyte-sql serialize`: task files to Flyte TaskTemplates (`<name>.pb`, and with `--json` a
//! proto3 JSON rendering next to it).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use clap::builder::NonEmptyStringValueParser;
use flyte_sql_idl::{
    DEFAULT_IMAGE_NAME, Image, ImageConfig, Message, SerializationSettings, task_template,
    to_proto3_json,
};
use flyte_sql_model::SqlTask;

use crate::UsageError;

/// Serialize task files into Flyte TaskTemplates, one `<name>.pb` per task.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  flyte-sql serialize examples/top_n.toml --project flytesnacks --domain development --version v1 \\
      --image ghcr.io/example/sql:1.0 --out build/ --json")]
pub(crate) struct SerializeArgs {
    /// Task files (TOML).
    #[arg(required = true, value_name = "TASK.toml")]
    tasks: Vec<PathBuf>,
    /// The Flyte project the tasks are registered in.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    project: String,
    /// The Flyte domain the tasks are registered in.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    domain: String,
    /// The version the tasks are registered under.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    version: String,
    #[command(flatten)]
    settings: SettingsArgs,
    /// The directory the files are written to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Also write `<name>.json`, the TaskTemplate in proto3 JSON (as protobuf's MessageToJson with
    /// the .proto field names).
    #[arg(long)]
    json: bool,
}

/// The serialization settings shared by `serialize` and `package`.
#[derive(Debug, Args)]
pub(crate) struct SettingsArgs {
    /// An environment variable for every task, as KEY=VALUE; a task's own environment wins.
    /// Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// An image for `{{.image.NAME.fqn}}`-style placeholders in task images, as NAME=FQN:TAG (or
    /// FQN@DIGEST); without `NAME=` it is the image named `default`. Repeatable.
    #[arg(long = "image", value_name = "NAME=FQN:TAG")]
    images: Vec<String>,
}

impl SettingsArgs {
    /// The settings for these flags; `FLYTE_INTERNAL_IMAGE` (when set and non-empty) replaces the
    /// default image of both runtimes, as flytekit does for its own.
    pub(crate) fn settings(
        &self,
        project: &str,
        domain: &str,
        version: &str,
    ) -> anyhow::Result<SerializationSettings> {
        let mut env = Vec::new();
        for pair in &self.env {
            let (key, value) = pair
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or_else(|| UsageError(format!("--env `{pair}`: expected KEY=VALUE")))?;
            env.push((key.to_owned(), value.to_owned()));
        }
        let mut default_image = None;
        let mut images: Vec<Image> = Vec::new();
        for spec in &self.images {
            let (name, reference) = spec.split_once('=').unwrap_or((DEFAULT_IMAGE_NAME, spec));
            let image = Image::parse(name, reference).context("in --image")?;
            let duplicate = images.iter().any(|known| known.name == image.name)
                || (image.name == DEFAULT_IMAGE_NAME && default_image.is_some());
            if duplicate {
                return Err(UsageError(format!(
                    "--image `{spec}`: an image named `{}` was already given",
                    image.name
                ))
                .into());
            }
            if image.name == DEFAULT_IMAGE_NAME {
                default_image = Some(image);
            } else {
                images.push(image);
            }
        }
        let internal_image = std::env::var("FLYTE_INTERNAL_IMAGE")
            .ok()
            .filter(|image| !image.is_empty());
        Ok(SerializationSettings {
            project: project.to_owned(),
            domain: domain.to_owned(),
            version: version.to_owned(),
            env,
            image_config: ImageConfig {
                default_image,
                images,
                internal_image,
            },
        })
    }
}

/// Loads every task file (printing its definition warnings), rejecting two tasks of the same name
/// (their files would collide).
pub(crate) fn load_tasks(paths: &[PathBuf]) -> anyhow::Result<Vec<SqlTask>> {
    let mut tasks: Vec<SqlTask> = Vec::new();
    for path in paths {
        let task = crate::task_file::load(path)?;
        if tasks.iter().any(|known| known.name() == task.name()) {
            return Err(UsageError(format!(
                "{}: a task named `{}` was already given",
                path.display(),
                task.name()
            ))
            .into());
        }
        tasks.push(task);
    }
    Ok(tasks)
}

pub(crate) fn run(args: &SerializeArgs) -> anyhow::Result<()> {
    let settings = args
        .settings
        .settings(&args.project, &args.domain, &args.version)?;
    let tasks = load_tasks(&args.tasks)?;
    // Every file is made before any is written, and all are written together: a failed run
    // leaves none of them (and no temporary file) behind.
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for task in &tasks {
        let template = task_template(task, &settings)
            .with_context(|| format!("serializing task `{}`", task.name()))?;
        files.push((
            args.out.join(format!("{}.pb", task.name())),
            template.encode_to_vec(),
        ));
        if args.json {
            let text = to_proto3_json(&template)?;
            files.push((
                args.out.join(format!("{}.json", task.name())),
                format!("{text}\n").into_bytes(),
            ));
        }
    }
    let contents: Vec<(&Path, &[u8])> = files
        .iter()
        .map(|(path, bytes)| (path.as_path(), bytes.as_slice()))
        .collect();
    flyte_sql_storage::write_files_together(&contents)
        .with_context(|| format!("writing to --out {}", args.out.display()))?;
    for (path, _) in &files {
        crate::terminal::print_line(&path.display().to_string())?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use flyte_sql_idl::ImageVersion;

    use super::*;

    pub(crate) fn settings_args(env: &[&str], images: &[&str]) -> SettingsArgs {
        SettingsArgs {
            env: env.iter().map(|pair| (*pair).to_owned()).collect(),
            images: images.iter().map(|image| (*image).to_owned()).collect(),
        }
    }

    /// The conformance fixture task files (flytekit's `pyflyte package` golden, as TOML).
    pub(crate) fn fixture_task(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/conformance/_flyte_sql_extra/package")
            .join(name)
    }

    #[test]
    fn settings_take_env_pairs_and_named_images() {
        let settings = settings_args(
            &["A=1", "B=x=y"],
            &["ghcr.io/x/sql:1", "other=localhost:5000/o@sha256:ab"],
        )
        .settings("p", "d", "v")
        .unwrap();
        assert_eq!(
            settings.env,
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x=y".to_owned())
            ]
        );
        let default = settings.image_config.default_image.unwrap();
        assert_eq!(
            (default.name.as_str(), default.full()),
            ("default", "ghcr.io/x/sql:1".to_owned())
        );
        assert_eq!(
            settings.image_config.images[0].version,
            ImageVersion::Digest("sha256:ab".to_owned())
        );
    }

    #[test]
    fn bad_settings_are_usage_errors() {
        for (env, images, message) in [
            (
                &["NOVALUE"][..],
                &[][..],
                "--env `NOVALUE`: expected KEY=VALUE",
            ),
            (
                &[],
                &["a:1", "default=b:2"],
                "--image `default=b:2`: an image named `default` was already given",
            ),
            (
                &[],
                &["x=repo"],
                "in --image: image `x=repo` has no tag or digest: write it as NAME=FQN:TAG or NAME=FQN@DIGEST",
            ),
        ] {
            let error = settings_args(env, images)
                .settings("p", "d", "v")
                .unwrap_err();
            assert_eq!(format!("{error:#}"), message);
            assert_eq!(
                crate::fault::classify(&error).kind,
                flyte_sql_config::ErrorKind::User
            );
        }
    }

    #[test]
    fn serialize_writes_a_template_and_its_json_per_task() {
        let out = tempfile::tempdir().unwrap();
        let args = SerializeArgs {
            tasks: vec![fixture_task("tracks.toml"), fixture_task("insert.toml")],
            project: "proj".to_owned(),
            domain: "dev".to_owned(),
            version: "v1".to_owned(),
            settings: settings_args(&[], &[]),
            out: out.path().to_owned(),
            json: true,
        };
        run(&args).unwrap();
        let bytes = std::fs::read(out.path().join("golden.pkg.tracks.pb")).unwrap();
        let template = flyte_sql_idl::decode_task_template(&bytes).unwrap();
        let id = template.id.clone().unwrap();
        assert_eq!((id.project.as_str(), id.version.as_str()), ("proj", "v1"));
        assert_eq!(
            template.security_context.unwrap().secrets[0].group,
            "db-creds"
        );
        let json = std::fs::read_to_string(out.path().join("golden.pkg.insert.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            json["custom"]["query_template"],
            "insert into tracks values (9, 'x')"
        );
        assert_eq!(json["interface"]["outputs"], serde_json::json!({}));
    }

    #[test]
    fn two_tasks_of_one_name_are_refused() {
        let error =
            load_tasks(&[fixture_task("insert.toml"), fixture_task("insert.toml")]).unwrap_err();
        assert!(
            format!("{error:#}").ends_with("a task named `golden.pkg.insert` was already given")
        );
    }
}
