//! The one error type of this crate.

use flyte_sql_config::ErrorKind;
use flyte_sql_model::PrimitiveType;

/// Everything that can go wrong while converting between the model and flyteidl messages.
///
/// Messages name the input, field or image concerned; they never contain secret values or
/// connection URIs (which may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes given to a `decode_*` function are not an encoding of the expected message.
    #[error("invalid {message} protobuf: {source}")]
    Decode {
        /// The full name of the expected message, such as `flyteidl.core.LiteralMap`.
        message: &'static str,
        /// What prost found wrong.
        #[source]
        source: prost::DecodeError,
    },
    /// A literal has a type its input does not have.
    #[error("input `{input}`: expected {expected}, found {found}")]
    LiteralType {
        /// The input's name.
        input: String,
        /// The type the task declares for it (with `or none` for an optional input).
        expected: String,
        /// A description of the literal found.
        found: String,
    },
    /// A literal map holds a literal for an input the task does not declare.
    #[error("unknown input `{input}`: the task declares {declared}")]
    UnknownInput {
        /// The name of the unexpected literal.
        input: String,
        /// The declared inputs, listed for the message (`no inputs` when there are none).
        declared: String,
    },
    /// A required input has no literal and no default.
    #[error("missing input `{input}` of type {ty}: supply a value (it has no default)")]
    MissingInput {
        /// The input's name.
        input: String,
        /// Its type.
        ty: PrimitiveType,
    },
    /// A message could not be rendered as proto3 JSON (only a corrupted descriptor set, which
    /// `cargo xtask codegen --check` rules out, causes this).
    #[error("cannot render {message} as JSON: {problem}")]
    Json {
        /// The full name of the message.
        message: String,
        /// What went wrong.
        problem: String,
    },
    /// A workflow node binds the same input twice.
    #[error("input `{input}` is bound twice: bind each input once")]
    DuplicateBinding {
        /// The input's name.
        input: String,
    },
    /// A timestamp or duration cannot be represented on the other side (chrono's range is
    /// smaller than protobuf's, and nanoseconds must be in range).
    #[error("input `{input}`: {ty} value out of range ({problem})")]
    OutOfRange {
        /// The input's name.
        input: String,
        /// The type of the value.
        ty: PrimitiveType,
        /// What is out of range.
        problem: &'static str,
    },
    /// A TaskTemplate does not describe a task flyte-sql can run: wrong task type, missing or
    /// malformed field.
    #[error("not a SQLAlchemy task template: {field} {problem}")]
    NotSqlTask {
        /// The field of the TaskTemplate at fault, as a path (`custom.uri`, `interface.outputs`).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A decoded TaskTemplate has a connection the configuration crate rejects.
    #[error("the task template's connection is invalid: {source}")]
    Connection {
        /// The configuration error (URIs in it are redacted).
        #[source]
        source: flyte_sql_config::Error,
    },
    /// A decoded TaskTemplate does not make a valid task.
    #[error("the task template does not make a valid task: {source}")]
    Task {
        /// The model's validation error, naming each field.
        #[source]
        source: flyte_sql_model::Error,
    },
    /// An image reference is neither `fqn:tag` nor `fqn@digest`.
    #[error(
        "image `{name}={reference}` has no tag or digest: write it as NAME=FQN:TAG or NAME=FQN@DIGEST"
    )]
    InvalidImage {
        /// The image's name.
        name: String,
        /// The reference as given.
        reference: String,
    },
    /// A task image refers to an image the image config does not define.
    #[error(
        "image `{image}` refers to image `{name}`, which the image config does not define: pass `--image {name}=FQN:TAG`"
    )]
    UnknownImage {
        /// The task's image as written.
        image: String,
        /// The image name it refers to.
        name: String,
    },
    /// A task image has a placeholder with an attribute other than `fqn` or `version`.
    #[error(
        "image `{image}` uses `.{attribute}`: only `.fqn`, `.version` or nothing may follow the image name"
    )]
    InvalidImagePlaceholder {
        /// The task's image as written.
        image: String,
        /// The attribute used.
        attribute: String,
    },
}

impl Error {
    /// Who has to fix it.
    ///
    /// Every conversion error is about what the caller handed in (a task, a template, inputs,
    /// settings), so those are [`ErrorKind::User`]; bytes that do not decode are most often a wrong
    /// file or an incompatible flyteidl, which retrying does not fix either. Only a failed JSON
    /// rendering is the system's fault.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decode { .. }
            | Error::LiteralType { .. }
            | Error::UnknownInput { .. }
            | Error::MissingInput { .. }
            | Error::DuplicateBinding { .. }
            | Error::OutOfRange { .. }
            | Error::NotSqlTask { .. }
            | Error::Connection { .. }
            | Error::Task { .. }
            | Error::InvalidImage { .. }
            | Error::UnknownImage { .. }
            | Error::InvalidImagePlaceholder { .. } => ErrorKind::User,
            Error::Json { .. } => ErrorKind::System,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
