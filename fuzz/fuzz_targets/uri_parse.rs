//! Fuzz target: database URIs and connect args (flyte-sql-config).
//!
//! Input: a URI, a NUL, connect args as JSON text, a NUL, then choices. The URI is parsed as
//! written; then a known password is planted in it (`SCHEME://USER:PASSWORD@REST`, the scheme,
//! user and rest taken from the fuzzed URI), in a `password=` query option and in the connect
//! args, plain and as a resolved secret connect arg. Invariants: nothing panics, and no planted
//! password appears in the `Display` or `Debug` of the parsed URI, the connection, its typed
//! options, its warnings or any error.

#![no_main]

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use flyte_sql_config::{
    ConnectionConfig, DatabaseUri, MemorySecretSource, SecretRef, SecretsSettings,
    resolve_secret_connect_args,
};
use flyte_sql_fuzz::split_fields;
use libfuzzer_sys::fuzz_target;

/// The planted passwords; nothing the fuzzer writes contains them (see `without_plants`).
const URI_PASSWORD: &str = "UriPw7q3x9Planted";
const QUERY_PASSWORD: &str = "QueryPw4k8zPlanted";
const ARG_PASSWORD: &str = "ArgPw2m6vPlanted";
const SECRET_PASSWORD: &str = "SecretPw5j1wPlanted";
const PLANTS: [&str; 4] = [URI_PASSWORD, QUERY_PASSWORD, ARG_PASSWORD, SECRET_PASSWORD];

const SCHEMES: [&str; 8] = [
    "sqlite",
    "postgresql",
    "postgres",
    "postgresql+psycopg2",
    "mysql",
    "mariadb",
    "mysql+pymysql",
    "mysql+mysqlconnector",
];

fuzz_target!(|data: &[u8]| {
    let (fields, choices) = split_fields(data, 2);
    let mut u = Unstructured::new(choices);
    let written = without_plants(&fields[0]);
    let args = connect_args(&without_plants(&fields[1]));

    // As written: no panic, whatever it is.
    let _ = exercise(&written, args.clone(), false);

    // With planted passwords: the scheme (the fuzzed one or a known one), the user (no `:`,
    // `/`, `@` or `?`, so that the password is exactly the plant) and the rest.
    let (scheme, after) = match written.split_once("://") {
        Some((scheme, after)) => (scheme.to_owned(), after.to_owned()),
        None => (String::new(), written.clone()),
    };
    let scheme = match u.choose_index(SCHEMES.len() + 1) {
        Ok(index) if index < SCHEMES.len() => SCHEMES[index].to_owned(),
        _ if !scheme.is_empty() => without_plants(&scheme.replace(':', "")),
        _ => "postgresql".to_owned(),
    };
    let (user, rest) = after
        .split_once(['@'])
        .map_or((String::new(), after.clone()), |(user, rest)| {
            (user.to_owned(), rest.to_owned())
        });
    // Taking characters out can make a plant: take those out again.
    let user = without_plants(
        &user
            .chars()
            .filter(|c| !":/@?".contains(*c))
            .collect::<String>(),
    );
    let mut planted = format!("{scheme}://{user}:{URI_PASSWORD}@{rest}");
    if u.arbitrary().unwrap_or(true) {
        planted.push(if rest.contains('?') { '&' } else { '?' });
        planted.push_str("password=");
        planted.push_str(QUERY_PASSWORD);
    }
    let mut args = args;
    args.insert(
        "password".to_owned(),
        serde_json::Value::String(ARG_PASSWORD.to_owned()),
    );
    let shown = exercise(&planted, args, true);
    for plant in PLANTS {
        assert!(
            !shown.contains(plant),
            "a planted password is shown: {planted}\n{shown}"
        );
    }
});

/// Parses `uri`, builds a connection with `args` (and a secret connect arg when `with_secret`),
/// and returns everything that would be printed about it.
fn exercise(
    uri: &str,
    args: serde_json::Map<String, serde_json::Value>,
    with_secret: bool,
) -> String {
    let mut shown = String::new();
    let parsed = DatabaseUri::parse(uri);
    match &parsed {
        Ok(parsed) => {
            shown.push_str(&format!("{parsed}\n{parsed:?}\n{:?}\n", parsed.target()));
            let _ = (parsed.backend(), parsed.dialect(), parsed.driver());
        }
        Err(error) => shown.push_str(&format!("{error}\n{error:?}\n{:?}\n", error.kind())),
    }
    let config = match ConnectionConfig::new(uri) {
        Ok(config) => config,
        Err(error) => {
            shown.push_str(&format!("{error}\n{error:?}\n"));
            return shown;
        }
    };
    let mut config = config.with_connect_args(args);
    let mut source = MemorySecretSource::new();
    if with_secret {
        let secret = SecretRef {
            group: "fuzz".to_owned(),
            key: Some("db".to_owned()),
            group_version: None,
            mount_requirement: Default::default(),
            env_var: None,
        };
        config =
            config.with_secret_connect_args(Some(BTreeMap::from([("passwd".to_owned(), secret)])));
        source = source.with_env_var("_FSEC_FUZZ_DB", SECRET_PASSWORD);
    }
    shown.push_str(&format!(
        "{config:?}\n{}\n",
        config.secret_connect_args_json()
    ));
    for warning in config.connect_arg_warnings() {
        shown.push_str(&format!("{warning}\n{warning:?}\n"));
    }
    if let Err(error) = config.check_connect_args() {
        shown.push_str(&format!("{error}\n{error:?}\n"));
    }
    match resolve_secret_connect_args(&config, &SecretsSettings::default(), &source) {
        Ok(secrets) => {
            shown.push_str(&format!("{secrets:?}\n"));
            match config.resolved_options(&secrets) {
                Ok(options) => shown.push_str(&format!("{options:?}\n")),
                Err(error) => shown.push_str(&format!("{error}\n{error:?}\n")),
            }
        }
        Err(error) => shown.push_str(&format!("{error}\n{error:?}\n")),
    }
    shown
}

/// The connect args in `text` when it is a JSON object, else none.
fn connect_args(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// `text` with every planted password taken out, so that only a plant can show one.
fn without_plants(text: &str) -> String {
    let mut text = text.to_owned();
    while let Some(plant) = PLANTS.iter().find(|plant| text.contains(**plant)) {
        text = text.replace(plant, "");
    }
    text
}
