//! Parquet output in the reference's layout, written incrementally and published atomically.
//!
//! A result goes to `<out>/<32 lowercase hex>/00000`, the layout flytekit's structured-dataset
//! readers expect. Row groups are bounded by rows and bytes, so the writer's memory does not grow
//! with the result. Everything is written under a hidden temporary directory that is renamed into
//! place only after the file is complete: an output exists completely or not at all.

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// The name of the first (and, today, only) Parquet file of an output, as the reference names it.
pub const FIRST_PART: &str = "00000";

/// How Parquet files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Rows per row group at most.
    pub max_row_group_rows: usize,
    /// Encoded bytes per row group at most: this bounds the writer's memory.
    pub max_row_group_bytes: usize,
    /// The compression codec.
    pub compression: ParquetCompression,
}

impl ParquetOptions {
    /// Row groups of at most 1 Mi rows and 16 MiB encoded, Snappy-compressed as the reference
    /// writes. The byte bound is what keeps the writer's memory flat on wide or large results.
    pub fn reference_compatible() -> ParquetOptions {
        ParquetOptions {
            max_row_group_rows: 1 << 20,
            max_row_group_bytes: 16 << 20,
            compression: ParquetCompression::Snappy,
        }
    }
}

/// The compression codec of the Parquet files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParquetCompression {
    /// No compression.
    None,
    /// Snappy, what the reference writes.
    Snappy,
    /// Zstandard at level 1: smaller files, a little more CPU.
    Zstd,
}

/// Where a finished output went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLocation {
    /// The output directory, `<out>/<32 hex>`: the structured dataset's uri.
    pub directory: PathBuf,
    /// The Parquet files in it, in order (`00000`, ...).
    pub files: Vec<PathBuf>,
    /// Total bytes written.
    pub bytes: u64,
}

/// A Parquet file being written into a temporary directory; [`ParquetSink::commit`] publishes
/// it, dropping it without committing removes it.
pub(crate) struct ParquetSink {
    writer: Option<ArrowWriter<BufWriter<File>>>,
    temporary: PathBuf,
    destination: PathBuf,
}

impl std::fmt::Debug for ParquetSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSink")
            .field("temporary", &self.temporary)
            .field("destination", &self.destination)
            .finish_non_exhaustive()
    }
}

impl ParquetSink {
    /// Starts an output under `parent` with the given schema.
    pub(crate) fn create(
        parent: &Path,
        schema: SchemaRef,
        options: &ParquetOptions,
    ) -> Result<ParquetSink> {
        fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
        let name = random_hex();
        let temporary = parent.join(format!(".{name}.partial"));
        let destination = parent.join(&name);
        fs::create_dir(&temporary).map_err(|source| Error::Io {
            path: temporary.clone(),
            source,
        })?;
        // From here on, dropping the sink cleans the temporary directory up.
        let mut sink = ParquetSink {
            writer: None,
            temporary,
            destination,
        };
        let path = sink.temporary.join(FIRST_PART);
        let file = File::create(&path).map_err(|source| Error::Io { path, source })?;
        let compression = match options.compression {
            ParquetCompression::None => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        };
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(options.max_row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(options.max_row_group_bytes.max(1)))
            .set_created_by(format!("flyte-sql version {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 16, file),
            schema,
            Some(properties),
        )
        .map_err(|source| Error::Parquet { source })?;
        sink.writer = Some(writer);
        Ok(sink)
    }

    /// Appends a batch; the writer flushes row groups as they fill.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if let Some(writer) = self.writer.as_mut() {
            writer
                .write(batch)
                .map_err(|source| self.parquet_error(source))?;
        }
        Ok(())
    }

    /// Finishes the file and moves the directory into place.
    pub(crate) fn commit(mut self) -> Result<OutputLocation> {
        if let Some(writer) = self.writer.take() {
            let file = writer
                .into_inner()
                .map_err(|source| self.parquet_error(source))?;
            let file = file.into_inner().map_err(|error| Error::Io {
                path: self.temporary.join(FIRST_PART),
                source: error.into_error(),
            })?;
            file.sync_all().map_err(|source| Error::Io {
                path: self.temporary.join(FIRST_PART),
                source,
            })?;
        }
        fs::rename(&self.temporary, &self.destination).map_err(|source| Error::Io {
            path: self.destination.clone(),
            source,
        })?;
        let file = self.destination.join(FIRST_PART);
        let bytes = fs::metadata(&file)
            .map_err(|source| Error::Io {
                path: file.clone(),
                source,
            })?
            .len();
        Ok(OutputLocation {
            directory: self.destination.clone(),
            files: vec![file],
            bytes,
        })
    }

    fn parquet_error(&self, source: parquet::errors::ParquetError) -> Error {
        match source {
            parquet::errors::ParquetError::External(error) => {
                match error.downcast::<std::io::Error>() {
                    Ok(io) => Error::Io {
                        path: self.temporary.join(FIRST_PART),
                        source: *io,
                    },
                    Err(other) => Error::Parquet {
                        source: parquet::errors::ParquetError::External(other),
                    },
                }
            }
            other => Error::Parquet { source: other },
        }
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        // Only a sink that was not committed still has its temporary directory.
        if self.temporary.exists() {
            drop(self.writer.take());
            if let Err(error) = fs::remove_dir_all(&self.temporary) {
                tracing::warn!(path = %self.temporary.display(), %error, "cannot remove a partial output");
            }
        }
    }
}

/// 32 lowercase hex digits that differ between calls and processes, for output directory names
/// (the reference uses a random UUID's hex).
pub(crate) fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    // `RandomState` is seeded from the operating system's randomness once per thread; hashing the
    // time, the process id and a counter through two such states gives 128 unpredictable bits
    // without another dependency.
    let mut halves = [0_u64; 2];
    for (salt, half) in halves.iter_mut().enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(now);
        hasher.write_u32(std::process::id());
        hasher.write_u64(count);
        hasher.write_usize(salt);
        *half = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::Int64Array;
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn output_names_are_32_lowercase_hex_digits_and_unique() {
        let first = random_hex();
        let second = random_hex();
        assert_eq!(first.len(), 32);
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(first, second);
    }

    #[test]
    fn an_uncommitted_output_leaves_nothing_behind() {
        let parent = tempfile::tempdir().expect("temp dir");
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let mut sink = ParquetSink::create(
            parent.path(),
            Arc::clone(&schema),
            &ParquetOptions::reference_compatible(),
        )
        .expect("sink");
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))])
            .expect("batch");
        sink.write(&batch).expect("write");
        drop(sink);
        assert_eq!(fs::read_dir(parent.path()).expect("read dir").count(), 0);
    }

    #[test]
    fn a_committed_output_is_in_the_reference_layout() {
        let parent = tempfile::tempdir().expect("temp dir");
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let sink = ParquetSink::create(
            parent.path(),
            schema,
            &ParquetOptions::reference_compatible(),
        )
        .expect("sink");
        let location = sink.commit().expect("commit");
        let entries: Vec<_> = fs::read_dir(parent.path()).expect("read dir").collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(location.files, [location.directory.join("00000")]);
        assert!(location.bytes > 0);
    }
}
