//! The `ErrorDocument` a failed task run leaves at `<output prefix>/error.pb`.

use chrono::{DateTime, Utc};
use flyte_sql_config::ErrorKind;

use crate::proto::core::{ContainerError, ErrorDocument, container_error, execution_error};

/// Whether Flyte may retry a failed run (`ContainerError.Kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recoverability {
    /// A transient fault (dropped connection, deadlock): retrying may succeed.
    Recoverable,
    /// Bad SQL or bad input: retrying fails the same way.
    NonRecoverable,
}

/// A failed run, as Flyte should see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerFailure {
    /// A short code such as `USER:SqlError` (the reference writes `SYSTEM` or `USER:RuntimeError`).
    pub code: String,
    /// The message shown in the Flyte console; it must not contain secrets.
    pub message: String,
    /// Whether Flyte may retry.
    pub recoverability: Recoverability,
    /// Whose fault it is; becomes the `ExecutionError.ErrorKind` of the execution.
    pub origin: ErrorKind,
    /// When the failure happened (passed in: this crate reads no clock).
    pub timestamp: DateTime<Utc>,
    /// The worker that failed, for distributed runs; empty otherwise.
    pub worker: String,
}

/// The `ErrorDocument` for a failed run.
pub fn error_document(failure: &ContainerFailure) -> ErrorDocument {
    let kind = match failure.recoverability {
        Recoverability::Recoverable => container_error::Kind::Recoverable,
        Recoverability::NonRecoverable => container_error::Kind::NonRecoverable,
    };
    let origin = match failure.origin {
        ErrorKind::User => execution_error::ErrorKind::User,
        ErrorKind::System => execution_error::ErrorKind::System,
    };
    ErrorDocument {
        error: Some(ContainerError {
            code: failure.code.clone(),
            message: failure.message.clone(),
            kind: kind as i32,
            origin: origin as i32,
            timestamp: Some(prost_types::Timestamp {
                seconds: failure.timestamp.timestamp(),
                // Leap-second nanos (>= 1e9) are clamped: protobuf Timestamps cannot hold them.
                nanos: i32::try_from(failure.timestamp.timestamp_subsec_nanos().min(999_999_999))
                    .unwrap_or(999_999_999),
            }),
            worker: failure.worker.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn error_documents_carry_kind_origin_and_time() {
        let failure = ContainerFailure {
            code: "USER:SqlError".to_owned(),
            message: "no such table: trakcs".to_owned(),
            recoverability: Recoverability::NonRecoverable,
            origin: ErrorKind::User,
            timestamp: DateTime::from_timestamp(1_795_476_081, 502_698_659).unwrap(),
            worker: String::new(),
        };
        let document = error_document(&failure);
        let bytes = document.encode_to_vec();
        let error = ErrorDocument::decode(bytes.as_slice())
            .unwrap()
            .error
            .unwrap();
        assert_eq!(error.kind, container_error::Kind::NonRecoverable as i32);
        assert_eq!(error.origin, execution_error::ErrorKind::User as i32);
        assert_eq!(error.timestamp.unwrap().nanos, 502_698_659);
        assert_eq!(error.code, "USER:SqlError");
    }
}
