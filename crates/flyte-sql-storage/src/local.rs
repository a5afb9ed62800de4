//! Local files written atomically: a temporary file beside the target, renamed into place.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::location::FileWriter;

/// A local file being written under a temporary name.
pub(crate) struct LocalFile {
    file: Option<BufWriter<File>>,
    temporary: PathBuf,
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
        fs::create_dir_all(parent).map_err(|source| ("create the directory of", source))?;
        let name = destination
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = parent.join(format!(".{name}.{}.partial", std::process::id()));
        let file = File::create(&temporary).map_err(|source| ("create", source))?;
        Ok(LocalFile {
            file: Some(BufWriter::with_capacity(1 << 16, file)),
            temporary,
            destination: destination.to_path_buf(),
            written: 0,
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub(crate) fn finish(mut self) -> IoResult<u64> {
        let file = self.file.take().expect("a local file is finished once");
        let file = file
            .into_inner()
            .map_err(|error| ("write", error.into_error()))?;
        file.sync_all().map_err(|source| ("write", source))?;
        fs::rename(&self.temporary, &self.destination).map_err(|source| ("write", source))?;
        Ok(self.written)
    }
}

impl Write for LocalFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file = self.file.as_mut().expect("writing a finished file");
        let written = file.write(buf)?;
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
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

impl Drop for LocalFile {
    fn drop(&mut self) {
        // Only an unfinished file still has its writer: remove what it wrote.
        if self.file.take().is_some()
            && let Err(error) = fs::remove_file(&self.temporary)
        {
            tracing::warn!(path = %self.temporary.display(), %error, "cannot remove a partial file");
        }
    }
}
