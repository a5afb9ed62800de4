//! Resolving Flyte secrets the way flytekit's `SecretsManager` does, without doing IO: the
//! environment and the mounted files are behind [`SecretSource`], which the executor and the CLI
//! implement.
//!
//! A secret `(group, key)` is looked up first in the environment variable
//! `<env_prefix><GROUP>_<KEY>` (group and key upper-cased, with full Unicode case mapping as
//! Python's `str.upper`), then in the file `<default_dir>/<group>/<file_prefix><key>` (lower-cased);
//! the first hit wins and its value is stripped of surrounding whitespace. The group version is
//! ignored, as by the reference's executor.

use std::collections::BTreeMap;
use std::fmt;

use crate::connection::ConnectionConfig;
use crate::error::{Error, Result};
use crate::secret::{SecretRef, SecretString};

/// Where secrets are looked for (flytekit's `SecretsConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsSettings {
    /// Prefix of the environment variables (default `_FSEC_`; never upper-cased).
    pub env_prefix: String,
    /// Directory of the mounted secret files (default `/etc/secrets`; Flyte's webhook uses
    /// `/etc/flyte/secrets` and says so in `FLYTE_SECRETS_DEFAULT_DIR`).
    pub default_dir: String,
    /// Prefix of each secret file's name (default empty).
    pub file_prefix: String,
}

impl Default for SecretsSettings {
    /// flytekit's defaults: `_FSEC_`, `/etc/secrets` and no file prefix.
    fn default() -> SecretsSettings {
        SecretsSettings {
            env_prefix: "_FSEC_".to_owned(),
            default_dir: "/etc/secrets".to_owned(),
            file_prefix: String::new(),
        }
    }
}

impl SecretsSettings {
    /// The settings from `FLYTE_SECRETS_ENV_PREFIX`, `FLYTE_SECRETS_DEFAULT_DIR` and
    /// `FLYTE_SECRETS_FILE_PREFIX`, read through `lookup` (the environment, in the executor).
    ///
    /// As in flytekit, a variable that is unset or empty leaves the default, and a value is
    /// stripped of surrounding whitespace (so a value of only spaces gives an empty setting).
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> SecretsSettings {
        let defaults = SecretsSettings::default();
        let read = |name: &str, default: String| match lookup(name) {
            Some(value) if !value.is_empty() => python_strip(&value).to_owned(),
            _ => default,
        };
        SecretsSettings {
            env_prefix: read("FLYTE_SECRETS_ENV_PREFIX", defaults.env_prefix),
            default_dir: read("FLYTE_SECRETS_DEFAULT_DIR", defaults.default_dir),
            file_prefix: read("FLYTE_SECRETS_FILE_PREFIX", defaults.file_prefix),
        }
    }

    /// The environment variable of a secret: the prefix, then the upper-cased group and key
    /// joined by `_` (an empty or absent key is left out). The group version is ignored.
    pub fn env_var_name(&self, secret: &SecretRef) -> String {
        let parts: Vec<String> = name_parts(secret).map(str::to_uppercase).collect();
        format!("{}{}", self.env_prefix, parts.join("_"))
    }

    /// The file of a secret: `<default_dir>/<group>/<file_prefix><key>` lower-cased, or
    /// `<default_dir>/<file_prefix><group>` for a group-only secret, joined as Python's
    /// `os.path.join` does. The group version is ignored.
    pub fn file_path(&self, secret: &SecretRef) -> String {
        let mut parts: Vec<String> = name_parts(secret).map(str::to_lowercase).collect();
        if let Some(last) = parts.last_mut() {
            last.insert_str(0, &self.file_prefix);
        }
        parts.iter().fold(self.default_dir.clone(), |path, part| {
            posix_join(path, part)
        })
    }
}

/// The non-empty parts of a secret's name, as flytekit's `filter(None, (group, key))`.
fn name_parts(secret: &SecretRef) -> impl Iterator<Item = &str> {
    std::iter::once(secret.group.as_str())
        .chain(secret.key.as_deref())
        .filter(|part| !part.is_empty())
}

/// Python's `posixpath.join(path, part)`: an absolute part replaces the path.
fn posix_join(mut path: String, part: &str) -> String {
    if part.starts_with('/') {
        return part.to_owned();
    }
    if !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(part);
    path
}

/// Python's `str.strip()`: Unicode whitespace plus the four ASCII separators U+001C..U+001F,
/// which Python counts as whitespace and Rust does not.
pub(crate) fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Where secret values come from: the process environment and the mounted files.
///
/// The executor and the CLI implement it with real IO; [`MemorySecretSource`] serves tests.
pub trait SecretSource {
    /// The value of an environment variable, `None` when it is not set.
    fn env_var(&self, name: &str) -> Option<String>;

    /// The contents of a file, `Ok(None)` when it does not exist.
    fn read_file(&self, path: &str) -> std::io::Result<Option<String>>;
}

/// A [`SecretSource`] held in memory, for tests. `Debug` shows names, never values.
#[derive(Clone, Default)]
pub struct MemorySecretSource {
    env_vars: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
}

impl MemorySecretSource {
    /// A source with no variables and no files.
    pub fn new() -> MemorySecretSource {
        MemorySecretSource::default()
    }

    /// Adds an environment variable.
    pub fn with_env_var(mut self, name: &str, value: &str) -> MemorySecretSource {
        self.env_vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds a file.
    pub fn with_file(mut self, path: &str, contents: &str) -> MemorySecretSource {
        self.files.insert(path.to_owned(), contents.to_owned());
        self
    }
}

impl SecretSource for MemorySecretSource {
    fn env_var(&self, name: &str) -> Option<String> {
        self.env_vars.get(name).cloned()
    }

    fn read_file(&self, path: &str) -> std::io::Result<Option<String>> {
        Ok(self.files.get(path).cloned())
    }
}

impl fmt::Debug for MemorySecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySecretSource")
            .field("env_vars", &self.env_vars.keys().collect::<Vec<_>>())
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Resolves one secret as flytekit's `SecretsManager.get(group, key)`: the environment variable
/// first, then the file; the first one found wins, stripped of surrounding whitespace (an
/// environment variable set to the empty string is found, and gives an empty secret).
///
/// # Errors
///
/// [`Error::EmptySecretGroup`], [`Error::SecretNotFound`] (naming the variable and the file
/// looked at), and [`Error::SecretUnreadable`] when the file exists but cannot be read.
pub fn resolve_secret(
    secret: &SecretRef,
    settings: &SecretsSettings,
    source: &dyn SecretSource,
) -> Result<SecretString> {
    if secret.group.is_empty() {
        return Err(Error::EmptySecretGroup { connect_arg: None });
    }
    let env_var = settings.env_var_name(secret);
    if let Some(value) = source.env_var(&env_var) {
        return Ok(SecretString::new(python_strip(&value).to_owned()));
    }
    let file_path = settings.file_path(secret);
    match source.read_file(&file_path) {
        Ok(Some(contents)) => Ok(SecretString::new(python_strip(&contents).to_owned())),
        Ok(None) => Err(Error::SecretNotFound {
            group: secret.group.clone(),
            key: secret.key.clone(),
            env_var,
            file_path,
            connect_arg: None,
        }),
        Err(source) => Err(Error::SecretUnreadable {
            file_path,
            connect_arg: None,
            source,
        }),
    }
}

/// Resolves every secret connect arg of a configuration, for
/// [`ConnectionConfig::resolved_options`].
///
/// # Errors
///
/// The first error of [`resolve_secret`], naming the secret connect arg.
pub fn resolve_secret_connect_args(
    config: &ConnectionConfig,
    settings: &SecretsSettings,
    source: &dyn SecretSource,
) -> Result<ResolvedSecrets> {
    config
        .secret_connect_args()
        .into_iter()
        .flatten()
        .map(|(name, secret)| {
            resolve_secret(secret, settings, source)
                .map(|value| (name.clone(), value))
                .map_err(|error| error.for_secret_connect_arg(name))
        })
        .collect()
}

/// The values of a configuration's secret connect args, by connect-arg name. `Debug` shows `***`
/// for every value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedSecrets {
    values: BTreeMap<String, SecretString>,
}

impl ResolvedSecrets {
    /// The value of a secret connect arg.
    pub fn get(&self, connect_arg: &str) -> Option<&SecretString> {
        self.values.get(connect_arg)
    }

    /// Every connect-arg name with its value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.values
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    /// How many secrets there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl FromIterator<(String, SecretString)> for ResolvedSecrets {
    fn from_iter<I: IntoIterator<Item = (String, SecretString)>>(iter: I) -> ResolvedSecrets {
        ResolvedSecrets {
            values: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_strip_matches_python_isspace() {
        // The code points for which Python 3.11's str.isspace() is true.
        let python_whitespace = [
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ];
        for code in 0..=0x10ffff_u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let text = format!("{c}x{c}");
            let stripped = python_strip(&text) == "x";
            assert_eq!(stripped, python_whitespace.contains(&code), "U+{code:04X}");
        }
    }

    #[test]
    fn posix_join_is_python_os_path_join() {
        // Checked against python3: os.path.join(...).
        assert_eq!(posix_join("/etc/secrets".to_owned(), "g"), "/etc/secrets/g");
        assert_eq!(
            posix_join("/etc/secrets/".to_owned(), "g"),
            "/etc/secrets/g"
        );
        assert_eq!(posix_join("/etc/secrets".to_owned(), "/abs"), "/abs");
        assert_eq!(posix_join(String::new(), "g"), "g");
    }
}
