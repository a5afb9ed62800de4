//! Secret values and references to Flyte secrets.

use std::fmt;

/// A secret value (a password, a token) that never prints itself.
///
/// `Debug` and `Display` both render `***`; the only way to the text is [`SecretString::expose`],
/// which callers use at the moment they hand the value to a database driver.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: String) -> SecretString {
        SecretString(value)
    }

    /// The secret text, for handing to a driver; never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How Flyte should make a secret available to the task's container (flyteidl `Secret.MountType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountRequirement {
    /// Flyte chooses (wire value 0).
    #[default]
    Any,
    /// As an environment variable (wire value 1).
    EnvVar,
    /// As a mounted file (wire value 2).
    File,
}

impl MountRequirement {
    /// The flyteidl enum number, as flytekit's `Secret.MountType` value.
    pub fn wire_value(self) -> i32 {
        match self {
            MountRequirement::Any => 0,
            MountRequirement::EnvVar => 1,
            MountRequirement::File => 2,
        }
    }

    /// The variant for a flyteidl enum number, `None` for numbers flyteidl does not define.
    pub fn from_wire_value(value: i32) -> Option<MountRequirement> {
        match value {
            0 => Some(MountRequirement::Any),
            1 => Some(MountRequirement::EnvVar),
            2 => Some(MountRequirement::File),
            _ => None,
        }
    }
}

/// A reference to a Flyte secret (flytekit's `Secret`): where to find it, not its value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret group (a Kubernetes secret name, for example).
    pub group: String,
    /// The key inside the group; `None` for a group-only secret.
    #[serde(default)]
    pub key: Option<String>,
    /// The group version; flytekit's resolver ignores it, the SecurityContext carries it.
    #[serde(default)]
    pub group_version: Option<String>,
    /// How Flyte should mount it.
    #[serde(default)]
    pub mount_requirement: MountRequirement,
    /// The environment variable Flyte should expose it as (only meaningful in `secret_requests`).
    #[serde(default)]
    pub env_var: Option<String>,
}
