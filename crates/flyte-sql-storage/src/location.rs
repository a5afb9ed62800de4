//! Parsed locations and what can be done with them.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::remote::{RemoteStore, StoreKind};

/// Where a path of the command line points: a local file or directory, or an object (or prefix)
/// in an object store.
#[derive(Clone)]
pub struct Location {
    /// The text as written, trailing `/` removed: what output URIs are built from, so that a
    /// relative prefix gives a relative URI, as the reference writes it.
    written: String,
    target: Target,
}

#[derive(Clone)]
enum Target {
    Local(PathBuf),
    Remote {
        store: Arc<RemoteStore>,
        key: object_store::path::Path,
    },
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Location").field(&self.written).finish()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl Location {
    /// Parses `text`: a plain path, a `file://` URL, or an object-store URL (`s3://bucket/key`,
    /// `gs://bucket/key`, `abfs[s]://container[@account.dfs.core.windows.net]/key`,
    /// `az://container/key`). An object store is configured from the environment the way a Flyte
    /// pod already is (see the crate docs); `what` names the argument in errors.
    pub fn parse(text: &str, what: &'static str) -> Result<Location> {
        if text.is_empty() {
            return Err(Error::Empty { what });
        }
        let written = trim_trailing_slashes(text).to_owned();
        let Some((scheme, rest)) = split_scheme(text) else {
            return Ok(Location {
                written,
                target: Target::Local(PathBuf::from(text)),
            });
        };
        let invalid = |kind: &'static str, problem: &str| Error::InvalidUrl {
            what,
            text: text.to_owned(),
            kind,
            problem: problem.to_owned(),
        };
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let absolute = rest
                    .strip_prefix("localhost")
                    .unwrap_or(rest)
                    .strip_prefix('/')
                    .filter(|_| rest.starts_with('/') || rest.starts_with("localhost/"))
                    .ok_or_else(|| {
                        invalid(
                            "file",
                            "write file:///absolute/path (or file://localhost/absolute/path)",
                        )
                    })?;
                return Ok(Location {
                    written,
                    target: Target::Local(PathBuf::from(format!("/{absolute}"))),
                });
            }
            "s3" | "s3a" => StoreKind::S3,
            "gs" | "gcs" => StoreKind::Gcs,
            "abfs" | "abfss" | "az" | "azure" => StoreKind::Azure,
            _ => {
                return Err(Error::UnknownScheme {
                    what,
                    text: text.to_owned(),
                    scheme: scheme.to_owned(),
                });
            }
        };
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(invalid(
                kind.name(),
                "it names no bucket or container: write SCHEME://BUCKET/KEY",
            ));
        }
        let key = object_store::path::Path::parse(key.trim_end_matches('/'))
            .map_err(|error| invalid(kind.name(), &error.to_string()))?;
        let store = RemoteStore::from_env(kind, authority, &written)?;
        Ok(Location {
            written,
            target: Target::Remote {
                store: Arc::new(store),
                key,
            },
        })
    }

    /// A local path, as written.
    pub fn local(path: impl Into<PathBuf>) -> Location {
        let path = path.into();
        Location {
            written: trim_trailing_slashes(&path.display().to_string()).to_owned(),
            target: Target::Local(path),
        }
    }

    /// The local path, for a location on the local file system.
    pub fn local_path(&self) -> Option<&Path> {
        match &self.target {
            Target::Local(path) => Some(path),
            Target::Remote { .. } => None,
        }
    }

    /// Whether the location is in an object store.
    pub fn is_remote(&self) -> bool {
        matches!(self.target, Target::Remote { .. })
    }

    /// The location of `name` inside this one (a directory or prefix).
    pub fn join(&self, name: &str) -> Location {
        let written = if self.written.ends_with('/') {
            format!("{}{name}", self.written)
        } else {
            format!("{}/{name}", self.written)
        };
        let target = match &self.target {
            Target::Local(path) => Target::Local(path.join(name)),
            Target::Remote { store, key } => Target::Remote {
                store: Arc::clone(store),
                key: key.clone().join(name),
            },
        };
        Location { written, target }
    }

    /// The location as a URI for an output literal: as written, trailing `/` removed.
    pub fn uri(&self) -> &str {
        &self.written
    }

    /// The whole content; `Ok(None)` when there is nothing at this location.
    pub fn read(&self) -> Result<Option<Vec<u8>>> {
        match &self.target {
            Target::Local(path) => match fs::read(path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(self.local_error("read", source)),
            },
            Target::Remote { store, key } => store.read(key, &self.written),
        }
    }

    /// Writes `bytes` as this file, atomically: a reader sees the whole file or none. Locally it
    /// goes to a temporary file beside the target, flushed and renamed into place (the parent
    /// directory is created when missing); an object-store put is atomic by itself.
    pub fn write_atomically(&self, bytes: &[u8]) -> Result<()> {
        match &self.target {
            Target::Local(path) => write_local_atomically(path, bytes)
                .map_err(|(action, source)| self.local_error(action, source)),
            Target::Remote { store, key } => store.put(key, bytes, &self.written),
        }
    }

    /// Starts writing this file as a stream: nothing is visible at the location until
    /// [`FileWriter::commit`]; dropping the writer uncommitted leaves nothing behind (locally a
    /// temporary file is removed, in an object store the multipart upload is aborted).
    pub fn create(&self) -> Result<Box<dyn FileWriter>> {
        match &self.target {
            Target::Local(path) => Ok(Box::new(
                crate::local::LocalFile::create(path)
                    .map_err(|(action, source)| self.local_error(action, source))?,
            )),
            Target::Remote { store, key } => Ok(Box::new(store.create(key, &self.written)?)),
        }
    }

    /// Removes the directory (or every object under the prefix) at this location; nothing there is
    /// fine.
    pub fn remove_all(&self) -> Result<()> {
        match &self.target {
            Target::Local(path) => match fs::remove_dir_all(path) {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(self.local_error("remove", source)),
            },
            Target::Remote { store, key } => store.remove_prefix(key, &self.written),
        }
    }

    fn local_error(&self, action: &'static str, source: std::io::Error) -> Error {
        Error::Local {
            action,
            path: self.written.clone(),
            source,
        }
    }
}

/// A file being written to a [`Location`]; dropping it uncommitted leaves nothing behind.
pub trait FileWriter: Write + Send {
    /// Finishes the file and makes it visible at its location; returns its size in bytes.
    fn commit(self: Box<Self>) -> Result<u64>;
}

fn write_local_atomically(path: &Path, bytes: &[u8]) -> Result<(), (&'static str, std::io::Error)> {
    let mut file = crate::local::LocalFile::create(path)?;
    file.write_all(bytes).map_err(|source| ("write", source))?;
    crate::local::LocalFile::finish(file).map(drop)
}

/// `("s3", "bucket/key")` for `s3://bucket/key`; `None` for a path without a scheme. A scheme is
/// a letter followed by letters, digits, `+`, `-` or `.` (RFC 3986), then `://`.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

fn trim_trailing_slashes(text: &str) -> &str {
    let trimmed = text.trim_end_matches('/');
    if trimmed.is_empty() || trimmed.ends_with(':') {
        // `/` alone, or `file:///`: keep the root.
        text
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_and_file_urls_are_local() {
        let plain = Location::parse("raw/", "--raw-output-data-prefix").unwrap();
        assert_eq!(plain.local_path(), Some(Path::new("raw/")));
        assert_eq!(plain.join("abc").uri(), "raw/abc");
        let url = Location::parse("file:///tmp/x/raw/", "--raw-output-data-prefix").unwrap();
        assert_eq!(url.local_path(), Some(Path::new("/tmp/x/raw")));
        assert_eq!(url.join("abc").uri(), "file:///tmp/x/raw/abc");
        let localhost = Location::parse("file://localhost/tmp/y", "--inputs").unwrap();
        assert_eq!(localhost.local_path(), Some(Path::new("/tmp/y")));
        assert_eq!(Location::parse("/", "--out").unwrap().join("a").uri(), "/a");
        // A colon in a plain path is not a scheme.
        assert_eq!(
            Location::parse("c:/x", "--out").unwrap().local_path(),
            Some(Path::new("c:/x"))
        );
    }

    #[test]
    fn unknown_and_malformed_urls_are_refused_by_name() {
        let refused = |text: &str| Location::parse(text, "--out").unwrap_err().to_string();
        assert!(refused("http://example.com/x").contains("`http://`"));
        assert!(refused("file://otherhost/x").contains("file:///absolute/path"));
        assert!(refused("s3:///key").contains("names no bucket"));
        assert!(refused("").contains("is empty"));
    }

    #[test]
    fn object_store_urls_keep_their_text_for_uris() {
        let location = Location::parse("s3://bucket/raw/", "--raw-output-data-prefix").unwrap();
        assert!(location.is_remote());
        assert_eq!(
            location.join("abc").join("00000").uri(),
            "s3://bucket/raw/abc/00000"
        );
        assert_eq!(format!("{location:?}"), "Location(\"s3://bucket/raw\")");
        for url in [
            "gs://bucket/raw",
            "gcs://bucket/raw",
            "abfss://container@account.dfs.core.windows.net/raw",
            "s3a://bucket/raw",
        ] {
            let location = Location::parse(url, "--out").unwrap();
            assert!(location.is_remote(), "{url}");
            assert_eq!(location.join("x").uri(), format!("{url}/x"));
        }
    }

    #[test]
    fn local_atomic_writes_and_streams_leave_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target =
            Location::parse(dir.path().join("a/b/outputs.pb").to_str().unwrap(), "x").unwrap();
        target.write_atomically(b"bytes").unwrap();
        assert_eq!(target.read().unwrap().as_deref(), Some(&b"bytes"[..]));
        let entries: Vec<_> = fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(entries.len(), 1);

        let streamed = Location::parse(dir.path().join("s/f").to_str().unwrap(), "x").unwrap();
        let mut writer = streamed.create().unwrap();
        writer.write_all(b"abc").unwrap();
        drop(writer);
        assert_eq!(streamed.read().unwrap(), None);
        assert!(
            !dir.path().join("s").exists(),
            "the directory made for the file goes with it"
        );
        let mut writer = streamed.create().unwrap();
        writer.write_all(b"abc").unwrap();
        assert_eq!(writer.commit().unwrap(), 3);
        assert_eq!(streamed.read().unwrap().as_deref(), Some(&b"abc"[..]));
        Location::parse(dir.path().join("s").to_str().unwrap(), "x")
            .unwrap()
            .remove_all()
            .unwrap();
        assert!(!dir.path().join("s").exists());
    }
}
