//! Object stores: configured from the environment of a Flyte pod, driven synchronously on one
//! current-thread tokio runtime, with bounded retries and streamed multipart uploads.

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

use crate::error::{Error, Result};
use crate::location::FileWriter;

/// The size of one uploaded part: S3's minimum, so that memory stays small.
pub(crate) const PART_BYTES: usize = 5 << 20;

/// Parts uploading at once per file; with the part being filled, at most this many plus one
/// parts are in memory.
pub(crate) const PARTS_IN_FLIGHT: usize = 2;

/// Transient failures (5xx answers, throttling, timeouts, dropped connections) are retried this
/// many times with exponential backoff, within [`RETRY_TIMEOUT`], then reported.
pub(crate) const MAX_RETRIES: usize = 4;

/// How long a request keeps being retried at most.
pub(crate) const RETRY_TIMEOUT: Duration = Duration::from_secs(60);

/// The object stores flyte-sql speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    S3,
    Gcs,
    Azure,
}

impl StoreKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StoreKind::S3 => "s3",
            StoreKind::Gcs => "gs",
            StoreKind::Azure => "azure",
        }
    }
}

/// One bucket or container.
pub(crate) struct RemoteStore {
    store: Arc<dyn ObjectStore>,
}

/// The one runtime every store request runs on: the process is synchronous, so requests are
/// driven with `block_on` from the calling thread.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime needs no resources that can be missing")
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            base: 2.0,
        },
        max_retries: MAX_RETRIES,
        retry_timeout: RETRY_TIMEOUT,
    }
}

impl RemoteStore {
    /// The store of `authority` (a bucket, or `container[@account.host]`), configured from the
    /// environment (the crate docs list the variables and which wins).
    pub(crate) fn from_env(kind: StoreKind, authority: &str, uri: &str) -> Result<RemoteStore> {
        let configure = |source| Error::Configure {
            uri: uri.to_owned(),
            source,
        };
        let store: Arc<dyn ObjectStore> = match kind {
            StoreKind::S3 => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(authority)
                    .with_retry(retry_config());
                if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
                    builder = builder.with_region("us-east-1");
                }
                // flytekit's own variables (the Flyte sandbox and many deployments set them) win
                // over the standard AWS chain, as flytekit hands them to its S3 client explicitly.
                let endpoint = env("FLYTE_AWS_ENDPOINT")
                    .or_else(|| env("AWS_ENDPOINT_URL"))
                    .or_else(|| env("AWS_ENDPOINT"));
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                if let (Some(key_id), Some(secret)) = (
                    env("FLYTE_AWS_ACCESS_KEY_ID"),
                    env("FLYTE_AWS_SECRET_ACCESS_KEY"),
                ) {
                    builder = builder
                        .with_access_key_id(key_id)
                        .with_secret_access_key(secret);
                }
                Arc::new(builder.build().map_err(configure)?)
            }
            StoreKind::Gcs => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(authority)
                    .with_retry(retry_config())
                    .build()
                    .map_err(configure)?,
            ),
            StoreKind::Azure => {
                // `abfs://container@account.dfs.core.windows.net/key` names the account;
                // `abfs://container/key` and `az://container/key` take it from the environment.
                let (container, account) = match authority.split_once('@') {
                    Some((container, host)) => {
                        (container, host.split('.').next().filter(|a| !a.is_empty()))
                    }
                    None => (authority, None),
                };
                let mut builder = MicrosoftAzureBuilder::from_env()
                    .with_container_name(container)
                    .with_retry(retry_config());
                if let Some(account) = account {
                    builder = builder.with_account(account);
                }
                Arc::new(builder.build().map_err(configure)?)
            }
        };
        Ok(RemoteStore { store })
    }

    pub(crate) fn read(&self, key: &ObjectPath, uri: &str) -> Result<Option<Vec<u8>>> {
        let result = runtime().block_on(async {
            let object = self.store.get(key).await?;
            object.bytes().await
        });
        match result {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(remote_error("read", uri, source)),
        }
    }

    pub(crate) fn put(&self, key: &ObjectPath, bytes: &[u8], uri: &str) -> Result<()> {
        runtime()
            .block_on(self.store.put(key, PutPayload::from(bytes.to_vec())))
            .map(drop)
            .map_err(|source| remote_error("write", uri, source))
    }

    pub(crate) fn create(&self, key: &ObjectPath, uri: &str) -> Result<RemoteFile> {
        let upload = runtime()
            .block_on(self.store.put_multipart(key))
            .map_err(|source| remote_error("start uploading", uri, source))?;
        Ok(RemoteFile {
            upload: Some(WriteMultipart::new_with_chunk_size(upload, PART_BYTES)),
            uri: uri.to_owned(),
            written: 0,
        })
    }

    pub(crate) fn remove_prefix(&self, prefix: &ObjectPath, uri: &str) -> Result<()> {
        runtime()
            .block_on(async {
                let objects: Vec<_> = self.store.list(Some(prefix)).try_collect().await?;
                for object in objects {
                    self.store.delete(&object.location).await?;
                }
                Ok(())
            })
            .map_err(|source| remote_error("remove", uri, source))
    }
}

fn remote_error(action: &'static str, uri: &str, source: object_store::Error) -> Error {
    Error::Remote {
        action,
        uri: uri.to_owned(),
        source,
    }
}

/// A multipart upload in progress: parts of [`PART_BYTES`] go up as they fill, at most
/// [`PARTS_IN_FLIGHT`] at once, so memory stays bounded whatever the file's size.
pub(crate) struct RemoteFile {
    upload: Option<WriteMultipart>,
    uri: String,
    written: u64,
}

impl Write for RemoteFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let upload = self.upload.as_mut().expect("writing a finished upload");
        let runtime = runtime();
        {
            // Parts start uploading from `write`, which spawns onto the runtime.
            let _entered = runtime.enter();
            upload.write(buf);
        }
        runtime
            .block_on(upload.wait_for_capacity(PARTS_IN_FLIGHT))
            .map_err(|source| {
                std::io::Error::other(remote_error("upload a part of", &self.uri, source))
            })?;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Parts are sent when full; the last one when the upload is committed.
        Ok(())
    }
}

impl FileWriter for RemoteFile {
    fn commit(mut self: Box<Self>) -> Result<u64> {
        let upload = self.upload.take().expect("an upload is committed once");
        let runtime = runtime();
        let _entered = runtime.enter();
        runtime
            .block_on(upload.finish())
            .map_err(|source| remote_error("finish uploading", &self.uri, source))?;
        Ok(self.written)
    }
}

impl Drop for RemoteFile {
    fn drop(&mut self) {
        // An upload that was not committed is aborted: its parts are discarded by the store.
        if let Some(upload) = self.upload.take() {
            let runtime = runtime();
            let _entered = runtime.enter();
            if let Err(error) = runtime.block_on(upload.abort()) {
                tracing::warn!(uri = %self.uri, %error, "cannot abort an unfinished upload");
            }
        }
    }
}
