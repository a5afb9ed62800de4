//! Reading task files: the one place the binary loads a `SqlTask` from disk and shows its
//! definition warnings.

use std::path::Path;

use anyhow::Context;
use flyte_sql_model::SqlTask;

use crate::UsageError;

/// Reads and validates the task file at `path`, printing its definition warnings on stderr. A
/// file that cannot be read (missing, a directory, not UTF-8) is the user's to fix (exit 2).
pub(crate) fn load(path: &Path) -> anyhow::Result<SqlTask> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        UsageError(format!("cannot read task file {}: {error}", path.display()))
    })?;
    let task =
        SqlTask::from_toml(&text).with_context(|| format!("in task file {}", path.display()))?;
    flyte_sql_template::check_task(&task)
        .with_context(|| format!("in task file {}", path.display()))?;
    for warning in task.definition_warnings() {
        crate::terminal::eprint_line(&format!("warning: {}: {warning}", path.display()));
    }
    Ok(task)
}
