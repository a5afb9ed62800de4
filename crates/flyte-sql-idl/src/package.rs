//! Registration packages: the `<index>_<name>_1.pb` TaskSpec files that `pyflyte package` puts
//! into its archive and `flytectl register files` reads.

use flyte_sql_model::SqlTask;
use prost::Message;

use crate::error::Result;
use crate::settings::SerializationSettings;
use crate::task_template::task_spec;

/// One file of a registration package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMember {
    /// The flat file name, `<index>_<task name>_1.pb`.
    pub name: String,
    /// An encoded `flyteidl.admin.TaskSpec`.
    pub contents: Vec<u8>,
}

/// The package files for these tasks, in order: one TaskSpec per task, named like `pyflyte
/// package` names them (the index zero-padded to the number of digits of the task count, kind 1
/// for a task).
///
/// `pyflyte package` leaves the identifiers' project, domain and version empty for `flytectl
/// register files` to fill; pass settings with empty strings to do the same.
pub fn package_members(
    tasks: &[SqlTask],
    settings: &SerializationSettings,
) -> Result<Vec<PackageMember>> {
    let width = tasks.len().to_string().len();
    tasks
        .iter()
        .enumerate()
        .map(|(index, task)| {
            Ok(PackageMember {
                name: format!("{index:0width$}_{}_1.pb", task.name()),
                contents: task_spec(task, settings)?.encode_to_vec(),
            })
        })
        .collect()
}
