//! Local files written atomically: a temporary file beside the target, renamed into place.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::cleanup::{TemporaryFile, discard_in_reverse};
use crate::error::Result;
use crate::location::FileWriter;

/// A local file being written under a temporary name, registered for removal until it is
/// committed (see [`crate::cleanup`]).
pub(crate) struct LocalFile {
    file: BufWriter<File>,
    temporary: TemporaryFile,
    destination: PathBuf,
    written: u64,
}

type IoResult<T> = std::result::Result<T, (&'static str, std::io::Error)>;

impl LocalFile {
    /// Starts `destination` (creating its parent directory) as `.<name>.<pid>.partial` beside it.
    pub(crate) fn create(destination: &Path) -> IoResult<LocalFile> {
        let parent = destination
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = destination
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary =
            TemporaryFile::register(parent.join(format!(".{name}.{}.partial", std::process::id())))
                .map_err(|source| ("create the directory of", source))?;
        let file = File::create(temporary.path()).map_err(|source| ("create", source))?;
        Ok(LocalFile {
            file: BufWriter::with_capacity(1 << 16, file),
            temporary,
            destination: destination.to_path_buf(),
            written: 0,
        })
    }

    /// Flushes and syncs the file; it stays under its temporary name.
    fn finish_writing(self) -> IoResult<(TemporaryFile, PathBuf, u64)> {
        let LocalFile {
            file,
            temporary,
            destination,
            written,
        } = self;
        let file = file
            .into_inner()
            .map_err(|error| ("write", error.into_error()))?;
        file.sync_all().map_err(|source| ("write", source))?;
        Ok((temporary, destination, written))
    }

    /// Flushes, syncs and renames the file into place. On failure the temporary file is removed.
    pub(crate) fn finish(self) -> IoResult<u64> {
        let (temporary, destination, written) = self.finish_writing()?;
        TemporaryFile::commit_together(vec![(temporary, &destination)])
            .map_err(|(_, source)| ("write", source))?;
        Ok(written)
    }
}

impl Write for LocalFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl FileWriter for LocalFile {
    fn commit(self: Box<Self>) -> Result<u64> {
        let destination = self.destination.display().to_string();
        LocalFile::finish(*self).map_err(|(action, source)| crate::Error::Local {
            action,
            path: destination,
            source,
        })
    }
}

/// Writes several local files so that either all of them appear, complete, or none: each goes to
/// a temporary file first, and only when every one is written and synced are they renamed into
/// place together. On failure every temporary file is removed.
pub fn write_files_together(files: &[(&Path, &[u8])]) -> Result<()> {
    let local_error =
        |path: &Path, action: &'static str, source: std::io::Error| crate::Error::Local {
            action,
            path: path.display().to_string(),
            source,
        };
    let mut written: Vec<TemporaryFile> = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let finished = LocalFile::create(path).and_then(|mut file| {
            file.write_all(bytes).map_err(|source| ("write", source))?;
            file.finish_writing()
        });
        match finished {
            Ok((temporary, _, _)) => written.push(temporary),
            Err((action, source)) => {
                discard_in_reverse(written);
                return Err(local_error(path, action, source));
            }
        }
    }
    let renames = written
        .into_iter()
        .zip(files.iter().map(|(path, _)| *path))
        .collect();
    TemporaryFile::commit_together(renames)
        .map_err(|(path, source)| local_error(&path, "write", source))
}
