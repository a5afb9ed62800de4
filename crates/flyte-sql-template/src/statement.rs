//! A rendered statement: SQL text and the values bound to its parameters.

use flyte_sql_model::Value;

/// SQL ready to run: the text, and in safe mode the values of its bind parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL text, with `$1`, `$2`, ... (PostgreSQL) or `?` (SQLite, MySQL) where safe mode put
    /// values.
    pub sql: String,
    /// The values for the parameters, in parameter order: one per `$n` for PostgreSQL, one per
    /// `?` otherwise. Always empty in compatible mode, which splices values into the text.
    pub binds: Vec<Bind>,
}

/// One bind parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    /// The input the value comes from.
    pub name: String,
    /// The value; a missing optional value stays a typed [`Value::Null`], so the executor can
    /// bind a NULL of the right type.
    pub value: Value,
}
