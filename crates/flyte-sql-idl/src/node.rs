//! A workflow `Node` that runs a task: what flytekit's `compile` (create_and_link_node) and
//! `construct_node_metadata` produce for a task called inside a workflow.

use flyte_sql_model::{SqlTask, Value};

use crate::error::{Error, Result};
use crate::literals::input_literal;
use crate::proto::core::{
    Binding, BindingData, Literal, Node, NodeMetadata, OutputReference, RetryStrategy, TaskNode,
    TaskNodeOverrides, binding_data, literal, node, node_metadata, task_node,
};
use crate::settings::SerializationSettings;
use crate::task_template::task_identifier;

/// The node id flytekit gives a workflow's own inputs when a node binds to them.
pub const WORKFLOW_INPUTS_NODE_ID: &str = "";

/// How a node is placed in its workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskNodeOptions {
    /// The node's id, unique in the workflow (flytekit numbers them `n0`, `n1`, ...).
    pub node_id: String,
    /// Where each input gets its value; an input left out gets its default, or a null when it is
    /// optional, as in flytekit.
    pub inputs: Vec<NodeInput>,
    /// Nodes that must finish first besides those the inputs read from (which are added
    /// automatically, first, in input-name order).
    pub upstream_node_ids: Vec<String>,
}

/// One input binding of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInput {
    /// The task input bound.
    pub input: String,
    /// Where its value comes from.
    pub source: BindingSource,
}

/// Where a bound input's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingSource {
    /// A constant, checked against the input's type.
    Value(Value),
    /// An output of another node.
    NodeOutput {
        /// The upstream node's id.
        node_id: String,
        /// The output variable of that node (`results` for a flyte-sql task).
        output: String,
    },
    /// An input of the workflow itself.
    WorkflowInput {
        /// The workflow input's name.
        name: String,
    },
}

/// The node that runs `task` (registered under `settings`) in a workflow.
///
/// As in flytekit: the node metadata names the task by the last segment of its name and carries
/// its retries (always present), timeout and interruptible flag; bindings are ordered by input
/// name; the task node references the task's identifier and has empty overrides. Unknown or twice
/// bound inputs, constants of the wrong type and required inputs left unbound are errors naming
/// the input.
pub fn task_node(
    task: &SqlTask,
    settings: &SerializationSettings,
    options: &TaskNodeOptions,
) -> Result<Node> {
    for (index, bound) in options.inputs.iter().enumerate() {
        if task.input(&bound.input).is_none() {
            return Err(Error::UnknownInput {
                input: bound.input.clone(),
                declared: declared_inputs(task),
            });
        }
        if options.inputs[..index]
            .iter()
            .any(|earlier| earlier.input == bound.input)
        {
            return Err(Error::DuplicateBinding {
                input: bound.input.clone(),
            });
        }
    }
    // flytekit binds in input-name order.
    let mut inputs: Vec<_> = task.inputs().iter().collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut upstream_node_ids: Vec<String> = Vec::new();
    let mut bindings = Vec::new();
    for input in inputs {
        let source = options
            .inputs
            .iter()
            .find(|bound| bound.input == input.name);
        let binding = match source.map(|bound| &bound.source) {
            Some(BindingSource::Value(value)) => scalar_binding(input_literal(input, value)?),
            Some(BindingSource::NodeOutput { node_id, output }) => {
                if !upstream_node_ids.contains(node_id) {
                    upstream_node_ids.push(node_id.clone());
                }
                promise_binding(node_id, output)
            }
            Some(BindingSource::WorkflowInput { name }) => {
                promise_binding(WORKFLOW_INPUTS_NODE_ID, name)
            }
            None => {
                let value = input
                    .value_when_absent()
                    .ok_or_else(|| Error::MissingInput {
                        input: input.name.clone(),
                        ty: input.ty,
                    })?;
                scalar_binding(input_literal(input, &value)?)
            }
        };
        bindings.push(Binding {
            var: input.name.clone(),
            binding: Some(binding),
        });
    }
    for node_id in &options.upstream_node_ids {
        if !upstream_node_ids.contains(node_id) {
            upstream_node_ids.push(node_id.clone());
        }
    }
    Ok(Node {
        id: options.node_id.clone(),
        metadata: Some(node_metadata(task)),
        inputs: bindings,
        upstream_node_ids,
        output_aliases: Vec::new(),
        target: Some(node::Target::TaskNode(TaskNode {
            overrides: Some(TaskNodeOverrides::default()),
            reference: Some(task_node::Reference::ReferenceId(task_identifier(
                task, settings,
            ))),
        })),
    })
}

/// flytekit's `construct_node_metadata`: the last segment of the task name, its timeout, retries
/// and interruptible flag.
pub fn node_metadata(task: &SqlTask) -> NodeMetadata {
    let metadata = task.metadata();
    NodeMetadata {
        name: task
            .name()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned(),
        timeout: metadata.timeout.map(|timeout| prost_types::Duration {
            seconds: timeout.num_seconds(),
            nanos: timeout.subsec_nanos(),
        }),
        retries: Some(RetryStrategy {
            retries: metadata.retries,
        }),
        interruptible_value: metadata
            .interruptible
            .map(node_metadata::InterruptibleValue::Interruptible),
        ..NodeMetadata::default()
    }
}

fn declared_inputs(task: &SqlTask) -> String {
    let names: Vec<&str> = task
        .inputs()
        .iter()
        .map(|input| input.name.as_str())
        .collect();
    if names.is_empty() {
        "no inputs".to_owned()
    } else {
        names.join(", ")
    }
}

fn scalar_binding(literal: Literal) -> BindingData {
    let value = match literal.value {
        Some(literal::Value::Scalar(scalar)) => Some(binding_data::Value::Scalar(*scalar)),
        // input_literal only builds scalars.
        _ => None,
    };
    BindingData {
        value,
        ..BindingData::default()
    }
}

fn promise_binding(node_id: &str, var: &str) -> BindingData {
    BindingData {
        value: Some(binding_data::Value::Promise(OutputReference {
            node_id: node_id.to_owned(),
            var: var.to_owned(),
            ..OutputReference::default()
        })),
        ..BindingData::default()
    }
}
