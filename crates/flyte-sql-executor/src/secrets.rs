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

    fn read_file(&self, path: &str) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(contents) => Ok(Some(contents)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

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
