//! The temporary files this process is writing, so that nothing is left behind when it is
//! stopped by a signal.
//!
//! Every local temporary file (and every directory created for it) is registered here from before
//! it exists until it is either committed (renamed into place) or removed. A signal handler calls
//! [`abandon_temporary_files`], which removes them all and returns a guard; while the guard is
//! held no file of this process can be committed, so the process can exit with it held and
//! leave either the complete file or nothing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The registry: the files being written, by registration number.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    entries: BTreeMap::new(),
});

struct Registry {
    next: u64,
    entries: BTreeMap<u64, Temporary>,
}

/// A temporary file and the directories created for it, deepest first.
struct Temporary {
    file: PathBuf,
    created_dirs: Vec<PathBuf>,
}

impl Temporary {
    /// Removes the file and then the directories made for it when they are empty (another file
    /// may have been put in them since).
    fn remove(&self) {
        if let Err(error) = fs::remove_file(&self.file)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.file.display(), %error, "cannot remove a temporary file");
        }
        for dir in &self.created_dirs {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

fn lock() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves the map itself consistent: keep using it.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registered temporary file: removed (with the directories made for it) when dropped
/// uncommitted, kept when [`TemporaryFile::commit_as`] renamed it into place.
pub(crate) struct TemporaryFile {
    /// The registration; `None` once committed.
    id: Option<u64>,
    path: PathBuf,
}

impl TemporaryFile {
    /// Registers `path`, a temporary file about to be created, and creates the missing
    /// directories above it; the registration comes first, so that a signal arriving in between
    /// still finds what was made.
    pub(crate) fn register(path: PathBuf) -> std::io::Result<TemporaryFile> {
        let parent = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let created_dirs: Vec<PathBuf> = parent
            .ancestors()
            .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        let id = {
            let mut registry = lock();
            let id = registry.next;
            registry.next += 1;
            registry.entries.insert(
                id,
                Temporary {
                    file: path.clone(),
                    created_dirs,
                },
            );
            id
        };
        let temporary = TemporaryFile { id: Some(id), path };
        fs::create_dir_all(&parent)?;
        Ok(temporary)
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary files into their destinations, all while no signal handler can
    /// remove anything, and deregisters them. When one rename fails, the files already renamed
    /// are removed again and the rest stay registered (and are removed when dropped): all of them
    /// are committed, or none.
    pub(crate) fn commit_together(
        files: Vec<(TemporaryFile, &Path)>,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        let mut registry = lock();
        let mut renamed: Vec<&Path> = Vec::new();
        let mut files = files.into_iter();
        while let Some((mut temporary, destination)) = files.next() {
            if let Err(error) = fs::rename(&temporary.path, destination) {
                for done in renamed {
                    if let Err(error) = fs::remove_file(done) {
                        tracing::warn!(path = %done.display(), %error, "cannot remove a file of a failed write");
                    }
                }
                drop(registry);
                let mut rest: Vec<TemporaryFile> = files.map(|(temporary, _)| temporary).collect();
                rest.insert(0, temporary);
                discard_in_reverse(rest);
                return Err((destination.to_path_buf(), error));
            }
            if let Some(id) = temporary.id.take() {
                registry.entries.remove(&id);
            }
            renamed.push(destination);
        }
        Ok(())
    }
}

/// Drops temporary files last first, so that the directory the first one created is empty, and
/// removed, when its turn comes.
pub(crate) fn discard_in_reverse(mut files: Vec<TemporaryFile>) {
    while let Some(file) = files.pop() {
        drop(file);
    }
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        let Some(id) = self.id else {
            return;
        };
        // Removed under the lock: a signal arriving meanwhile waits, and never exits the process
        // between the deregistration and the removal.
        let mut registry = lock();
        if let Some(entry) = registry.entries.remove(&id) {
            entry.remove();
        }
    }
}

/// Held after [`abandon_temporary_files`]: no file of this process is committed while it lives.
#[must_use = "the process must exit while the guard is held"]
pub struct Abandoned {
    _registry: MutexGuard<'static, Registry>,
}

impl std::fmt::Debug for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Abandoned")
    }
}

/// Removes every temporary file this process is writing (and the directories made for them) and
/// returns a guard that keeps any other from being committed: for a signal handler, which exits
/// the process while holding it. Uploads to object stores are not aborted here; an unfinished
/// multipart upload is never visible as an object.
pub fn abandon_temporary_files() -> Abandoned {
    let mut registry = lock();
    for entry in std::mem::take(&mut registry.entries).into_values() {
        entry.remove();
    }
    Abandoned {
        _registry: registry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `abandon_temporary_files` removes every file of the process, other tests' too: the e2e
    // signal tests cover it, in processes of their own.
    #[test]
    fn a_dropped_file_and_its_new_directories_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let temporary = TemporaryFile::register(dir.path().join("new/deeper/.f.partial")).unwrap();
        fs::write(temporary.path(), b"x").unwrap();
        let existing = dir.path().join("kept");
        fs::create_dir(&existing).unwrap();
        let kept = TemporaryFile::register(existing.join(".g.partial")).unwrap();
        drop(kept);
        assert!(existing.exists(), "a directory that existed before stays");
        drop(temporary);
        assert!(!dir.path().join("new").exists());
    }

    #[test]
    fn files_committed_together_are_all_renamed_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let a = TemporaryFile::register(dir.path().join(".a.partial")).unwrap();
        fs::write(a.path(), b"a").unwrap();
        let b = TemporaryFile::register(dir.path().join(".b.partial")).unwrap();
        // b's temporary file was never written: its rename fails.
        let (a_path, b_path) = (dir.path().join("a"), dir.path().join("b"));
        let error =
            TemporaryFile::commit_together(vec![(a, a_path.as_path()), (b, b_path.as_path())])
                .unwrap_err();
        assert_eq!(error.0, b_path);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
