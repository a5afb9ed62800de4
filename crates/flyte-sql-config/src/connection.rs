//! The connection part of a task: URI, connect args and secret connect args.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::secret::SecretRef;
use crate::uri::DatabaseUri;

/// The connection configuration of a task, as the reference's `SQLAlchemyConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionConfig {
    uri: DatabaseUri,
    connect_args: serde_json::Map<String, serde_json::Value>,
    secret_connect_args: Option<BTreeMap<String, SecretRef>>,
}

impl ConnectionConfig {
    /// A configuration with the given URI and no connect args.
    pub fn new(uri: &str) -> Result<ConnectionConfig> {
        Ok(ConnectionConfig {
            uri: DatabaseUri::parse(uri)?,
            connect_args: serde_json::Map::new(),
            secret_connect_args: None,
        })
    }

    /// Replaces the plain connect args (free-form JSON values, kept as written).
    pub fn with_connect_args(
        mut self,
        connect_args: serde_json::Map<String, serde_json::Value>,
    ) -> ConnectionConfig {
        self.connect_args = connect_args;
        self
    }

    /// Replaces the secret connect args (connect-arg name -> Flyte secret).
    pub fn with_secret_connect_args(
        mut self,
        secret_connect_args: Option<BTreeMap<String, SecretRef>>,
    ) -> ConnectionConfig {
        self.secret_connect_args = secret_connect_args;
        self
    }

    /// The database URI.
    pub fn uri(&self) -> &DatabaseUri {
        &self.uri
    }

    /// The plain connect args.
    pub fn connect_args(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.connect_args
    }

    /// The secret connect args; `None` when the task has none (serialized as JSON null).
    pub fn secret_connect_args(&self) -> Option<&BTreeMap<String, SecretRef>> {
        self.secret_connect_args.as_ref()
    }
}
