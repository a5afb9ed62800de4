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
    /// A password is written in clear in the connection (the URI, or a connect arg whose name
    /// says password): it goes into the TaskTemplate and the package as it is.
    PlaintextPassword {
        /// Where: `connection.uri` or `connection.connect_args.<key>`; never the value.
        field: String,
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
            DefinitionWarning::PlaintextPassword { field } => write!(
                f,
                "{field} holds a password in clear, which is written as it is into the TaskTemplate and the package: take the password out of it and add password = {{ group = \"GROUP\", key = \"KEY\" }} under [connection.secret_connect_args], naming the Flyte secret that holds it"
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
        let uri = self.connection.uri();
        if uri.redacted() != uri.as_written() {
            warnings.push(DefinitionWarning::PlaintextPassword {
                field: "connection.uri".to_owned(),
            });
        }
        for key in self.connection.connect_args().keys() {
            if flyte_sql_config::is_sensitive_key(key) {
                warnings.push(DefinitionWarning::PlaintextPassword {
                    field: format!("connection.connect_args.{key}"),
                });
            }
        }
        let dialect = uri.dialect();
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
    fn a_password_in_clear_warns_without_showing_it() {
        let task = SqlTask::from_toml(
            "name = \"t\"\nquery = \"select 1\"\n[connection]\nuri = \"postgresql://app:hunter2@db/x\"\nconnect_args = { password = \"hunter3\" }\n",
        )
        .unwrap();
        let warnings: Vec<String> = task
            .definition_warnings()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("connection.uri holds a password in clear"));
        assert!(warnings[1].starts_with("connection.connect_args.password holds a password"));
        assert!(warnings.iter().all(|warning| !warning.contains("hunter")));
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
