//! Warnings about a valid task: things that will work here but may surprise at run time.

use std::fmt;

use flyte_sql_config::UnknownConnectArg;

use crate::task::{Runtime, SqlTask};

/// Something about a task worth telling its author, though the task is valid.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DefinitionWarning {
    /// A connect arg (or URI query option) the backend does not understand; running the task
    /// will fail with an error listing the accepted keys.
    UnknownConnectArg(UnknownConnectArg),
    /// The URI's dialect is one flyte-sql accepts but the Python plugin's SQLAlchemy does not, and
    /// the task runs on the Python runtime.
    DialectUnknownToSqlalchemy {
        /// The dialect as written (`postgres`).
        dialect: String,
    },
}

impl fmt::Display for DefinitionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefinitionWarning::UnknownConnectArg(unknown) => unknown.fmt(f),
            DefinitionWarning::DialectUnknownToSqlalchemy { dialect } => write!(
                f,
                "SQLAlchemy does not know the dialect `{dialect}`, so the python runtime will fail to connect: write `postgresql://` instead"
            ),
        }
    }
}

impl SqlTask {
    /// Warnings about this task, for `serialize`, `package` and `run` to show when they read it.
    pub fn definition_warnings(&self) -> Vec<DefinitionWarning> {
        let mut warnings: Vec<DefinitionWarning> = self
            .connection
            .connect_arg_warnings()
            .into_iter()
            .map(DefinitionWarning::UnknownConnectArg)
            .collect();
        let dialect = self.connection.uri().dialect();
        if self.runtime == Runtime::Python && dialect == "postgres" {
            warnings.push(DefinitionWarning::DialectUnknownToSqlalchemy {
                dialect: dialect.to_owned(),
            });
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_connect_args_and_sqlalchemy_dialects_warn() {
        let task = SqlTask::from_toml(
            r#"
name = "t"
query = "select 1"
runtime = "python"
interpolation = "compat"
[connection]
uri = "postgres://app@db/x"
connect_args = { sslmode = "require", ssl_mode = "require" }
"#,
        )
        .unwrap();
        let warnings: Vec<String> = task
            .definition_warnings()
            .iter()
            .map(ToString::to_string)
            .collect();
        expect_test::expect![[r#"
            [
                "unknown connect arg `ssl_mode` in connect_args for postgres (did you mean `sslmode`?); accepted: host, hostaddr, port, dbname, user, password, passfile, connect_timeout, client_encoding, options, application_name, fallback_application_name, keepalives, keepalives_idle, keepalives_interval, keepalives_count, tcp_user_timeout, sslmode, sslcompression, sslcert, sslkey, sslrootcert, sslcrl, sslcrldir, sslsni, ssl_min_protocol_version, ssl_max_protocol_version, requirepeer, gssencmode, channel_binding, krbsrvname, service, target_session_attrs, statement_timeout",
                "SQLAlchemy does not know the dialect `postgres`, so the python runtime will fail to connect: write `postgresql://` instead",
            ]
        "#]]
        .assert_debug_eq(&warnings);
    }

    #[test]
    fn a_clean_task_has_no_warnings() {
        let task = SqlTask::from_toml(
            "name = \"t\"\nquery = \"select 1\"\n[connection]\nuri = \"postgres://app@db/x\"\nconnect_args = { sslmode = \"require\" }\n",
        )
        .unwrap();
        assert_eq!(task.definition_warnings(), []);
    }
}
