//! Parquet output in the reference's layout, written incrementally and committed atomically.
//!
//! A result goes to `<out>/<32 lowercase hex>/00000`, the layout flytekit's structured-dataset
//! readers expect, where `<out>` is any [`Location`]: a local directory or an object-store prefix.
//! Row groups are bounded by rows and bytes, so the writer's memory does not grow with the result,
//! and the bytes stream to the location as they are encoded (a multipart upload on an object
//! store). A file becomes visible only when it is complete; a sink dropped before its commit
//! removes everything it wrote: an output exists completely or not at all.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use flyte_sql_storage::{FileWriter, Location};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

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
#[derive(Debug, Clone)]
pub struct OutputLocation {
    /// The output directory (or prefix), `<out>/<32 hex>`: the structured dataset's uri.
    pub directory: Location,
    /// The Parquet files in it, in order (`00000`, ...).
    pub files: Vec<Location>,
    /// Total bytes written.
    pub bytes: u64,
}

/// A Parquet file streaming to its location; [`ParquetSink::commit`] makes it visible, dropping
/// it uncommitted removes what it wrote.
pub(crate) struct ParquetSink {
    writer: Writer,
    directory: Location,
    file: Location,
    committed: bool,
}

/// The Parquet writer, opened on the first batch: its settings depend on the data.
enum Writer {
    Pending {
        stream: Box<dyn FileWriter>,
        schema: SchemaRef,
        options: ParquetOptions,
    },
    Open(Box<ArrowWriter<Box<dyn FileWriter>>>),
    /// Committed, or failed while opening.
    Closed,
}

impl std::fmt::Debug for ParquetSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSink")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl ParquetSink {
    /// Starts an output under `parent` with the given schema.
    pub(crate) fn create(
        parent: &Location,
        schema: SchemaRef,
        options: &ParquetOptions,
    ) -> Result<ParquetSink> {
        let directory = parent.join(&random_hex());
        let file = directory.join(FIRST_PART);
        let stream = file.create()?;
        // From here on, dropping the sink cleans up what it wrote.
        Ok(ParquetSink {
            writer: Writer::Pending {
                stream,
                schema,
                options: options.clone(),
            },
            directory,
            file,
            committed: false,
        })
    }

    /// Appends a batch; the writer flushes row groups as they fill.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let writer = self.open(Some(batch))?;
        writer
            .write(batch)
            .map_err(|source| self.parquet_error(source))
    }

    /// The writer, opened with settings chosen from `first` (the first batch) if it is not open
    /// yet.
    fn open(
        &mut self,
        first: Option<&RecordBatch>,
    ) -> Result<&mut ArrowWriter<Box<dyn FileWriter>>> {
        if let Writer::Pending { .. } = self.writer {
            let Writer::Pending {
                stream,
                schema,
                options,
            } = std::mem::replace(&mut self.writer, Writer::Closed)
            else {
                unreachable!("matched above");
            };
            let properties = writer_properties(&schema, &options, first);
            let writer = ArrowWriter::try_new(stream, schema, Some(properties))
                .map_err(|source| self.parquet_error(source))?;
            self.writer = Writer::Open(Box::new(writer));
        }
        match &mut self.writer {
            Writer::Open(writer) => Ok(writer),
            _ => Err(Error::Parquet {
                source: parquet::errors::ParquetError::General(
                    "the Parquet writer is closed".to_owned(),
                ),
            }),
        }
    }

    /// Finishes the file and makes it visible.
    pub(crate) fn commit(mut self) -> Result<OutputLocation> {
        self.open(None)?;
        let Writer::Open(writer) = std::mem::replace(&mut self.writer, Writer::Closed) else {
            unreachable!("opened above");
        };
        let stream = writer
            .into_inner()
            .map_err(|source| self.parquet_error(source))?;
        let bytes = stream.commit()?;
        self.committed = true;
        Ok(OutputLocation {
            directory: self.directory.clone(),
            files: vec![self.file.clone()],
            bytes,
        })
    }

    /// Our storage error when the writer failed on its stream, else the Parquet error.
    fn parquet_error(&self, source: parquet::errors::ParquetError) -> Error {
        let parquet::errors::ParquetError::External(error) = source else {
            return Error::Parquet { source };
        };
        let io = match error.downcast::<std::io::Error>() {
            Ok(io) => *io,
            Err(other) => {
                return Error::Parquet {
                    source: parquet::errors::ParquetError::External(other),
                };
            }
        };
        if io
            .get_ref()
            .is_some_and(|inner| inner.is::<flyte_sql_storage::Error>())
        {
            let inner = io.into_inner().expect("checked above");
            if let Ok(storage) = inner.downcast::<flyte_sql_storage::Error>() {
                return Error::Storage(*storage);
            }
            unreachable!("the inner error was checked to be a storage error");
        }
        Error::Io {
            path: self.file.uri().into(),
            source: io,
        }
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // The stream goes first (an unfinished upload is aborted, a partial file removed), then
        // the directory it was made in.
        self.writer = Writer::Closed;
        if let Err(error) = self.directory.remove_all() {
            tracing::warn!(directory = %self.directory, %error, "cannot remove a partial output");
        }
    }
}

/// The writer's settings: the codec and row-group bounds of `options`, and dictionaries only
/// for the text and bytes columns where the first batch says they pay.
fn writer_properties(
    schema: &SchemaRef,
    options: &ParquetOptions,
    first: Option<&RecordBatch>,
) -> WriterProperties {
    let compression = match options.compression {
        ParquetCompression::None => Compression::UNCOMPRESSED,
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
    };
    let mut properties = WriterProperties::builder();
    for (index, field) in schema.fields().iter().enumerate() {
        let text_or_bytes = matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
        );
        let mostly_distinct = first
            .and_then(|batch| batch.columns().get(index))
            .is_some_and(|column| mostly_distinct(column.as_ref()));
        // Numbers and times are mostly distinct: the writer would hash each value only to fall
        // back to plain encoding after the first megabyte (docs/performance.md, levers 4 and 9).
        if !text_or_bytes || mostly_distinct {
            properties = properties
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    properties
        .set_compression(compression)
        .set_max_row_group_row_count(Some(options.max_row_group_rows.max(1)))
        .set_max_row_group_bytes(Some(options.max_row_group_bytes.max(1)))
        .set_created_by(format!("flyte-sql version {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Values of a first batch looked at to judge a column's dictionary.
const DISTINCT_SAMPLE: usize = 8192;
/// Fewer values than this say too little: the column keeps its dictionary.
const DISTINCT_SAMPLE_MIN: usize = 1024;

/// Whether a text or bytes column is nearly all distinct values (names, identifiers, free
/// text): more than 95% of the first [`DISTINCT_SAMPLE`] values. A dictionary of such a column
/// fills its page within a row group, and the writer falls back to plain encoding, after hashing
/// every value until then. A column with fewer than about 80,000 distinct values in all (codes,
/// categories, enums) shows repeats within that sample and keeps its dictionary.
fn mostly_distinct(column: &dyn arrow_array::Array) -> bool {
    use arrow_array::cast::AsArray;
    let sample: Vec<&[u8]> = if let Some(text) = column.as_string_opt::<i32>() {
        text.iter()
            .flatten()
            .take(DISTINCT_SAMPLE)
            .map(str::as_bytes)
            .collect()
    } else if let Some(bytes) = column.as_binary_opt::<i32>() {
        bytes.iter().flatten().take(DISTINCT_SAMPLE).collect()
    } else {
        // The builders make no other text or bytes arrays (no large offsets).
        return false;
    };
    if sample.len() < DISTINCT_SAMPLE_MIN {
        return false;
    }
    let distinct: std::collections::HashSet<&[u8]> = sample.iter().copied().collect();
    distinct.len() * 20 > sample.len() * 19
}

/// Batches queued for the writer thread at most: with the batch being filled and the one being
/// encoded, three batches are in memory.
const QUEUED_BATCHES: usize = 1;

/// A [`ParquetSink`] on its own thread: batches are encoded and written while the backend
/// fetches the next ones. [`BackgroundWriter::commit`] publishes the output; dropping the writer
/// uncommitted waits for the thread and removes what it wrote.
pub(crate) struct BackgroundWriter {
    batches: Option<SyncSender<RecordBatch>>,
    thread: Option<JoinHandle<Result<ParquetSink>>>,
}

impl std::fmt::Debug for BackgroundWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWriter").finish_non_exhaustive()
    }
}

impl BackgroundWriter {
    /// Moves `sink` to a new writer thread.
    pub(crate) fn start(sink: ParquetSink) -> Result<BackgroundWriter> {
        let (batches, queue) = std::sync::mpsc::sync_channel(QUEUED_BATCHES);
        let thread = std::thread::Builder::new()
            .name("parquet-writer".to_owned())
            .spawn(move || write_all(sink, &queue))
            .map_err(|source| Error::Io {
                path: "the Parquet writer thread".into(),
                source,
            })?;
        Ok(BackgroundWriter {
            batches: Some(batches),
            thread: Some(thread),
        })
    }

    /// Queues a batch, waiting while the queue is full; the writer's error when it failed.
    pub(crate) fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let sent = match &self.batches {
            Some(batches) => batches.send(batch).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer thread stopped (it hangs up only on failure): its error is the answer.
        self.join().map(drop)
    }

    /// Writes what is queued, finishes the file and makes it visible.
    pub(crate) fn commit(mut self) -> Result<OutputLocation> {
        self.join()?.commit()
    }

    fn join(&mut self) -> Result<ParquetSink> {
        drop(self.batches.take());
        let thread = self.thread.take().ok_or_else(|| Error::Parquet {
            source: parquet::errors::ParquetError::General(
                "the Parquet writer already stopped".to_owned(),
            ),
        })?;
        thread.join().unwrap_or_else(|_| {
            Err(Error::Parquet {
                source: parquet::errors::ParquetError::General(
                    "the Parquet writer thread panicked".to_owned(),
                ),
            })
        })
    }
}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
        // Uncommitted: the sink is dropped once the thread ends, which removes the partial
        // output before the run reports its failure.
        if self.thread.is_some() {
            drop(self.join());
        }
    }
}

/// The writer thread: writes every batch until the queue closes; stops at the first failure,
/// dropping the sink (and with it the partial output).
fn write_all(mut sink: ParquetSink, queue: &Receiver<RecordBatch>) -> Result<ParquetSink> {
    for batch in queue {
        sink.write(&batch)?;
    }
    Ok(sink)
}

/// 32 lowercase hex digits that differ between calls and processes, for output directory names
/// (the reference uses a random UUID's hex) and other names that must not collide.
pub fn random_hex() -> String {
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

    fn local(dir: &std::path::Path) -> Location {
        Location::local(dir)
    }

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
            &local(parent.path()),
            Arc::clone(&schema),
            &ParquetOptions::reference_compatible(),
        )
        .expect("sink");
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))])
            .expect("batch");
        sink.write(&batch).expect("write");
        drop(sink);
        assert_eq!(
            std::fs::read_dir(parent.path()).expect("read dir").count(),
            0
        );
    }

    /// A batch the writer thread cannot write stops the run with the writer's error (at the next
    /// write or at the commit) and leaves nothing behind.
    #[test]
    fn a_failed_background_write_is_reported_and_removes_the_output() {
        let parent = tempfile::tempdir().expect("temp dir");
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let sink = ParquetSink::create(
            &local(parent.path()),
            schema,
            &ParquetOptions::reference_compatible(),
        )
        .expect("sink");
        let mut writer = BackgroundWriter::start(sink).expect("writer thread");
        let wrong = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(
            wrong,
            vec![Arc::new(arrow_array::StringArray::from(vec!["a"]))],
        )
        .expect("batch");
        let mut failed = None;
        for _ in 0..3 {
            if let Err(error) = writer.write(batch.clone()) {
                failed = Some(error);
                break;
            }
        }
        let error = match failed {
            Some(error) => error,
            None => writer.commit().expect_err("the writer failed"),
        };
        assert!(matches!(error, Error::Parquet { .. }), "{error}");
        assert_eq!(
            std::fs::read_dir(parent.path()).expect("read dir").count(),
            0
        );
    }

    /// The encodings of each column of a Parquet file's first row group, by column name.
    fn encodings(file: &std::path::Path) -> Vec<(String, Vec<parquet::basic::Encoding>)> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(std::fs::File::open(file).expect("open"))
            .expect("a Parquet file");
        let group = reader.metadata().row_group(0);
        group
            .columns()
            .iter()
            .map(|column| (column.column_path().string(), column.encodings().collect()))
            .collect()
    }

    /// Writes one batch of `columns` under `parent`; the file written.
    fn write_one_batch(
        parent: &std::path::Path,
        columns: Vec<(&str, arrow_array::ArrayRef)>,
    ) -> std::path::PathBuf {
        let batch = RecordBatch::try_from_iter(columns).expect("batch");
        let mut sink = ParquetSink::create(
            &local(parent),
            batch.schema(),
            &ParquetOptions::reference_compatible(),
        )
        .expect("sink");
        sink.write(&batch).expect("write");
        let location = sink.commit().expect("commit");
        location.files[0].local_path().expect("local").to_path_buf()
    }

    /// Text whose first batch is nearly all distinct is written plain; text that repeats, and
    /// a sample too small to say, keep their dictionaries; numbers never have one.
    #[test]
    fn dictionaries_are_kept_where_the_first_batch_repeats() {
        use arrow_array::{ArrayRef, BinaryArray, StringArray};
        let rows = 8192;
        let distinct: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..rows).map(|row| format!("user-{row:05}")),
        ));
        // 5000 codes, the first 5000 rows distinct and the rest repeats: 61% distinct.
        let codes: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..rows).map(|row| format!("{:05}", (row * 7919) % 5000)),
        ));
        let distinct_bytes: ArrayRef = Arc::new(BinaryArray::from_iter_values(
            (0..rows as u32).map(u32::to_be_bytes),
        ));
        let numbers: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..rows as i64).map(|row| row % 3),
        ));
        let parent = tempfile::tempdir().expect("temp dir");
        let file = write_one_batch(
            parent.path(),
            vec![
                ("name", distinct),
                ("code", codes),
                ("digest", distinct_bytes),
                ("n", numbers),
            ],
        );
        let dictionary = |column: &str| {
            encodings(&file)
                .into_iter()
                .find(|(name, _)| name == column)
                .expect("column")
                .1
                .contains(&parquet::basic::Encoding::RLE_DICTIONARY)
        };
        assert!(!dictionary("name"));
        assert!(dictionary("code"));
        assert!(!dictionary("digest"));
        assert!(!dictionary("n"));

        let few: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..100).map(|row| format!("user-{row}")),
        ));
        let file = write_one_batch(parent.path(), vec![("name", few)]);
        assert!(
            encodings(&file)[0]
                .1
                .contains(&parquet::basic::Encoding::RLE_DICTIONARY)
        );
    }

    #[test]
    fn a_committed_output_is_in_the_reference_layout() {
        let parent = tempfile::tempdir().expect("temp dir");
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let sink = ParquetSink::create(
            &local(parent.path()),
            schema,
            &ParquetOptions::reference_compatible(),
        )
        .expect("sink");
        let location = sink.commit().expect("commit");
        let entries: Vec<_> = std::fs::read_dir(parent.path())
            .expect("read dir")
            .collect();
        assert_eq!(entries.len(), 1);
        let directory = location
            .directory
            .local_path()
            .expect("local")
            .to_path_buf();
        let files: Vec<_> = std::fs::read_dir(&directory)
            .expect("read dir")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(files, ["00000"]);
        assert_eq!(
            location.files[0].uri(),
            location.directory.join("00000").uri()
        );
        assert!(location.bytes > 0);
    }
}
