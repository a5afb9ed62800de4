//! Query templates for flyte-sql.

#![warn(missing_docs)]
