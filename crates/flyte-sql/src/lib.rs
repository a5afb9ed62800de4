//! flyte-sql.

#![warn(missing_docs)]

pub use flyte_sql_config as config;
pub use flyte_sql_model as model;
pub use flyte_sql_template as template;
