//! A Flyte-side harness that does what flytepropeller does for a container task, so that every
//! test of the runtime contract runs the way a cluster runs it:
//!
//! 1. write the TaskTemplate and the inputs where propeller puts them (`<node dir>/task.pb`,
//!    `<node dir>/inputs.pb`);
//! 2. fill the container args' placeholders (`{{.input}}`, `{{.inputPrefix}}`,
//!    `{{.outputPrefix}}`, `{{.rawOutputDataPrefix}}`, `{{.taskTemplatePath}}`,
//!    `{{.checkpointOutputPrefix}}`, `{{.prevCheckpointPrefix}}`: case-insensitive, `.` or `$`
//!    before the name, spaces inside the braces allowed);
//! 3. run `args[0]` mapped to our binary (`flyte-sql`, or `pyflyte-execute` through a symlink of
//!    that name, as the executor image has it) with the rest of the args;
//! 4. read `error.pb` (or a distributed run's `error-<hex>.pb`) first, and only when there is none
//!    `outputs.pb`, which must then exist when the interface declares outputs.

use std::path::{Path, PathBuf};
use std::process::Output;

use flyte_sql::idl::proto::core::{ContainerError, LiteralMap, TaskTemplate, task_template};
use flyte_sql::idl::{Message, decode_error_document, decode_literal_map, decode_task_template};
use flyte_sql_tests::stores::StoreServer;
use flyte_sql_tests::{TestDir, flyte_sql_binary};

/// One attempt of a task, as propeller lays it out under a test directory.
#[derive(Debug)]
pub(crate) struct Pod {
    /// The node's data directory: `task.pb` and `inputs.pb`.
    pub(crate) node_dir: PathBuf,
    /// The attempt's output prefix (`outputs.pb`, `error.pb`).
    pub(crate) output_prefix: PathBuf,
    /// The attempt's raw output prefix, as handed to the container.
    pub(crate) raw_prefix: String,
    /// The checkpoint prefix of this attempt.
    pub(crate) checkpoint_prefix: PathBuf,
    /// The working directory of the container.
    pub(crate) cwd: PathBuf,
    /// Extra environment variables of the container.
    pub(crate) env: Vec<(String, String)>,
    /// When every path is on an object store: the server, the bucket and the key prefix of the
    /// node (the other paths above are then keys under it).
    pub(crate) store: Option<(&'static StoreServer, String, String)>,
}

/// What propeller saw after the pod ended.
#[derive(Debug)]
pub(crate) struct PodResult {
    /// The process's exit status, stdout and stderr.
    pub(crate) process: Output,
    /// The error document, when the task wrote one (read first, as propeller does).
    pub(crate) error: Option<ContainerError>,
    /// The name of the error document's file (`error.pb` or `error-<hex>.pb`).
    pub(crate) error_file: Option<String>,
    /// The outputs, when there was no error document.
    pub(crate) outputs: Option<LiteralMap>,
    /// The size of `outputs.pb` in bytes.
    pub(crate) outputs_size: Option<usize>,
    /// Propeller's `OutputsNotFound`: no error document, and no outputs although the interface
    /// declares some.
    pub(crate) outputs_not_found: bool,
}

impl PodResult {
    /// The error document, which the run must have written; panics with the process's output.
    pub(crate) fn expect_error(&self) -> &ContainerError {
        self.error.as_ref().unwrap_or_else(|| {
            panic!(
                "expected an error document\n--- stderr\n{}",
                String::from_utf8_lossy(&self.process.stderr)
            )
        })
    }

    /// The outputs of a successful run; panics with the error document otherwise.
    pub(crate) fn expect_outputs(&self) -> &LiteralMap {
        assert!(
            self.error.is_none(),
            "the task failed: {:?}\n--- stderr\n{}",
            self.error,
            String::from_utf8_lossy(&self.process.stderr)
        );
        self.outputs.as_ref().unwrap_or_else(|| {
            panic!(
                "OutputsNotFound: no error.pb and no outputs.pb\n--- stderr\n{}",
                String::from_utf8_lossy(&self.process.stderr)
            )
        })
    }

    /// The process's exit code.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        self.process.status.code()
    }
}

impl Pod {
    /// The first attempt under `dir`.
    pub(crate) fn new(dir: &TestDir) -> Pod {
        Pod::attempt(dir, "0")
    }

    /// An attempt under `dir`: node data in `dir/node`, outputs in `dir/node/<attempt>`, raw data
    /// under `dir/raw/<attempt>`, the container's working directory `dir`.
    pub(crate) fn attempt(dir: &TestDir, attempt: &str) -> Pod {
        Pod {
            node_dir: dir.join("node"),
            output_prefix: dir.join(&format!("node/{attempt}")),
            raw_prefix: dir.join(&format!("raw/{attempt}")).display().to_string(),
            checkpoint_prefix: dir.join(&format!("checkpoints/{attempt}")),
            cwd: dir.path().to_path_buf(),
            env: Vec::new(),
            store: None,
        }
    }

    /// An attempt whose inputs, template, outputs and raw data are all on `server`, in `bucket`
    /// under the key prefix `prefix`, as on a cluster; the container still runs in `dir`.
    pub(crate) fn on_store(
        dir: &TestDir,
        server: &'static StoreServer,
        bucket: &str,
        prefix: &str,
    ) -> Pod {
        let mut pod = Pod::new(dir);
        pod.raw_prefix = server.url(bucket, &format!("{prefix}/raw/0"));
        pod.env = server.env();
        pod.store = Some((server, bucket.to_owned(), prefix.to_owned()));
        pod
    }

    /// Where the node's file `name` is, as the container sees it; writes it there.
    fn put_node_file(&self, name: &str, bytes: &[u8]) -> String {
        match &self.store {
            None => {
                std::fs::create_dir_all(&self.node_dir).expect("creating the node directory");
                let path = self.node_dir.join(name);
                std::fs::write(&path, bytes).expect("writing a node file");
                path.display().to_string()
            }
            Some((server, bucket, prefix)) => {
                let key = format!("{prefix}/node/{name}");
                server.put(bucket, &key, bytes);
                server.url(bucket, &key)
            }
        }
    }

    /// The output prefix as the container sees it.
    fn output_prefix_text(&self) -> String {
        match &self.store {
            None => self.output_prefix.display().to_string(),
            Some((server, bucket, prefix)) => server.url(bucket, &format!("{prefix}/node/0")),
        }
    }

    /// The names of the files under the output prefix.
    fn output_files(&self) -> Vec<String> {
        match &self.store {
            None => std::fs::read_dir(&self.output_prefix)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect(),
            Some((server, bucket, prefix)) => {
                let directory = format!("{prefix}/node/0/");
                server
                    .list(bucket, &directory)
                    .into_iter()
                    .filter_map(|key| key.strip_prefix(&directory).map(str::to_owned))
                    .collect()
            }
        }
    }

    /// The bytes of the output file `name`.
    fn read_output(&self, name: &str) -> Option<Vec<u8>> {
        match &self.store {
            None => std::fs::read(self.output_prefix.join(name)).ok(),
            Some((server, bucket, prefix)) => {
                server.get(bucket, &format!("{prefix}/node/0/{name}"))
            }
        }
    }

    /// Every object (and unfinished upload) under the raw prefix of a pod on a store.
    pub(crate) fn raw_objects(&self) -> Vec<String> {
        let (server, bucket, prefix) = self.store.as_ref().expect("a pod on an object store");
        server.list(bucket, &format!("{prefix}/raw/"))
    }

    /// The Parquet file `00000` of the dataset a successful run's outputs name, copied to a
    /// local directory when it is on a store; returns that directory.
    pub(crate) fn dataset(&self, outputs: &LiteralMap) -> PathBuf {
        let Some((server, bucket, _)) = &self.store else {
            return dataset_directory(outputs, &self.cwd);
        };
        let uri = dataset_uri(outputs);
        let key = uri
            .split_once("://")
            .and_then(|(_, rest)| rest.strip_prefix(bucket.as_str()))
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or_else(|| panic!("{uri} is not in bucket {bucket}"));
        let bytes = server
            .get(bucket, &format!("{key}/00000"))
            .unwrap_or_else(|| panic!("no {uri}/00000"));
        let local = self
            .cwd
            .join("downloaded")
            .join(key.rsplit('/').next().unwrap());
        std::fs::create_dir_all(&local).expect("a download directory");
        std::fs::write(local.join("00000"), bytes).expect("writing the download");
        local
    }

    /// Sets an environment variable of the container.
    pub(crate) fn env(mut self, name: &str, value: &str) -> Pod {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs the task of `template` (TaskTemplate bytes) with `inputs` (LiteralMap bytes).
    pub(crate) fn run(&self, template: &[u8], inputs: &[u8]) -> PodResult {
        let process = self
            .command(template, inputs)
            .output()
            .expect("starting the container's entrypoint");
        self.collect(template, process)
    }

    /// Starts the task in the background; [`Pod::wait`] collects it.
    pub(crate) fn spawn(&self, template: &[u8], inputs: &[u8]) -> std::process::Child {
        self.command(template, inputs)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting the container's entrypoint")
    }

    /// Waits for a task started with [`Pod::spawn`] and reads what it wrote.
    pub(crate) fn wait(&self, template: &[u8], child: std::process::Child) -> PodResult {
        let process = child
            .wait_with_output()
            .expect("waiting for the entrypoint");
        self.collect(template, process)
    }

    /// The pod's process: files written where propeller writes them, args filled.
    fn command(&self, template: &[u8], inputs: &[u8]) -> std::process::Command {
        let template_path = self.put_node_file("task.pb", template);
        let inputs_path = self.put_node_file("inputs.pb", inputs);
        let node_prefix = template_path.trim_end_matches("/task.pb").to_owned();
        let output_prefix = self.output_prefix_text();
        let decoded = decode_task_template(template).expect("a TaskTemplate");
        let args: Vec<String> = container_args(&decoded)
            .iter()
            .map(|arg| {
                fill_placeholders(arg, |name| {
                    Some(match name.to_ascii_lowercase().as_str() {
                        "input" => inputs_path.clone(),
                        "inputprefix" => node_prefix.clone(),
                        "outputprefix" => output_prefix.clone(),
                        "rawoutputdataprefix" => self.raw_prefix.clone(),
                        "tasktemplatepath" => template_path.clone(),
                        "checkpointoutputprefix" => self.checkpoint_prefix.display().to_string(),
                        "prevcheckpointprefix" => String::new(),
                        _ => return None,
                    })
                })
            })
            .collect();
        let mut command = std::process::Command::new(self.program(&args[0]));
        command
            .args(&args[1..])
            .current_dir(&self.cwd)
            .envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }

    /// The binary propeller's pod would start for `args[0]`.
    fn program(&self, entrypoint: &str) -> PathBuf {
        match entrypoint {
            "flyte-sql" => flyte_sql_binary(),
            // The executor image links `pyflyte-execute` to our binary; so does the harness.
            "pyflyte-execute" => {
                let bin = self.cwd.join(".propeller-bin");
                let link = bin.join("pyflyte-execute");
                if !link.exists() {
                    std::fs::create_dir_all(&bin).expect("creating the bin directory");
                    std::os::unix::fs::symlink(flyte_sql_binary(), &link)
                        .expect("linking pyflyte-execute");
                }
                link
            }
            other => panic!("the template's container runs `{other}`, which is not flyte-sql"),
        }
    }

    fn collect(&self, template: &[u8], process: Output) -> PodResult {
        let template = decode_task_template(template).expect("a TaskTemplate");
        let error_file = self.output_files().into_iter().find(|name| {
            name == "error.pb" || (name.starts_with("error-") && name.ends_with(".pb"))
        });
        if let Some(name) = &error_file {
            let bytes = self.read_output(name).expect("reading error.pb");
            let document = decode_error_document(&bytes).expect("an ErrorDocument");
            return PodResult {
                process,
                error: Some(document.error.expect("a ContainerError")),
                error_file,
                outputs: None,
                outputs_size: None,
                outputs_not_found: false,
            };
        }
        let declares_outputs = template
            .interface
            .as_ref()
            .and_then(|interface| interface.outputs.as_ref())
            .is_some_and(|outputs| !outputs.variables.is_empty());
        let (outputs, outputs_size) = match self.read_output("outputs.pb") {
            Some(bytes) => (
                Some(decode_literal_map(&bytes).expect("outputs.pb is a LiteralMap")),
                Some(bytes.len()),
            ),
            None => (None, None),
        };
        PodResult {
            process,
            error: None,
            error_file: None,
            outputs_not_found: outputs.is_none() && declares_outputs,
            outputs,
            outputs_size,
        }
    }
}

fn container_args(template: &TaskTemplate) -> &[String] {
    let Some(task_template::Target::Container(container)) = &template.target else {
        panic!("the template has no container");
    };
    assert!(
        container.command.is_empty(),
        "SQL tasks put everything in args"
    );
    &container.args
}

/// `arg` with every `{{ .Name }}` / `{{$name}}` placeholder that `value` knows replaced, as
/// propeller's template engine does; unknown ones are left as they are.
pub(crate) fn fill_placeholders(arg: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut filled = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(start) = rest.find("{{") {
        filled.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            filled.push_str(&rest[start..]);
            return filled;
        };
        let inside = after[..end].trim();
        let name = inside.strip_prefix(['.', '$']).filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        match name.and_then(&value) {
            Some(replacement) => filled.push_str(&replacement),
            None => filled.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    filled.push_str(rest);
    filled
}

/// An empty LiteralMap's bytes (zero bytes, as Flyte writes it for a task without inputs).
pub(crate) fn no_inputs() -> Vec<u8> {
    LiteralMap::default().encode_to_vec()
}

/// The directory a structured dataset literal's uri names, resolved against `cwd`.
pub(crate) fn dataset_directory(outputs: &LiteralMap, cwd: &Path) -> PathBuf {
    let uri = dataset_uri(outputs);
    let path = uri.strip_prefix("file://").unwrap_or(&uri);
    cwd.join(path)
}

/// The uri of the `results` structured dataset.
pub(crate) fn dataset_uri(outputs: &LiteralMap) -> String {
    use flyte_sql::idl::proto::core::{literal, scalar};
    let literal = outputs.literals.get("results").expect("a `results` output");
    let Some(literal::Value::Scalar(scalar)) = &literal.value else {
        panic!("results is not a scalar: {literal:?}");
    };
    let Some(scalar::Value::StructuredDataset(dataset)) = &scalar.value else {
        panic!("results is not a structured dataset: {scalar:?}");
    };
    dataset.uri.clone()
}

#[test]
fn placeholders_are_filled_as_propeller_fills_them() {
    let value = |name: &str| (name.eq_ignore_ascii_case("outputPrefix")).then(|| "/o".to_owned());
    assert_eq!(fill_placeholders("{{.outputPrefix}}", value), "/o");
    assert_eq!(fill_placeholders("{{ .OutputPrefix }}", value), "/o");
    assert_eq!(fill_placeholders("{{$outputprefix}}/x", value), "/o/x");
    assert_eq!(fill_placeholders("a{{.other}}b", value), "a{{.other}}b");
    assert_eq!(
        fill_placeholders("{{.outputPrefix", value),
        "{{.outputPrefix"
    );
}
