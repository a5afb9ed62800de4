//! Secret names and resolution against flytekit's own results (`fixtures/secrets.json`, copied
//! from the conformance oracle).

use std::collections::BTreeMap;

use expect_test::expect;
use flyte_sql_config::{
    ConnectOptions, ConnectionConfig, Error, ErrorKind, MemorySecretSource, MountRequirement,
    SecretRef, SecretSource, SecretsSettings, resolve_secret, resolve_secret_connect_args,
};

fn oracle() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/secrets.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text(value: &serde_json::Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn secret(group: &str, key: Option<&str>) -> SecretRef {
    SecretRef {
        group: group.to_owned(),
        key: key.map(str::to_owned),
        group_version: None,
        mount_requirement: MountRequirement::Any,
        env_var: None,
    }
}

#[test]
fn names_match_flytekit() {
    let oracle = oracle();
    let rows = oracle["names"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for row in rows {
        let settings = SecretsSettings {
            env_prefix: text(&row["config"]["env_prefix"]).unwrap(),
            default_dir: text(&row["config"]["default_dir"]).unwrap(),
            file_prefix: text(&row["config"]["file_prefix"]).unwrap(),
        };
        let secret = SecretRef {
            group: text(&row["group"]).unwrap(),
            key: text(&row["key"]),
            // Ignored, as the reference's executor ignores it.
            group_version: text(&row["group_version"]),
            mount_requirement: MountRequirement::Any,
            env_var: None,
        };
        assert_eq!(
            settings.env_var_name(&secret),
            row["executor_env_var"],
            "{row}"
        );
        assert_eq!(settings.file_path(&secret), row["executor_file"], "{row}");
    }
}

/// The environment the oracle's resolution cases ran in, with whitespace around the values
/// (flytekit strips it), files under `<dir>` as the oracle's messages write the directory.
fn oracle_source() -> MemorySecretSource {
    MemorySecretSource::new()
        .with_env_var("_FSEC_GRP_FROM_ENV", "  env-value\n")
        .with_file("<dir>/grp/from_file", "file-value\n")
        .with_env_var("_FSEC_GRP_BOTH", "env-wins")
        .with_file("<dir>/grp/both", "file-loses")
        .with_env_var("GRP_UNPREFIXED", "unprefixed-value")
}

#[test]
fn resolution_matches_flytekit() {
    let settings = SecretsSettings {
        default_dir: "<dir>".to_owned(),
        ..SecretsSettings::default()
    };
    let source = oracle_source();
    let oracle = oracle();
    let mut checked = 0;
    for case in oracle["resolution"].as_array().unwrap() {
        // The un-prefixed lookup happens only in flytekit's local in-process runs, never under
        // pyflyte-execute, which is what flyte-sql's executor stands in for.
        if case["context"].as_str().unwrap().starts_with("local") {
            continue;
        }
        let secret = secret(case["group"].as_str().unwrap(), case["key"].as_str());
        let result = resolve_secret(&secret, &settings, &source);
        match (case["value"].as_str(), case["error"].as_str()) {
            (Some(value), None) => assert_eq!(result.unwrap().expose(), value, "{case}"),
            (None, Some(reference)) => {
                let Err(Error::SecretNotFound {
                    env_var, file_path, ..
                }) = result
                else {
                    panic!("{case}: {result:?}");
                };
                // flytekit says: "... in Env Var:<name> and FilePath: <path>".
                assert!(
                    reference.contains(&format!("Env Var:{env_var} ")),
                    "{reference}"
                );
                assert!(
                    reference.ends_with(&format!("FilePath: {file_path}")),
                    "{reference}"
                );
            }
            _ => panic!("a case has a value or an error: {case}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn not_found_says_where_it_looked_and_what_to_do() {
    let error = resolve_secret(
        &secret("db-creds", Some("password")),
        &SecretsSettings::default(),
        &MemorySecretSource::new(),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::User);
    expect![[r#"secret group `db-creds` key `password` not found: looked for env var `_FSEC_DB-CREDS_PASSWORD` and file `/etc/secrets/db-creds/password`; request the secret in the task (secret_connect_args are requested for you, other secrets go in secret_requests) and make sure it exists in Flyte's secret store, or for a local run set that env var or create that file"#]]
        .assert_eq(&error.to_string());
}

#[test]
fn group_only_secrets_and_empty_values() {
    let source = MemorySecretSource::new()
        .with_env_var("_FSEC_TOKEN", "")
        .with_file("/etc/secrets/ONLY-FILE", "ignored: names are lower-cased")
        .with_file("/etc/secrets/only-file", "\u{1c} from file \u{3000}");
    let settings = SecretsSettings::default();
    // An empty environment variable is found, as with flytekit's `os.environ.get`.
    assert_eq!(
        resolve_secret(&secret("token", None), &settings, &source)
            .unwrap()
            .expose(),
        ""
    );
    assert_eq!(
        resolve_secret(&secret("ONLY-FILE", Some("")), &settings, &source)
            .unwrap()
            .expose(),
        "from file"
    );
    let error = resolve_secret(&secret("", Some("k")), &settings, &source).unwrap_err();
    assert!(matches!(
        error,
        Error::EmptySecretGroup { connect_arg: None }
    ));
    assert_eq!(error.kind(), ErrorKind::User);
}

#[test]
fn unicode_names_follow_python_case_mapping() {
    // Checked against python3: 'straße'.upper() == 'STRASSE', 'İ'.lower() == 'i̇', and the
    // final sigma of 'ΑΣ'.lower() == 'ας'.
    let settings = SecretsSettings::default();
    let secret = secret("straße", Some("ΑΣ"));
    assert_eq!(settings.env_var_name(&secret), "_FSEC_STRASSE_ΑΣ");
    assert_eq!(settings.file_path(&secret), "/etc/secrets/straße/ας");
    let dotted = self::secret("İ", None);
    assert_eq!(settings.file_path(&dotted), "/etc/secrets/i\u{307}");
}

#[test]
fn settings_from_env_as_flytekit() {
    let settings = SecretsSettings::from_env(&|_| None);
    assert_eq!(settings, SecretsSettings::default());
    assert_eq!(settings.env_prefix, "_FSEC_");
    assert_eq!(settings.default_dir, "/etc/secrets");
    assert_eq!(settings.file_prefix, "");

    let env = BTreeMap::from([
        ("FLYTE_SECRETS_ENV_PREFIX", " my_ \n"),
        ("FLYTE_SECRETS_DEFAULT_DIR", "/etc/flyte/secrets"),
        ("FLYTE_SECRETS_FILE_PREFIX", "pre_"),
    ]);
    let settings =
        SecretsSettings::from_env(&|name| env.get(name).map(|value| (*value).to_owned()));
    assert_eq!(
        settings,
        SecretsSettings {
            env_prefix: "my_".to_owned(),
            default_dir: "/etc/flyte/secrets".to_owned(),
            file_prefix: "pre_".to_owned(),
        }
    );
    assert_eq!(settings.env_var_name(&secret("g", Some("k"))), "my_G_K");

    // Empty means unset (flytekit's `set_if_exists`); only spaces means empty.
    let env = BTreeMap::from([
        ("FLYTE_SECRETS_ENV_PREFIX", ""),
        ("FLYTE_SECRETS_DEFAULT_DIR", "  "),
    ]);
    let settings =
        SecretsSettings::from_env(&|name| env.get(name).map(|value| (*value).to_owned()));
    assert_eq!(settings.env_prefix, "_FSEC_");
    assert_eq!(settings.default_dir, "");
    assert_eq!(settings.file_path(&secret("g", Some("k"))), "g/k");
}

/// A source whose files cannot be read.
struct BrokenMount;

impl SecretSource for BrokenMount {
    fn env_var(&self, _name: &str) -> Option<String> {
        None
    }

    fn read_file(&self, _path: &str) -> std::io::Result<Option<String>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "permission denied",
        ))
    }
}

fn config_with_secrets() -> ConnectionConfig {
    ConnectionConfig::new("postgresql+psycopg2://app@db.internal:5432/analytics")
        .unwrap()
        .with_connect_args(
            serde_json::json!({"password": "plain-loses", "sslmode": "require"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .with_secret_connect_args(Some(BTreeMap::from([(
            "password".to_owned(),
            secret("db-creds", Some("password")),
        )])))
}

#[test]
fn unreadable_files_are_a_system_error_naming_the_connect_arg() {
    let error = resolve_secret_connect_args(
        &config_with_secrets(),
        &SecretsSettings::default(),
        &BrokenMount,
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::System);
    expect![[r#"cannot read secret file `/etc/secrets/db-creds/password` (for secret connect arg `password`): permission denied; check the secret mount"#]]
        .assert_eq(&error.to_string());
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn missing_secret_connect_args_name_the_connect_arg() {
    let error = resolve_secret_connect_args(
        &config_with_secrets(),
        &SecretsSettings::default(),
        &MemorySecretSource::new(),
    )
    .unwrap_err();
    let Error::SecretNotFound { connect_arg, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(connect_arg.as_deref(), Some("password"));
    assert!(
        error
            .to_string()
            .contains("(for secret connect arg `password`)")
    );
}

#[test]
fn resolved_secrets_win_over_plain_connect_args() {
    let config = config_with_secrets();
    let source = MemorySecretSource::new().with_env_var("_FSEC_DB-CREDS_PASSWORD", "from-secret\n");
    let secrets =
        resolve_secret_connect_args(&config, &SecretsSettings::default(), &source).unwrap();
    assert_eq!(secrets.len(), 1);
    assert!(!secrets.is_empty());
    let names: Vec<_> = secrets.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["password"]);
    let ConnectOptions::Postgres(options) = config.resolved_options(&secrets).unwrap() else {
        panic!("postgres options");
    };
    assert_eq!(options.password.unwrap().expose(), "from-secret");
    assert_eq!(options.parameters, [("sslmode", "require".to_owned())]);
}

#[test]
fn no_secret_connect_args_resolve_to_nothing() {
    let config = ConnectionConfig::new("sqlite://").unwrap();
    let secrets =
        resolve_secret_connect_args(&config, &SecretsSettings::default(), &BrokenMount).unwrap();
    assert!(secrets.is_empty());
}
