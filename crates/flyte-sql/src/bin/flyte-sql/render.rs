//! `flyte-sql render`: shows what a query template becomes for given inputs, without running it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use flyte_sql_model::{InputValues, Interpolation, PrimitiveType, Value};
use flyte_sql_template::Dialect;

use crate::UsageError;
use crate::terminal::{eprint_line, print_line};

/// Render a query template with input values (a dry run: nothing connects to a database).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  flyte-sql render --mode compat --template 'x={{ .inputs.x }}' --input x:integer=5
  flyte-sql render --mode safe --dialect postgres --json --template 'select * from t where id = {{ .inputs.id }}' --input id:integer=7")]
pub(crate) struct RenderArgs {
    /// The query template, with `{{ .inputs.NAME }}` placeholders.
    #[arg(long)]
    template: String,
    /// `safe` turns placeholders into typed binds; `compat` splices values as text exactly as
    /// flytekit's SQLAlchemy plugin does.
    #[arg(long, value_enum, default_value_t = Mode::Safe)]
    mode: Mode,
    /// The SQL dialect: decides bind placeholders (`$1` or `?`) and identifier quoting.
    #[arg(long, value_enum, default_value_t = DialectArg::Sqlite)]
    dialect: DialectArg,
    /// An input value as NAME:TYPE=VALUE (TYPE: integer, float, string, boolean, datetime,
    /// duration; VALUE in proto3 JSON text form such as 5, 2.5, true, 2024-01-02T03:04:05Z,
    /// 93784.5s). Repeatable.
    #[arg(long = "input", value_name = "NAME:TYPE=VALUE")]
    inputs: Vec<String>,
    /// A JSON file of inputs: {"NAME": {"type": "INTEGER", "value": ...}} with proto3 JSON values
    /// (instead of --input; a name given twice or another key is refused).
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    inputs_json: Option<PathBuf>,
    /// Print the statement, binds and warnings as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Safe,
    Compat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DialectArg {
    Sqlite,
    Postgres,
    Mysql,
}

pub(crate) fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let mut values = InputValues::new();
    if let Some(path) = &args.inputs_json {
        let text = std::fs::read_to_string(path).map_err(|error| {
            UsageError(format!(
                "cannot read --inputs-json {}: {error}",
                path.display()
            ))
        })?;
        values.extend(parse_inputs_json(&text).map_err(|message| {
            UsageError(format!("--inputs-json {}: {message}", path.display()))
        })?);
    }
    for input in &args.inputs {
        let (name, value) = parse_input_flag(input).map_err(UsageError)?;
        if values.contains_key(&name) {
            return Err(UsageError(format!(
                "--input `{name}` is given twice: give each input once"
            ))
            .into());
        }
        values.insert(name, value);
    }
    let interpolation = match args.mode {
        Mode::Safe => Interpolation::Safe,
        Mode::Compat => Interpolation::Compat,
    };
    let dialect = match args.dialect {
        DialectArg::Sqlite => Dialect::Sqlite,
        DialectArg::Postgres => Dialect::Postgres,
        DialectArg::Mysql => Dialect::Mysql,
    };
    let rendered = flyte_sql_template::render(&args.template, interpolation, dialect, &values)?;
    if args.json {
        let binds: Vec<serde_json::Value> = rendered
            .statement
            .binds
            .iter()
            .map(|bind| {
                serde_json::json!({
                    "name": bind.name,
                    "type": bind.value.primitive_type().name(),
                    "value": bind.value.to_proto_json(),
                })
            })
            .collect();
        let warnings: Vec<String> = rendered.warnings.iter().map(ToString::to_string).collect();
        let document = serde_json::json!({
            "sql": rendered.statement.sql,
            "binds": binds,
            "warnings": warnings,
        });
        print_line(&serde_json::to_string_pretty(&document)?)?;
        return Ok(());
    }
    for warning in &rendered.warnings {
        eprint_line(&format!("warning: {warning}"));
    }
    print_line(&rendered.statement.sql)?;
    for (index, bind) in rendered.statement.binds.iter().enumerate() {
        print_line(&format!(
            "-- bind {}: {} {} = {}",
            index + 1,
            bind.name,
            bind.value.primitive_type(),
            bind.value.to_proto_json()
        ))?;
    }
    Ok(())
}

/// `NAME:TYPE=VALUE` -> (name, typed value).
fn parse_input_flag(flag: &str) -> Result<(String, Value), String> {
    let shape = "write --input NAME:TYPE=VALUE, for example --input limit:integer=5";
    let (declaration, text) = flag
        .split_once('=')
        .ok_or_else(|| format!("--input `{flag}` has no `=`: {shape}"))?;
    let (name, type_name) = declaration
        .split_once(':')
        .ok_or_else(|| format!("--input `{flag}` has no `:TYPE`: {shape}"))?;
    let ty = parse_type(type_name).map_err(|message| format!("--input `{flag}`: {message}"))?;
    let value =
        Value::parse_text(ty, text).map_err(|error| format!("--input `{name}`: {error}"))?;
    Ok((name.to_owned(), value))
}

fn parse_type(name: &str) -> Result<PrimitiveType, String> {
    PrimitiveType::from_name(name).ok_or_else(|| {
        format!(
            "unknown type `{name}`: use one of integer, float, string, boolean, datetime, duration"
        )
    })
}

/// `{"NAME": {"type": "INTEGER", "value": ...}}` -> typed values; a name given twice, or a key
/// other than `type` and `value`, is refused (JSON parsers would silently keep the last).
fn parse_inputs_json(text: &str) -> Result<InputValues, String> {
    let document: InputsDocument =
        serde_json::from_str(text).map_err(|error| format!("not valid: {error}"))?;
    let mut values = InputValues::new();
    for (name, entry) in document.0 {
        let ty = parse_type(&entry.ty).map_err(|message| format!("input `{name}`: {message}"))?;
        let value = Value::from_proto_json(ty, &entry.value)
            .map_err(|error| format!("input `{name}`: {error}"))?;
        values.insert(name, value);
    }
    Ok(values)
}

/// The inputs of `--inputs-json`, in the file's order, each name once.
struct InputsDocument(Vec<(String, InputEntry)>);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputEntry {
    #[serde(rename = "type")]
    ty: String,
    value: serde_json::Value,
}

impl<'de> serde::Deserialize<'de> for InputsDocument {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = InputsDocument;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "an object of inputs such as {\"x\": {\"type\": \"INTEGER\", \"value\": 5}}",
                )
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<InputsDocument, A::Error> {
                let mut entries: Vec<(String, InputEntry)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if entries.iter().any(|(known, _)| *known == name) {
                        return Err(serde::de::Error::custom(format!(
                            "input `{name}` is given twice: give each input once"
                        )));
                    }
                    let entry = map.next_value::<InputEntry>()?;
                    entries.push((name, entry));
                }
                Ok(InputsDocument(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}
