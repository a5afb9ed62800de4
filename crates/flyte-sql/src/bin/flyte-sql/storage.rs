//! Where the paths of the command line point: the one seam between the subcommands and storage.
//!
//! Every path a subcommand reads or writes (`execute`'s inputs, template, output prefix and raw
//! output prefix; `run`'s `--out`) is parsed into a [`Location`]. A location can read its bytes
//! and write a file atomically (a temporary file renamed into place, so a reader never sees half a
//! file). Today a location is a local path, given plainly or as a `file://` URL; an object-store
//! URL (`s3://`, `gs://`, `abfs://`, ...) is refused with an error naming it, never taken for a
//! local directory called `s3:`.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A parsed path of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// The path as the user (or Flyte) wrote it, trailing `/` removed: what output URIs are built
    /// from, so that a relative prefix gives a relative URI, as the reference writes it.
    written: String,
    /// The local file system path it names.
    path: PathBuf,
}

/// A location that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocationError {
    /// The text is empty.
    #[error("{what} is empty: give a local path or a file:// URL")]
    Empty {
        /// What the path is for (`--inputs`, ...).
        what: &'static str,
    },
    /// The URL's scheme is an object store this build cannot reach.
    #[error(
        "{what} `{text}` is on an object store ({scheme}://), which this build of flyte-sql cannot reach yet: give a local path or a file:// URL"
    )]
    ObjectStore {
        /// What the path is for.
        what: &'static str,
        /// The text as given.
        text: String,
        /// The URL scheme.
        scheme: String,
    },
    /// The URL's scheme is not a storage scheme at all.
    #[error(
        "{what} `{text}` has the scheme `{scheme}://`, which names no storage flyte-sql knows: give a local path or a file:// URL"
    )]
    UnknownScheme {
        /// What the path is for.
        what: &'static str,
        /// The text as given.
        text: String,
        /// The URL scheme.
        scheme: String,
    },
    /// A `file://` URL names another host or no absolute path.
    #[error(
        "{what} `{text}` is not a local file URL: write file:///absolute/path (or file://localhost/absolute/path)"
    )]
    NotLocalFileUrl {
        /// What the path is for.
        what: &'static str,
        /// The text as given.
        text: String,
    },
}

/// Reading or writing a location failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}", path.display())]
pub(crate) struct StorageError {
    /// What was being done (`read`, `write`, ...).
    pub(crate) action: &'static str,
    /// The path.
    pub(crate) path: PathBuf,
    /// The cause.
    #[source]
    pub(crate) source: std::io::Error,
}

/// The object stores Flyte deployments use; their URLs are refused by name until they are
/// supported, rather than mistaken for relative paths.
const OBJECT_STORE_SCHEMES: [&str; 8] = ["s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl"];

impl Location {
    /// Parses `text`, a plain path or a URL; `what` names the argument in errors.
    pub(crate) fn parse(text: &str, what: &'static str) -> Result<Location, LocationError> {
        if text.is_empty() {
            return Err(LocationError::Empty { what });
        }
        let Some((scheme, rest)) = split_scheme(text) else {
            return Ok(Location {
                written: trim_trailing_slashes(text).to_owned(),
                path: PathBuf::from(text),
            });
        };
        let lower = scheme.to_ascii_lowercase();
        if lower == "file" {
            let local = rest
                .strip_prefix("localhost")
                .unwrap_or(rest)
                .strip_prefix('/')
                .filter(|_| rest.starts_with('/') || rest.starts_with("localhost/"));
            let Some(absolute) = local else {
                return Err(LocationError::NotLocalFileUrl {
                    what,
                    text: text.to_owned(),
                });
            };
            return Ok(Location {
                written: trim_trailing_slashes(text).to_owned(),
                path: PathBuf::from(format!("/{absolute}")),
            });
        }
        if OBJECT_STORE_SCHEMES.contains(&lower.as_str()) {
            return Err(LocationError::ObjectStore {
                what,
                text: text.to_owned(),
                scheme: lower,
            });
        }
        Err(LocationError::UnknownScheme {
            what,
            text: text.to_owned(),
            scheme: scheme.to_owned(),
        })
    }

    /// The local path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The location of `name` inside this one (a directory).
    pub(crate) fn join(&self, name: &str) -> Location {
        Location {
            written: format!("{}/{name}", self.written),
            path: self.path.join(name),
        }
    }

    /// The location as a URI for an output literal: as written, trailing `/` removed.
    pub(crate) fn uri(&self) -> &str {
        &self.written
    }

    /// The whole content; `Ok(None)` when there is nothing at this location.
    pub(crate) fn read(&self) -> Result<Option<Vec<u8>>, StorageError> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(self.error("read", source)),
        }
    }

    /// Writes `bytes` as this file, atomically: into a temporary file beside it, flushed to disk,
    /// then renamed into place. On failure nothing is left behind. The parent directory is
    /// created when missing.
    pub(crate) fn write_atomically(&self, bytes: &[u8]) -> Result<(), StorageError> {
        let parent = self
            .path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|source| StorageError {
            action: "create the directory",
            path: parent.to_path_buf(),
            source,
        })?;
        let name = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = parent.join(format!(".{name}.{}.partial", std::process::id()));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temporary, &self.path)
        })();
        written.map_err(|source| {
            let _ = fs::remove_file(&temporary);
            self.error("write", source)
        })
    }

    /// Removes the directory at this location and everything in it; a missing one is fine.
    pub(crate) fn remove_dir_all(&self) -> Result<(), StorageError> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(self.error("remove", source)),
        }
    }

    fn error(&self, action: &'static str, source: std::io::Error) -> StorageError {
        StorageError {
            action,
            path: self.path.clone(),
            source,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
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
        assert_eq!(plain.path(), Path::new("raw/"));
        assert_eq!(plain.join("abc").uri(), "raw/abc");
        let url = Location::parse("file:///tmp/x/raw/", "--raw-output-data-prefix").unwrap();
        assert_eq!(url.path(), Path::new("/tmp/x/raw"));
        assert_eq!(url.join("abc").uri(), "file:///tmp/x/raw/abc");
        let localhost = Location::parse("file://localhost/tmp/y", "--inputs").unwrap();
        assert_eq!(localhost.path(), Path::new("/tmp/y"));
        assert_eq!(Location::parse("/", "--out").unwrap().uri(), "/");
    }

    #[test]
    fn object_stores_and_other_urls_are_refused_by_name() {
        let refused = |text: &str| Location::parse(text, "--out").unwrap_err().to_string();
        assert!(refused("s3://bucket/prefix").contains("object store (s3://)"));
        assert!(refused("GS://bucket").contains("object store (gs://)"));
        assert!(refused("abfss://c@a.dfs.core.windows.net/p").contains("(abfss://)"));
        assert!(refused("http://example.com/x").contains("`http://`"));
        assert!(refused("file://otherhost/x").contains("not a local file URL"));
        assert!(refused("").contains("is empty"));
        // A colon in a plain path is not a scheme.
        assert_eq!(
            Location::parse("c:/x", "--out").unwrap().path(),
            Path::new("c:/x")
        );
    }

    #[test]
    fn atomic_writes_leave_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target =
            Location::parse(dir.path().join("a/b/outputs.pb").to_str().unwrap(), "x").unwrap();
        target.write_atomically(b"bytes").unwrap();
        assert_eq!(target.read().unwrap().as_deref(), Some(&b"bytes"[..]));
        let entries: Vec<_> = fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            Location::parse(dir.path().join("none").to_str().unwrap(), "x")
                .unwrap()
                .read()
                .unwrap(),
            None
        );
    }
}
