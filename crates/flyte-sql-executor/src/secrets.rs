//! Secrets from the running process: environment variables and mounted files, as flytekit's
//! `SecretsManager` reads them.

use flyte_sql_config::{
    ConnectOptions, ConnectionConfig, ResolvedSecrets, SecretSource, SecretsSettings,
    resolve_secret_connect_args,
};

use crate::error::Result;

/// A [`SecretSource`] that reads this process's environment and file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessSecretSource;

impl SecretSource for ProcessSecretSource {
    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    /// Reads at most 64 KiB: a larger file (or a link to `/dev/zero`) is refused with the
    /// limit, never read to the end.
    fn read_file(&self, path: &str) -> std::io::Result<Option<String>> {
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut contents = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_SECRET_BYTES + 1),
            &mut contents,
        )?;
        if contents.len() as u64 > MAX_SECRET_BYTES {
            return Err(std::io::Error::other(format!(
                "it is larger than the {MAX_SECRET_BYTES}-byte (64 KiB) limit for a secret"
            )));
        }
        String::from_utf8(contents).map(Some).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text")
        })
    }
}

/// The largest secret file read (64 KiB): passwords and keys are far smaller, and a mount gone
/// wrong must not fill the memory.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Resolves the configuration's secret connect args from this process (flytekit's environment
/// variables and files, with its `FLYTE_SECRETS_*` settings) and merges everything into the
/// options to connect with.
pub fn resolve_connect_options(config: &ConnectionConfig) -> Result<ConnectOptions> {
    config.check_connect_args()?;
    Ok(config.resolved_options(&resolve_secrets(config)?)?)
}

/// The values of the configuration's secret connect args, from this process's environment and
/// mounted files with flytekit's `FLYTE_SECRETS_*` settings; empty when it has none.
pub fn resolve_secrets(config: &ConnectionConfig) -> Result<ResolvedSecrets> {
    if config.secret_connect_args().is_none() {
        return Ok(ResolvedSecrets::default());
    }
    let settings = SecretsSettings::from_env(&|name| std::env::var(name).ok());
    Ok(resolve_secret_connect_args(
        config,
        &settings,
        &ProcessSecretSource,
    )?)
}
