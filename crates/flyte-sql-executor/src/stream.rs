//! From rows to Parquet: the column plan, the first-batch type inference and the row sink the
//! backends push decoded values into.
//!
//! Column types come, in this order, from the declared output columns, from the describe step,
//! and from the values of the first batch (SQLite expressions, or when the describe step could
//! not run). Rows are pushed straight into Arrow builders; a full batch goes to the Parquet writer
//! thread, which encodes it while the next one is fetched. The queue between them holds one
//! batch, so at most three batches of rows are in memory: filling, queued, encoding.

use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use flyte_sql_model::OutputColumn;

use crate::builder::BatchBuilder;
use crate::datum::{Datum, OwnedDatum};
use crate::error::{Error, Result};
use crate::output::{BackgroundWriter, OutputLocation, ParquetOptions, ParquetSink};
use crate::types::{Column, ColumnType};

/// What the describe step found out about one result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hint {
    /// The type is known.
    Known(ColumnType),
    /// The type comes from the values (SQLite expressions, untyped NUMERIC).
    FromValues,
    /// The type comes from the values, or is this one when there are none (SQLite reports
    /// `BLOB` both for blob columns and for columns without a declared type).
    Likely(ColumnType),
    /// The database type has no mapping.
    Unsupported {
        type_name: String,
        suggestion: &'static str,
    },
}

/// A described result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Described {
    pub(crate) name: String,
    pub(crate) hint: Hint,
}

/// How a run is observed: row counts as they stream, for progress indicators.
pub trait Progress {
    /// Called after each batch with the total rows so far.
    fn rows(&mut self, total: u64);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn rows(&mut self, _total: u64) {}
}

/// Settings of one streamed result.
pub(crate) struct SinkSettings {
    pub(crate) out: flyte_sql_storage::Location,
    pub(crate) parquet: ParquetOptions,
    pub(crate) batch_rows: usize,
    pub(crate) preview_rows: usize,
    pub(crate) deadline: Option<(Instant, Duration)>,
}

/// What a finished stream produced.
#[derive(Debug)]
pub(crate) struct Streamed {
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: u64,
    pub(crate) location: OutputLocation,
    pub(crate) preview: Option<RecordBatch>,
}

enum State {
    /// Buffering the first batch until every column's type is known.
    Inferring {
        hints: Vec<Hint>,
        rows: Vec<Vec<OwnedDatum>>,
        row: Vec<OwnedDatum>,
    },
    /// Streaming into builders; full batches go to the writer thread.
    Streaming {
        batch: Box<BatchBuilder>,
        parquet: BackgroundWriter,
    },
}

/// Receives decoded rows and writes them to Parquet.
pub(crate) struct RowSink {
    settings: SinkSettings,
    declared: Option<Vec<OutputColumn>>,
    /// Result column names: from the describe step, or from the first row.
    names: Option<Vec<String>>,
    /// For each result column, the index of its output column.
    targets: Vec<usize>,
    state: Option<State>,
    rows: u64,
    preview: Option<RecordBatch>,
}

impl RowSink {
    /// A sink for a result whose columns the describe step found (`described`), or not (`None`),
    /// written as the declared columns when there are some.
    pub(crate) fn new(
        settings: SinkSettings,
        declared: Option<&[OutputColumn]>,
        described: Option<Vec<Described>>,
    ) -> Result<RowSink> {
        let mut sink = RowSink {
            settings,
            declared: declared.map(<[OutputColumn]>::to_vec),
            names: None,
            targets: Vec::new(),
            state: None,
            rows: 0,
            preview: None,
        };
        if let Some(described) = described {
            sink.plan(described)?;
        }
        Ok(sink)
    }

    /// The number of the row being appended, counting from 1.
    #[inline]
    pub(crate) fn row_number(&self) -> u64 {
        match &self.state {
            Some(State::Inferring { rows, .. }) => rows.len() as u64 + 1,
            _ => self.rows + 1,
        }
    }

    /// The name of result column `index`, for messages.
    pub(crate) fn column_name(&self, index: usize) -> &str {
        self.names
            .as_ref()
            .and_then(|names| names.get(index))
            .map_or("?", String::as_str)
    }

    /// Whether the result's column names are still to be learnt from the first row.
    pub(crate) fn needs_names(&self) -> bool {
        self.names.is_none()
    }

    /// Learns the column names from the first row when the describe step could not run.
    pub(crate) fn set_names(&mut self, names: Vec<String>) -> Result<()> {
        let described = names
            .into_iter()
            .map(|name| Described {
                name,
                hint: Hint::FromValues,
            })
            .collect();
        self.plan(described)
    }

    fn plan(&mut self, described: Vec<Described>) -> Result<()> {
        let names: Vec<String> = described.iter().map(|column| column.name.clone()).collect();
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                return Err(Error::DuplicateColumn {
                    column: name.clone(),
                });
            }
        }
        let hints = match &self.declared {
            Some(declared) => {
                self.targets = match_declared(declared, &names)?;
                let mut hints = vec![Hint::FromValues; declared.len()];
                for (column, target) in self.targets.iter().enumerate() {
                    let _ = column;
                    hints[*target] = Hint::Known(ColumnType::from_declared(declared[*target].ty));
                }
                hints
            }
            None => {
                for column in &described {
                    if let Hint::Unsupported {
                        type_name,
                        suggestion,
                    } = &column.hint
                    {
                        return Err(Error::UnsupportedType {
                            column: column.name.clone(),
                            type_name: type_name.clone(),
                            suggestion,
                        });
                    }
                }
                self.targets = (0..names.len()).collect();
                described.into_iter().map(|column| column.hint).collect()
            }
        };
        self.names = Some(names);
        self.state = Some(State::Inferring {
            hints,
            rows: Vec::new(),
            row: Vec::new(),
        });
        self.try_start_streaming()
    }

    /// The output column names, in output order.
    fn output_names(&self) -> Vec<String> {
        match (&self.declared, &self.names) {
            (Some(declared), _) => declared.iter().map(|column| column.name.clone()).collect(),
            (None, Some(names)) => names.clone(),
            (None, None) => Vec::new(),
        }
    }

    /// Switches to streaming when every type is known, replaying buffered rows.
    fn try_start_streaming(&mut self) -> Result<()> {
        let Some(State::Inferring { hints, .. }) = &self.state else {
            return Ok(());
        };
        if hints.iter().all(|hint| matches!(hint, Hint::Known(_))) {
            self.start_streaming()?;
        }
        Ok(())
    }

    fn start_streaming(&mut self) -> Result<()> {
        let Some(State::Inferring { hints, rows, .. }) = self.state.take() else {
            return Ok(());
        };
        let names = self.output_names();
        let mut columns = Vec::with_capacity(hints.len());
        for (index, (hint, name)) in hints.iter().zip(&names).enumerate() {
            let ty = match hint {
                Hint::Known(ty) => *ty,
                Hint::Likely(likely) => infer(name, index, &rows)?.unwrap_or(*likely),
                _ => infer(name, index, &rows)?.unwrap_or(ColumnType::Text),
            };
            columns.push(Column {
                name: name.clone(),
                ty,
            });
        }
        let batch = BatchBuilder::new(columns, self.settings.batch_rows);
        let parquet = BackgroundWriter::start(ParquetSink::create(
            &self.settings.out,
            batch.schema(),
            &self.settings.parquet,
        )?)?;
        self.state = Some(State::Streaming {
            batch: Box::new(batch),
            parquet,
        });
        for row in rows {
            for (index, value) in row.iter().enumerate() {
                self.append_streaming(index, value.as_datum())?;
            }
            self.end_streaming_row()?;
        }
        Ok(())
    }

    /// Appends the value of result column `index` in the current row. Inlined, as is
    /// [`BatchBuilder::append`], into the backends' row loops.
    #[inline(always)]
    pub(crate) fn append(&mut self, index: usize, datum: Datum<'_>) -> Result<()> {
        match &mut self.state {
            Some(State::Streaming { .. }) => self.append_streaming(index, datum),
            Some(State::Inferring { row, .. }) => {
                row.push(OwnedDatum::from_datum(datum));
                Ok(())
            }
            None => Ok(()),
        }
    }

    #[inline(always)]
    fn append_streaming(&mut self, index: usize, datum: Datum<'_>) -> Result<()> {
        let target = self.targets.get(index).copied().unwrap_or(index);
        if let Some(State::Streaming { batch, .. }) = &mut self.state {
            batch.append(target, datum)?;
        }
        Ok(())
    }

    /// Ends the current row; a full batch is written out. Fails once the statement timeout has
    /// passed: checked at every row, since the backend may not be able to cancel a statement.
    #[inline]
    pub(crate) fn end_row(&mut self) -> Result<()> {
        self.check_deadline()?;
        match &mut self.state {
            Some(State::Streaming { .. }) => self.end_streaming_row(),
            Some(State::Inferring { rows, row, .. }) => {
                let complete = std::mem::take(row);
                let width = self.targets.len();
                rows.push(reorder(complete, &self.targets, width));
                if rows.len() >= self.settings.batch_rows {
                    self.start_streaming()?;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    #[inline]
    fn end_streaming_row(&mut self) -> Result<()> {
        self.rows += 1;
        let full = match &mut self.state {
            Some(State::Streaming { batch, .. }) => batch.end_row(),
            _ => false,
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// The statement timeout error once it has passed.
    #[inline]
    pub(crate) fn check_deadline(&self) -> Result<()> {
        match self.settings.deadline {
            Some((started, timeout)) if started.elapsed() > timeout => {
                Err(Error::StatementTimeout { timeout })
            }
            _ => Ok(()),
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.check_deadline()?;
        let Some(State::Streaming { batch, parquet }) = &mut self.state else {
            return Ok(());
        };
        if batch.rows_in_batch() == 0 && self.rows > 0 {
            return Ok(());
        }
        let finished = batch.finish()?;
        if self.preview.is_none() && self.settings.preview_rows > 0 {
            let length = finished.num_rows().min(self.settings.preview_rows);
            self.preview = Some(finished.slice(0, length));
        }
        parquet.write(finished)?;
        Ok(())
    }

    /// Writes what is left and publishes the output.
    pub(crate) fn finish(mut self) -> Result<Streamed> {
        if matches!(self.state, Some(State::Inferring { .. })) {
            self.start_streaming()?;
        }
        if self.state.is_none() {
            // No describe step and no rows: nothing says what the columns are.
            tracing::warn!(
                "the query returned no rows and its columns could not be described: writing a Parquet file without columns"
            );
            self.names = Some(Vec::new());
            self.state = Some(State::Inferring {
                hints: Vec::new(),
                rows: Vec::new(),
                row: Vec::new(),
            });
            self.start_streaming()?;
        }
        self.flush()?;
        let Some(State::Streaming { batch, parquet }) = self.state.take() else {
            unreachable!("start_streaming always leaves the sink streaming");
        };
        let columns = batch.columns().to_vec();
        let location = parquet.commit()?;
        Ok(Streamed {
            columns,
            rows: self.rows,
            location,
            preview: self.preview,
        })
    }
}

/// Puts a buffered row's values in output order.
fn reorder(row: Vec<OwnedDatum>, targets: &[usize], width: usize) -> Vec<OwnedDatum> {
    if targets
        .iter()
        .enumerate()
        .all(|(index, target)| index == *target)
    {
        return row;
    }
    let mut ordered = vec![OwnedDatum::Copy(Datum::Null); width];
    for (index, value) in row.into_iter().enumerate() {
        if let Some(target) = targets.get(index) {
            ordered[*target] = value;
        }
    }
    ordered
}

/// The type of a column from its buffered values; `None` when they are all null.
fn infer(name: &str, index: usize, rows: &[Vec<OwnedDatum>]) -> Result<Option<ColumnType>> {
    let mut ty = ColumnType::Null;
    for (row_number, row) in rows.iter().enumerate() {
        let Some(value) = row.get(index) else {
            continue;
        };
        let natural = value.as_datum().natural_type();
        ty = ty.unify(natural).ok_or_else(|| Error::Conversion {
            column: name.to_owned(),
            row: row_number as u64 + 1,
            problem: format!(
                "the column mixes {ty} and {natural} values: cast it in the query to one type"
            ),
        })?;
    }
    Ok(if ty == ColumnType::Null {
        None
    } else {
        Some(ty)
    })
}

/// For each result column, the declared column it fills; errors for missing and extra columns.
/// Names match exactly, or else case-insensitively when that is unambiguous (PostgreSQL folds
/// unquoted names to lower case).
fn match_declared(declared: &[OutputColumn], names: &[String]) -> Result<Vec<usize>> {
    let mut targets = Vec::with_capacity(names.len());
    for name in names {
        let exact = declared.iter().position(|column| &column.name == name);
        let target = exact.or_else(|| {
            let mut candidates = declared
                .iter()
                .enumerate()
                .filter(|(_, column)| column.name.eq_ignore_ascii_case(name));
            match (candidates.next(), candidates.next()) {
                (Some((index, _)), None) => Some(index),
                _ => None,
            }
        });
        match target {
            Some(target) if !targets.contains(&target) => targets.push(target),
            _ => {
                return Err(Error::UndeclaredColumn {
                    column: name.clone(),
                    declared: declared.iter().map(|column| column.name.clone()).collect(),
                });
            }
        }
    }
    for (index, column) in declared.iter().enumerate() {
        if !targets.contains(&index) {
            return Err(Error::MissingColumn {
                column: column.name.clone(),
                found: names.to_vec(),
            });
        }
    }
    Ok(targets)
}

/// The column names of a result row, `columnN` (1-based) where the driver gives none.
pub(crate) fn field_names<'a, DB: diesel::backend::Backend>(
    row: &impl diesel::row::Row<'a, DB>,
) -> Vec<String> {
    use diesel::row::Field;
    (0..row.field_count())
        .map(|index| {
            diesel::row::Row::get(row, index)
                .and_then(|field| field.field_name().map(str::to_owned))
                .unwrap_or_else(|| format!("column{}", index + 1))
        })
        .collect()
}

// For backends that learn the result's columns from the result itself (MySQL's execution
// metadata, which types binds exactly), before its first row.
impl RowSink {
    /// Plans the output from `described` when no describe step did: the columns and types the
    /// result's own metadata gives, before its first row.
    pub(crate) fn set_described(&mut self, described: Vec<Described>) -> Result<()> {
        self.plan(described)
    }
}
