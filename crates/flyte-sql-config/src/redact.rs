//! The one redactor every message leaving the process passes through: it knows each secret value
//! of a run (the URI's password, password-like connect args and query options, resolved secret
//! connect args) and replaces them wherever they appear.
//!
//! Our own messages never contain secrets by construction; the redactor is for text we do not
//! write ourselves: a database server's error message that echoes an option back, a driver's
//! message, a value a user spliced into SQL.

use std::borrow::Cow;
use std::fmt;

use crate::connection::ConnectionConfig;
use crate::secret::SecretString;
use crate::secrets_manager::ResolvedSecrets;
use crate::uri::{Target, is_sensitive_key};

/// What a secret value becomes in redacted text.
pub const REDACTED: &str = "***";

/// The shortest word of a several-word secret that is redacted on its own: long enough that
/// SQL keywords (`select`, `session`) stay readable, short enough for tokens and passwords.
const FRAGMENT_CHARS: usize = 8;

/// Replaces the secret values it knows with `***`.
///
/// `Debug` shows how many values it knows, never the values.
///
/// ```
/// use flyte_sql_config::{ConnectionConfig, Redactor, ResolvedSecrets};
///
/// let config = ConnectionConfig::new("postgresql://app:tiger123@db/analytics")?;
/// let redactor = Redactor::for_connection(&config, &ResolvedSecrets::default());
/// assert_eq!(
///     redactor.redact("password authentication failed (tried tiger123)"),
///     "password authentication failed (tried ***)"
/// );
/// # Ok::<(), flyte_sql_config::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so that a secret containing another is replaced whole.
    values: Vec<SecretString>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that knows nothing yet.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// A redactor for a run on `config` with its resolved secret connect args: the URI's password,
    /// the values of password-like URI query options and connect args (`password`, `passwd`, ...),
    /// and every resolved secret.
    pub fn for_connection(config: &ConnectionConfig, secrets: &ResolvedSecrets) -> Redactor {
        let mut redactor = Redactor::new();
        let (password, query) = match config.uri().target() {
            Target::Postgres(server) | Target::Mysql(server) => {
                (server.password.as_ref(), server.query.as_slice())
            }
            Target::Sqlite(sqlite) => (None, sqlite.query.as_slice()),
        };
        if let Some(password) = password {
            redactor.add(password.expose());
        }
        for option in query.iter().filter(|option| is_sensitive_key(&option.key)) {
            redactor.add(&option.value);
        }
        for (key, value) in config.connect_args() {
            if is_sensitive_key(key)
                && let Some(text) = value.as_str()
            {
                redactor.add(text);
            }
        }
        for (_, value) in secrets.iter() {
            redactor.add(value.expose());
        }
        redactor
    }

    /// Learns one more secret value (empty values are ignored: they would match everywhere).
    ///
    /// A value made of several words (a secret `init_command` or `options`) is also learned word
    /// by word for its words of 8 characters or more: a server quotes the part
    /// of a statement it chokes on (`Unknown column 'tok3n'`), not the whole statement.
    pub fn add(&mut self, value: &str) {
        self.learn(value);
        for word in value.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if word.chars().count() >= FRAGMENT_CHARS {
                self.learn(word);
            }
        }
    }

    fn learn(&mut self, value: &str) {
        if value.is_empty() || self.values.iter().any(|known| known.expose() == value) {
            return;
        }
        self.values.push(SecretString::new(value.to_owned()));
        self.values
            .sort_by_key(|known| std::cmp::Reverse(known.expose().len()));
    }

    /// `text` with every known secret value replaced by `***`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut redacted = Cow::Borrowed(text);
        for value in &self.values {
            if redacted.contains(value.expose()) {
                redacted = Cow::Owned(redacted.replace(value.expose(), REDACTED));
            }
        }
        redacted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_of_a_connection_is_replaced_and_debug_shows_none() {
        let config = ConnectionConfig::new("mysql://app:pw%40one@db/x?ssl_key=k&password=pwtwo")
            .unwrap()
            .with_connect_args(
                serde_json::json!({"passwd": "pwthree", "charset": "utf8mb4"})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
        let redactor = Redactor::for_connection(&config, &ResolvedSecrets::default());
        assert_eq!(
            redactor.redact("pw@one pwtwo pwthree utf8mb4"),
            "*** *** *** utf8mb4"
        );
        let debug = format!("{redactor:?}");
        assert!(!debug.contains("pw"), "{debug}");
    }

    #[test]
    fn the_long_words_of_a_several_word_secret_are_replaced_where_a_server_quotes_them() {
        let mut redactor = Redactor::new();
        redactor.add("set @token = 'Tok3nValue99', @n = 1");
        assert_eq!(
            redactor.redact("Unknown column 'Tok3nValue99' in 'SELECT'; set @n"),
            "Unknown column '***' in 'SELECT'; set @n"
        );
    }

    #[test]
    fn a_longer_secret_containing_a_shorter_one_is_replaced_whole() {
        let mut redactor = Redactor::new();
        redactor.add("abc");
        redactor.add("abcdef");
        redactor.add("");
        assert_eq!(redactor.redact("x abcdef y abc"), "x *** y ***");
        assert_eq!(redactor.redact("nothing here"), "nothing here");
    }
}
