//! Redaction on every path that prints: `Debug` (`{:?}` and `{:#?}`), `Display` and errors never
//! show a URI password, a password-like connect arg or a resolved secret.

use std::collections::BTreeMap;

use flyte_sql_config::{
    ConnectionConfig, DatabaseUri, MemorySecretSource, MountRequirement, ResolvedSecrets,
    SecretRef, SecretString, SecretsSettings, Target, resolve_secret_connect_args,
};

const URI_PASSWORD: &str = "Uri-Pw-7q";
const QUERY_PASSWORD: &str = "Query-Pw-3k";
const ARG_PASSWORD: &str = "Arg-Pw-9z";
const SECRET_VALUE: &str = "Secret-Val-5x";

fn assert_hidden(label: &str, rendered: &str) {
    for secret in [URI_PASSWORD, QUERY_PASSWORD, ARG_PASSWORD, SECRET_VALUE] {
        assert!(
            !rendered.contains(secret),
            "{label} shows {secret}: {rendered}"
        );
    }
}

/// Checks `{:?}`, `{:#?}` and `{}` of a value.
macro_rules! assert_all_hidden {
    ($label:expr, $value:expr) => {{
        let value = &$value;
        assert_hidden(&format!("{} {{:?}}", $label), &format!("{value:?}"));
        assert_hidden(&format!("{} {{:#?}}", $label), &format!("{value:#?}"));
        assert_hidden(&format!("{} {{}}", $label), &format!("{value}"));
    }};
}

/// Checks `{:?}` and `{:#?}` of a value without `Display`.
macro_rules! assert_debug_hidden {
    ($label:expr, $value:expr) => {{
        let value = &$value;
        assert_hidden(&format!("{} {{:?}}", $label), &format!("{value:?}"));
        assert_hidden(&format!("{} {{:#?}}", $label), &format!("{value:#?}"));
    }};
}

fn uris() -> Vec<String> {
    vec![
        format!("postgresql+psycopg2://app:{URI_PASSWORD}@db:5432/d?sslmode=require"),
        format!(
            "postgresql://app:{URI_PASSWORD}@db/d?password={QUERY_PASSWORD}&application_name=x"
        ),
        format!("mysql+pymysql://root:{URI_PASSWORD}@[::1]:3306/shop?passwd={QUERY_PASSWORD}"),
        format!("mariadb://u:{URI_PASSWORD}@h/d"),
    ]
}

#[test]
fn database_uris() {
    for uri in uris() {
        let parsed = DatabaseUri::parse(&uri).unwrap();
        assert!(parsed.as_written().contains(URI_PASSWORD));
        assert_all_hidden!(&uri, parsed);
        assert_hidden(&uri, parsed.redacted());
        assert_debug_hidden!(&uri, parsed.target());
        if let Target::Postgres(server) | Target::Mysql(server) = parsed.target() {
            assert_eq!(server.password.as_ref().unwrap().expose(), URI_PASSWORD);
            assert_debug_hidden!(&uri, server);
            assert_debug_hidden!(&uri, server.query);
        }
    }
}

#[test]
fn uri_errors() {
    let bad = [
        format!("oracle://u:{URI_PASSWORD}@h/d"),
        format!("postgresql+nope://u:{URI_PASSWORD}@h/d"),
        format!("postgresql://u:{URI_PASSWORD}@h:port/d"),
        format!("postgresql://u:{URI_PASSWORD}@h/d?password={QUERY_PASSWORD}&flag"),
        format!("postgresql://u:{URI_PASSWORD}@[::1/d"),
        format!("postgresql://u:{URI_PASSWORD}@h@x/d"),
        format!("postgresql://u:{URI_PASSWORD}"),
        format!("postgresql://u:{URI_PASSWORD}/d?x"),
        format!("u:{URI_PASSWORD}@h"),
        format!("u:{URI_PASSWORD}@h://x"),
        format!("sqlite://u:{URI_PASSWORD}@h/x.db"),
        format!("sqlite:///x.db?password={QUERY_PASSWORD}&a=1&a=2"),
        format!("mysql://h/d?PassWord={QUERY_PASSWORD}&x"),
    ];
    for uri in bad {
        let error = DatabaseUri::parse(&uri).unwrap_err();
        assert_all_hidden!(&uri, error);
        let error = ConnectionConfig::new(&uri).unwrap_err();
        assert_all_hidden!(&uri, error);
    }
}

fn config() -> ConnectionConfig {
    let secret = |key: &str| SecretRef {
        group: "db".to_owned(),
        key: Some(key.to_owned()),
        group_version: Some("1".to_owned()),
        mount_requirement: MountRequirement::EnvVar,
        env_var: Some("DB_PASSWORD".to_owned()),
    };
    ConnectionConfig::new(&format!(
        "postgresql://app:{URI_PASSWORD}@db/d?password={QUERY_PASSWORD}"
    ))
    .unwrap()
    .with_connect_args(
        serde_json::json!({
            "password": ARG_PASSWORD,
            "sslpassword": ARG_PASSWORD,
            "Passwd": ARG_PASSWORD,
            "sslmode": "require",
        })
        .as_object()
        .unwrap()
        .clone(),
    )
    .with_secret_connect_args(Some(BTreeMap::from([
        ("password".to_owned(), secret("password")),
        ("connect_timeout".to_owned(), secret("timeout")),
    ])))
}

fn source() -> MemorySecretSource {
    MemorySecretSource::new()
        .with_env_var("_FSEC_DB_PASSWORD", SECRET_VALUE)
        .with_file("/etc/secrets/db/timeout", SECRET_VALUE)
}

#[test]
fn connection_configs() {
    let config = config();
    assert_debug_hidden!("config", config);
    assert!(format!("{config:?}").contains("sslmode"));
    assert_debug_hidden!("secret refs", config.secret_connect_args());
    assert_hidden(
        "secret json",
        &config.secret_connect_args_json().to_string(),
    );
}

#[test]
fn resolved_secrets_sources_and_options() {
    let config = config();
    let source = source();
    assert_debug_hidden!("source", source);
    let secrets =
        resolve_secret_connect_args(&config, &SecretsSettings::default(), &source).unwrap();
    assert_eq!(secrets.get("password").unwrap().expose(), SECRET_VALUE);
    assert_debug_hidden!("secrets", secrets);
    for (name, value) in secrets.iter() {
        assert_all_hidden!(name, value);
    }
    // The secret connect_timeout is not a number: the error must not repeat it; the unknown
    // connect args (sslpassword, Passwd) come first and name only their keys.
    let error = config.resolved_options(&secrets).unwrap_err();
    assert_all_hidden!("options error", error);
    let error = config.check_connect_args().unwrap_err();
    assert_all_hidden!("check error", error);
    for warning in config.connect_arg_warnings() {
        assert_all_hidden!("warning", warning);
    }

    // With a valid timeout and only known keys, the options show no secret either.
    let valid = config.clone().with_connect_args(
        serde_json::json!({"password": ARG_PASSWORD})
            .as_object()
            .unwrap()
            .clone(),
    );
    let secrets: ResolvedSecrets = [
        (
            "password".to_owned(),
            SecretString::new(SECRET_VALUE.to_owned()),
        ),
        (
            "connect_timeout".to_owned(),
            SecretString::new("10".to_owned()),
        ),
    ]
    .into_iter()
    .collect();
    let options = valid.resolved_options(&secrets).unwrap();
    assert_debug_hidden!("options", options);
    let flyte_sql_config::ConnectOptions::Postgres(postgres) = options else {
        panic!("postgres options");
    };
    assert_all_hidden!("conninfo", postgres.conninfo());
    assert!(postgres.conninfo().expose().contains(SECRET_VALUE));
}

#[test]
fn secret_errors() {
    let config = config();
    let empty = MemorySecretSource::new();
    let error =
        resolve_secret_connect_args(&config, &SecretsSettings::default(), &empty).unwrap_err();
    assert_all_hidden!("not found", error);
    let error = config
        .resolved_options(&ResolvedSecrets::default())
        .unwrap_err();
    assert_all_hidden!("not resolved", error);
}

#[test]
fn secret_strings() {
    let secret = SecretString::new(SECRET_VALUE.to_owned());
    assert_eq!(format!("{secret}"), "***");
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(format!("{secret:#?}"), "***");
    assert_eq!(secret.expose(), SECRET_VALUE);
}
