//! Proto3 JSON renderings of the messages in [`crate::proto`], as flytekit's goldens show them.
//!
//! The rendering reflects over the committed descriptor set (`cargo xtask codegen` writes it next
//! to the Rust), so every field of every message is covered by the proto3 JSON mapping of
//! `prost-reflect`: .proto field names, 64-bit integers as strings, enums by name, durations like
//! `"600.500s"`, Structs as plain JSON, fields at their default omitted. Keys are sorted and
//! indented by two spaces, like Python's `MessageToJson(preserving_proto_field_name=True,
//! sort_keys=True)`.

use std::sync::OnceLock;

use prost::{Message, Name};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use crate::error::{Error, Result};

/// The descriptor set of `proto/`, without source info.
const DESCRIPTOR_SET: &[u8] = include_bytes!("generated/flyteidl.descriptor_set.bin");

/// The message as proto3 JSON text (pretty, keys sorted, ending without a newline).
pub fn to_proto3_json<M: Message + Name>(message: &M) -> Result<String> {
    let value = to_proto3_json_value(message)?;
    serde_json::to_string_pretty(&value).map_err(|source| Error::Json {
        message: M::full_name(),
        problem: source.to_string(),
    })
}

/// The message as a proto3 JSON value, objects with sorted keys.
pub fn to_proto3_json_value<M: Message + Name>(message: &M) -> Result<serde_json::Value> {
    let full_name = M::full_name();
    let failed = |problem: String| Error::Json {
        message: full_name.clone(),
        problem,
    };
    let pool = descriptor_pool().map_err(|problem| failed(problem.clone()))?;
    let descriptor = pool
        .get_message_by_name(&full_name)
        .ok_or_else(|| failed("the descriptor set does not declare it".to_owned()))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|error| failed(error.to_string()))?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(true);
    let value = dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|error| failed(error.to_string()))?;
    Ok(sort_keys(value))
}

/// The committed descriptor set, decoded once; an error says why it does not decode (which only
/// a corrupted checkout can cause: `codegen_is_fresh` checks the file).
fn descriptor_pool() -> std::result::Result<&'static DescriptorPool, &'static String> {
    static POOL: OnceLock<std::result::Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTOR_SET).map_err(|error| error.to_string()))
        .as_ref()
}

/// Rebuilds every object with its keys in sorted order, whatever map serde_json was built with.
fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sort_keys(value)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sort_keys).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::core::{RetryStrategy, TaskMetadata, task_metadata};

    #[test]
    fn renders_like_message_to_json() {
        let metadata = TaskMetadata {
            retries: Some(RetryStrategy::default()),
            generates_deck: Some(false),
            timeout: Some(prost_types::Duration {
                seconds: 600,
                nanos: 500_000_000,
            }),
            interruptible_value: Some(task_metadata::InterruptibleValue::Interruptible(false)),
            ..TaskMetadata::default()
        };
        expect_test::expect![[r#"
            {
              "generates_deck": false,
              "interruptible": false,
              "retries": {},
              "timeout": "600.500s"
            }"#]]
        .assert_eq(&to_proto3_json(&metadata).unwrap());
    }
}
