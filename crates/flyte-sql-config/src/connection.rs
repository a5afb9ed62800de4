//! The connection part of a task: URI, connect args and secret connect args.
//!
//! Checking the args against each backend and merging them into typed options is in
//! `options.rs`; this file holds the configuration itself and its serialized forms.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::Result;
use crate::secret::SecretRef;
use crate::uri::{DatabaseUri, is_sensitive_key};

/// The connection configuration of a task, as the reference's `SQLAlchemyConfig`.
///
/// `Debug` shows the URI redacted and `***` for the value of any connect arg whose name mentions
/// a password.
#[derive(Clone, PartialEq)]
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

    /// The secret connect args as the reference's `secret_connect_args_to_dicts()` gives them:
    /// `null` without any, else `{name: {"group", "key", "group_version", "mount_requirement"}}`
    /// with `null` for an absent key or version and the mount requirement as its flyteidl number.
    /// The `env_var` of a secret is not carried.
    pub fn secret_connect_args_json(&self) -> serde_json::Value {
        let Some(secrets) = &self.secret_connect_args else {
            return serde_json::Value::Null;
        };
        let entries = secrets
            .iter()
            .map(|(name, secret)| {
                let entry = serde_json::json!({
                    "group": secret.group,
                    "key": secret.key,
                    "group_version": secret.group_version,
                    "mount_requirement": secret.mount_requirement.wire_value(),
                });
                (name.clone(), entry)
            })
            .collect();
        serde_json::Value::Object(entries)
    }
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct RedactedArgs<'a>(&'a serde_json::Map<String, serde_json::Value>);

        impl fmt::Debug for RedactedArgs<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (key, value) in self.0 {
                    if is_sensitive_key(key) {
                        map.entry(key, &"***");
                    } else {
                        map.entry(key, value);
                    }
                }
                map.finish()
            }
        }

        f.debug_struct("ConnectionConfig")
            .field("uri", &self.uri)
            .field("connect_args", &RedactedArgs(&self.connect_args))
            .field("secret_connect_args", &self.secret_connect_args)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MountRequirement;

    fn secret(key: &str, group_version: Option<&str>, mount: MountRequirement) -> SecretRef {
        SecretRef {
            group: "g".to_owned(),
            key: Some(key.to_owned()),
            group_version: group_version.map(str::to_owned),
            mount_requirement: mount,
            env_var: Some("NOT_CARRIED".to_owned()),
        }
    }

    #[test]
    fn secret_connect_args_json_is_the_reference_shape() {
        let oracle: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/default_images.json")).unwrap();
        let config = ConnectionConfig::new("sqlite://").unwrap();
        assert_eq!(
            config.secret_connect_args_json(),
            oracle["secret_connect_args_to_dicts_when_none"]
        );
        let secrets = BTreeMap::from([
            ("a".to_owned(), secret("k", None, MountRequirement::Any)),
            (
                "b".to_owned(),
                secret("k2", Some("v7"), MountRequirement::EnvVar),
            ),
            ("c".to_owned(), secret("k3", None, MountRequirement::File)),
        ]);
        let config = config.with_secret_connect_args(Some(secrets));
        assert_eq!(
            config.secret_connect_args_json(),
            oracle["secret_connect_args_to_dicts"]
        );
    }

    #[test]
    fn group_only_secrets_have_a_null_key() {
        let group_only = SecretRef {
            group: "g".to_owned(),
            key: None,
            group_version: None,
            mount_requirement: MountRequirement::Any,
            env_var: None,
        };
        let config = ConnectionConfig::new("sqlite://")
            .unwrap()
            .with_secret_connect_args(Some(BTreeMap::from([("password".to_owned(), group_only)])));
        expect_test::expect![[
            r#"{"password":{"group":"g","group_version":null,"key":null,"mount_requirement":0}}"#
        ]]
        .assert_eq(&config.secret_connect_args_json().to_string());
    }
}
