//! Connection configuration for flyte-sql: SQLAlchemy-style database URIs, connect args and
//! references to Flyte secrets.
//!
//! This is the leaf crate of the workspace. It parses and checks what a task says about its
//! database ([`ConnectionConfig`], [`DatabaseUri`]) and names its secrets ([`SecretRef`]), but it
//! never connects, reads files or looks at the environment.
//!
//! Not for direct use; the `flyte-sql` crate is the stable entry point.

#![warn(missing_docs)]

mod connection;
mod error;
mod secret;
mod uri;

pub use connection::ConnectionConfig;
pub use error::{Error, ErrorKind, Result};
pub use secret::{MountRequirement, SecretRef, SecretString};
pub use uri::{Backend, DatabaseUri};
