//! Where flyte-sql reads and writes: local paths, `file://` URLs and object stores.
//!
//! Every path a flyte-sql command reads or writes (the Flyte entrypoint's inputs, TaskTemplate,
//! output prefix and raw output prefix; `run`'s `--out`) is a [`Location`]. A location can read
//! its bytes, write a file atomically (a reader sees all of it or nothing), stream a file that
//! becomes visible only when committed ([`FileWriter`]), and remove a directory or prefix. The
//! kind of storage is one more implementation behind those operations, never a second code path:
//!
//! - a plain path or `file:///absolute/path` (`file://localhost/...`): the local file system,
//!   written through a temporary file renamed into place;
//! - `s3://bucket/key` (`s3a://`), `gs://bucket/key` (`gcs://`),
//!   `abfs[s]://container[@account.dfs.core.windows.net]/key`, `az://container/key`: object
//!   stores, through the `object_store` crate. A streamed file is a multipart upload of 5 MiB
//!   parts, at most two in flight, so memory stays bounded whatever the size; an uncommitted one
//!   is aborted. Transient failures (5xx, throttling, timeouts) are retried four times with
//!   exponential backoff within a minute, then reported as the system's fault; a missing bucket
//!   or denied access is the user's ([`Error::kind`]).
//!
//! Local temporary files are registered while they exist: on SIGINT or SIGTERM the binary calls
//! [`abandon_temporary_files`], which removes them (and the directories made for them) before it
//! exits, so that a stopped command leaves nothing behind. [`write_files_together`] writes
//! several files that must appear together (a TaskTemplate and its JSON) or not at all.
//!
//! Object stores are configured from the environment, the way a Flyte pod already is:
//!
//! | store | variables |
//! |---|---|
//! | S3 | flytekit's `FLYTE_AWS_ENDPOINT`, `FLYTE_AWS_ACCESS_KEY_ID`, `FLYTE_AWS_SECRET_ACCESS_KEY` (the Flyte sandbox and many deployments set them) win; otherwise the standard chain: `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, IRSA web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), the ECS/EC2 instance credentials; `AWS_REGION` (or `AWS_DEFAULT_REGION`, else `us-east-1`); an `http://` endpoint is allowed as given |
//! | GCS | `GOOGLE_APPLICATION_CREDENTIALS` (or `GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_SERVICE_ACCOUNT_KEY`), else workload identity through the metadata server; `GOOGLE_BASE_URL` points at another endpoint |
//! | Azure | `AZURE_STORAGE_ACCOUNT_NAME` (unless the URL names the account), then `AZURE_STORAGE_ACCOUNT_KEY`, a service principal (`AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`), workload identity (`AZURE_FEDERATED_TOKEN_FILE`), or managed identity; `AZURE_STORAGE_USE_EMULATOR=true` for Azurite |
//!
//! # Example
//!
//! ```
//! use std::io::Write;
//!
//! use flyte_sql_storage::Location;
//!
//! let dir = tempfile::tempdir()?;
//! let prefix = Location::parse(dir.path().to_str().unwrap(), "--out")?;
//! let file = prefix.join("dataset").join("00000");
//! let mut writer = file.create()?;
//! writer.write_all(b"PAR1...")?;
//! assert_eq!(file.read()?, None, "nothing is visible before the commit");
//! writer.commit()?;
//! assert_eq!(file.read()?.as_deref(), Some(&b"PAR1..."[..]));
//!
//! assert!(Location::parse("s3://bucket/raw", "--out")?.is_remote());
//! assert!(Location::parse("ftp://host/x", "--out").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! None: S3, GCS and Azure are always compiled in.
//!
//! # Stability
//!
//! Not for direct use; the `flyte-sql` crate is the stable entry point, and this crate's API may
//! change with any release.

#![warn(missing_docs)]

mod cleanup;
mod error;
mod local;
mod location;
mod remote;

pub use cleanup::{Abandoned, abandon_temporary_files};
pub use error::{Error, Result};
pub use local::write_files_together;
pub use location::{FileWriter, Location};
