//! Connect args: warnings, the strict run-time check, and the typed options the executor applies.

use std::collections::BTreeMap;

use expect_test::{Expect, expect};
use flyte_sql_config::{
    Backend, ConnectArgKind, ConnectOptions, ConnectionConfig, ErrorKind, MountRequirement,
    ResolvedSecrets, SecretRef, SecretString, SqliteDatabase, SqliteOptions, accepted_connect_args,
    accepted_uri_query_options,
};

fn json_object(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn secret_ref(key: &str) -> SecretRef {
    SecretRef {
        group: "db".to_owned(),
        key: Some(key.to_owned()),
        group_version: None,
        mount_requirement: MountRequirement::Any,
        env_var: None,
    }
}

/// A configuration with the given connect args (JSON) and secret connect args (name -> value).
fn configuration(
    uri: &str,
    connect_args: &str,
    secrets: &[(&str, &str)],
) -> (ConnectionConfig, ResolvedSecrets) {
    let secret_refs: BTreeMap<String, SecretRef> = secrets
        .iter()
        .map(|(name, _)| ((*name).to_owned(), secret_ref(name)))
        .collect();
    let config = ConnectionConfig::new(uri)
        .unwrap()
        .with_connect_args(json_object(connect_args))
        .with_secret_connect_args((!secrets.is_empty()).then_some(secret_refs));
    let resolved = secrets
        .iter()
        .map(|(name, value)| ((*name).to_owned(), SecretString::new((*value).to_owned())))
        .collect();
    (config, resolved)
}

/// The resolved options, or the error of the run-time check, as text.
fn check(uri: &str, connect_args: &str, secrets: &[(&str, &str)], expect: Expect) {
    let (config, resolved) = configuration(uri, connect_args, secrets);
    let actual = match config.resolved_options(&resolved) {
        Ok(options) => {
            config.check_connect_args().unwrap();
            format!("{options:#?}")
        }
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::User);
            format!("error: {error}")
        }
    };
    expect.assert_eq(&actual);
}

#[test]
fn warnings_name_each_unknown_key_and_the_accepted_ones() {
    // The keys of the conformance case connect_args_nested.
    let (config, _) = configuration(
        "postgresql+psycopg2://app@db.internal:5432/analytics?sslmod=require",
        r#"{"sslmode": "require", "connect_timeout": 10, "ratio": 0.5, "flag": true,
            "nothing": null, "big": 9007199254740993, "options": "-c statement_timeout=5000",
            "nested": {"a": [1, "two", {"three": 3.0}, null, false], "b": {}, "c": []}}"#,
        &[("pasword", "x")],
    );
    let warnings = config.connect_arg_warnings();
    let keys: Vec<_> = warnings
        .iter()
        .map(|warning| format!("{} in {}", warning.key, warning.origin))
        .collect();
    assert_eq!(
        keys,
        [
            "sslmod in the uri query",
            "big in connect_args",
            "flag in connect_args",
            "nested in connect_args",
            "nothing in connect_args",
            "ratio in connect_args",
            "pasword in secret_connect_args",
        ]
    );
    assert!(
        warnings
            .iter()
            .all(|warning| warning.backend == Backend::Postgres)
    );
    expect![[r#"unknown connect arg `sslmod` in the uri query for postgres (did you mean `sslmode`?); accepted: host, hostaddr, port, dbname, user, password, passfile, connect_timeout, client_encoding, options, application_name, fallback_application_name, keepalives, keepalives_idle, keepalives_interval, keepalives_count, tcp_user_timeout, sslmode, sslcompression, sslcert, sslkey, sslrootcert, sslcrl, sslcrldir, sslsni, ssl_min_protocol_version, ssl_max_protocol_version, requirepeer, gssencmode, channel_binding, krbsrvname, service, target_session_attrs, statement_timeout"#]]
        .assert_eq(&warnings[0].to_string());
    assert_eq!(warnings[6].suggestion, Some("password"));
    // The strict check fails on the first of them, with the same message.
    let error = config.check_connect_args().unwrap_err();
    assert_eq!(error.to_string(), warnings[0].to_string());
}

#[test]
fn no_warnings_for_known_keys() {
    let (config, _) = configuration(
        "sqlite:///x.db?mode=ro&uri=false",
        r#"{"timeout": 5, "check_same_thread": false, "detect_types": 1.0}"#,
        &[],
    );
    assert_eq!(config.connect_arg_warnings(), []);
    config.check_connect_args().unwrap();
}

#[test]
fn sqlite_uri_parameters_are_uri_query_only() {
    let (config, _) = configuration("sqlite:///x.db", r#"{"mode": "ro"}"#, &[]);
    let warnings = config.connect_arg_warnings();
    assert_eq!(warnings.len(), 1);
    assert!(!warnings[0].accepted.contains(&"mode"));
    assert!(
        accepted_uri_query_options(Backend::Sqlite)
            .iter()
            .any(|spec| spec.name == "mode")
    );
}

#[test]
fn sqlite_defaults() {
    check(
        "sqlite:///x.db",
        "{}",
        &[],
        expect![[r#"
            Sqlite(
                SqliteOptions {
                    database: File(
                        "x.db",
                    ),
                    uri_parameters: [],
                    busy_timeout: 5s,
                    isolation_level: Deferred,
                    statement_timeout: None,
                },
            )"#]],
    );
}

#[test]
fn sqlite_options() {
    check(
        "sqlite:////data/x.db?timeout=1&cache=shared",
        r#"{"timeout": 2.5, "isolation_level": null, "read_only": true, "statement_timeout": "90s",
            "check_same_thread": false, "detect_types": 3.0, "cached_statements": 100.0}"#,
        &[],
        expect![[r#"
            Sqlite(
                SqliteOptions {
                    database: File(
                        "/data/x.db",
                    ),
                    uri_parameters: [
                        (
                            "mode",
                            "ro",
                        ),
                        (
                            "cache",
                            "shared",
                        ),
                    ],
                    busy_timeout: 2.5s,
                    isolation_level: Autocommit,
                    statement_timeout: Some(
                        90s,
                    ),
                },
            )"#]],
    );
    check(
        "sqlite:///file:x.db?mode=ro&uri=true",
        r#"{"busy_timeout": 250.0, "isolation_level": "exclusive"}"#,
        &[],
        expect![[r#"
            Sqlite(
                SqliteOptions {
                    database: Uri(
                        "file:x.db",
                    ),
                    uri_parameters: [
                        (
                            "mode",
                            "ro",
                        ),
                    ],
                    busy_timeout: 250ms,
                    isolation_level: Exclusive,
                    statement_timeout: None,
                },
            )"#]],
    );
}

#[test]
fn sqlite_conflicts_and_bad_values() {
    check(
        "sqlite:///x.db?timeout=1",
        r#"{"busy_timeout": 5}"#,
        &[],
        expect![[
            r#"error: connect args `timeout` and `busy_timeout` both set the busy timeout for sqlite: give only one"#
        ]],
    );
    check(
        "sqlite:///x.db?mode=rw",
        r#"{"read_only": true}"#,
        &[],
        expect![[
            r#"error: connect args `read_only` and `mode` both set the open mode for sqlite: give only one"#
        ]],
    );
    check(
        "sqlite:///x.db?mode=ro",
        r#"{"read_only": "no"}"#,
        &[],
        expect![[
            r#"error: connect args `read_only` and `mode` both set the open mode for sqlite: give only one"#
        ]],
    );
    check(
        "sqlite:///x.db",
        r#"{"timeout": "soon"}"#,
        &[],
        expect![[
            r#"error: connect arg `timeout` in connect_args for sqlite must be a non-negative number of seconds such as 5, 2.5 or "2.5""#
        ]],
    );
    check(
        "sqlite:///x.db",
        r#"{"isolation_level": "SERIALIZABLE"}"#,
        &[],
        expect![[
            r#"error: connect arg `isolation_level` in connect_args for sqlite must be null (autocommit) or one of "", "DEFERRED", "IMMEDIATE", "EXCLUSIVE""#
        ]],
    );
    check(
        "sqlite:///x.db?mode=readonly",
        "{}",
        &[],
        expect![[
            r#"error: connect arg `mode` in the uri query for sqlite must be one of ro, rw, rwc, memory"#
        ]],
    );
    check(
        "sqlite:///x.db",
        r#"{"statement_timeout": "5 minutes"}"#,
        &[],
        expect![[
            r#"error: connect arg `statement_timeout` in connect_args for sqlite must be a duration: a non-negative number of seconds such as 30 or 2.5, or a string with a unit such as "500ms", "30s", "5min" or "1h""#
        ]],
    );
}

#[test]
fn postgres_options_merge_in_reference_order() {
    // URI parts, then URI query options, then connect_args, then secrets: the last one wins.
    check(
        "postgresql+psycopg2://uri_user:uri_pw@uri-host:5432/uri_db?user=query_user&sslmode=prefer&connect_timeout=3",
        r#"{"user": "args_user", "password": "args_pw", "sslmode": "REQUIRE", "connect_timeout": 10.0,
            "keepalives": true, "tcp_user_timeout": "1500", "application_name": "flyte",
            "target_session_attrs": "read-only", "statement_timeout": 30}"#,
        &[("password", " secret_pw "), ("host", "secret-host")],
        expect![[r#"
            Postgres(
                PostgresOptions {
                    host: Some(
                        "secret-host",
                    ),
                    port: Some(
                        5432,
                    ),
                    user: Some(
                        "args_user",
                    ),
                    password: Some(
                        ***,
                    ),
                    dbname: Some(
                        "uri_db",
                    ),
                    parameters: [
                        (
                            "connect_timeout",
                            "10",
                        ),
                        (
                            "application_name",
                            "flyte",
                        ),
                        (
                            "keepalives",
                            "1",
                        ),
                        (
                            "tcp_user_timeout",
                            "1500",
                        ),
                        (
                            "sslmode",
                            "require",
                        ),
                        (
                            "target_session_attrs",
                            "read-only",
                        ),
                    ],
                    statement_timeout: Some(
                        30s,
                    ),
                },
            )"#]],
    );
}

#[test]
fn postgres_from_the_uri_alone() {
    check(
        "postgres://app:p%40ss@[::1]:6432/analytics",
        "{}",
        &[],
        expect![[r#"
            Postgres(
                PostgresOptions {
                    host: Some(
                        "::1",
                    ),
                    port: Some(
                        6432,
                    ),
                    user: Some(
                        "app",
                    ),
                    password: Some(
                        ***,
                    ),
                    dbname: Some(
                        "analytics",
                    ),
                    parameters: [],
                    statement_timeout: None,
                },
            )"#]],
    );
}

#[test]
fn postgres_bad_values() {
    check(
        "postgresql://h/d",
        r#"{"connect_timeout": 2.5}"#,
        &[],
        expect![[
            r#"error: connect arg `connect_timeout` in connect_args for postgres must be a non-negative whole number of seconds such as 10, 10.0 or "10""#
        ]],
    );
    check(
        "postgresql://h/d",
        r#"{"port": "5432x"}"#,
        &[],
        expect![[
            r#"error: connect arg `port` in connect_args for postgres must be a port number from 1 to 65535"#
        ]],
    );
    check(
        "postgresql://h/d",
        r#"{"sslmode": "required"}"#,
        &[],
        expect![[
            r#"error: connect arg `sslmode` in connect_args for postgres must be one of disable, allow, prefer, require, verify-ca, verify-full"#
        ]],
    );
    check(
        "postgresql://h/d",
        r#"{"keepalives": 2}"#,
        &[],
        expect![[
            r#"error: connect arg `keepalives` in connect_args for postgres must be a boolean: true or false, 1 or 0, or a string such as "true" or "no""#
        ]],
    );
    check(
        "postgresql://h/d",
        r#"{"application_name": 7}"#,
        &[],
        expect![[
            r#"error: connect arg `application_name` in connect_args for postgres must be a string"#
        ]],
    );
    check(
        "postgresql://h/d",
        "{}",
        &[("connect_timeout", "ten")],
        expect![[
            r#"error: connect arg `connect_timeout` in secret_connect_args for postgres must be a non-negative whole number of seconds such as 10, 10.0 or "10""#
        ]],
    );
}

#[test]
fn mysql_options() {
    check(
        "mysql+pymysql://root:uri_pw@db:3306/shop?charset=utf8mb4&ssl_verify_cert=true",
        r#"{"connect_timeout": 10.0, "read_timeout": "30", "write_timeout": 30, "init_command": "SET time_zone = '+00:00'",
            "sql_mode": "ANSI", "ssl_ca": "/etc/ssl/ca.pem", "db": "other", "unix_socket": "/tmp/mysql.sock",
            "statement_timeout": "500ms"}"#,
        &[("passwd", "secret_pw")],
        expect![[r#"
            Mysql(
                MysqlOptions {
                    host: Some(
                        "db",
                    ),
                    port: Some(
                        3306,
                    ),
                    user: Some(
                        "root",
                    ),
                    password: Some(
                        ***,
                    ),
                    database: Some(
                        "other",
                    ),
                    unix_socket: Some(
                        "/tmp/mysql.sock",
                    ),
                    connect_timeout: Some(
                        10s,
                    ),
                    read_timeout: Some(
                        30s,
                    ),
                    write_timeout: Some(
                        30s,
                    ),
                    charset: Some(
                        "utf8mb4",
                    ),
                    init_command: Some(
                        "SET time_zone = '+00:00'",
                    ),
                    sql_mode: Some(
                        "ANSI",
                    ),
                    ssl_mode: Some(
                        VerifyCa,
                    ),
                    ssl_ca: Some(
                        "/etc/ssl/ca.pem",
                    ),
                    ssl_cert: None,
                    ssl_key: None,
                    statement_timeout: Some(
                        500ms,
                    ),
                },
            )"#]],
    );
    check(
        "mariadb://h/d",
        r#"{"ssl_mode": "verify_identity", "port": 3307}"#,
        &[],
        expect![[r#"
        Mysql(
            MysqlOptions {
                host: Some(
                    "h",
                ),
                port: Some(
                    3307,
                ),
                user: None,
                password: None,
                database: Some(
                    "d",
                ),
                unix_socket: None,
                connect_timeout: None,
                read_timeout: None,
                write_timeout: None,
                charset: None,
                init_command: None,
                sql_mode: None,
                ssl_mode: Some(
                    VerifyIdentity,
                ),
                ssl_ca: None,
                ssl_cert: None,
                ssl_key: None,
                statement_timeout: None,
            },
        )"#]],
    );
    check(
        "mariadb://h/d",
        r#"{"ssl_disabled": "yes"}"#,
        &[],
        expect![[r#"
        Mysql(
            MysqlOptions {
                host: Some(
                    "h",
                ),
                port: None,
                user: None,
                password: None,
                database: Some(
                    "d",
                ),
                unix_socket: None,
                connect_timeout: None,
                read_timeout: None,
                write_timeout: None,
                charset: None,
                init_command: None,
                sql_mode: None,
                ssl_mode: Some(
                    Disabled,
                ),
                ssl_ca: None,
                ssl_cert: None,
                ssl_key: None,
                statement_timeout: None,
            },
        )"#]],
    );
}

#[test]
fn mysql_conflicts() {
    check(
        "mysql://u:p@h/d",
        r#"{"password": "a"}"#,
        &[("passwd", "b")],
        expect![[
            r#"error: connect args `password` and `passwd` both set the password for mysql: give only one"#
        ]],
    );
    check(
        "mysql://h/d?db=x",
        r#"{"database": "y"}"#,
        &[],
        expect![[
            r#"error: connect args `database` and `db` both set the database for mysql: give only one"#
        ]],
    );
    check(
        "mysql://h/d",
        r#"{"ssl_mode": "REQUIRED", "ssl_verify_identity": true}"#,
        &[],
        expect![[
            r#"error: connect args `ssl_mode` and `ssl_verify_identity` both set the TLS mode for mysql: give only one"#
        ]],
    );
    check(
        "mysql://h/d",
        r#"{"ssl_disabled": true, "ssl_verify_cert": true}"#,
        &[],
        expect![[
            r#"error: connect args `ssl_disabled` and `ssl_verify_cert` both set the TLS mode for mysql: give only one"#
        ]],
    );
}

#[test]
fn the_check_skips_values_a_secret_overrides_but_not_conflicts() {
    // At check time the secret's value is unknown; the plain value it overrides is not used.
    let (config, _) = configuration(
        "postgresql://h/d",
        r#"{"password": 5}"#,
        &[("password", "x")],
    );
    config.check_connect_args().unwrap();
    let (config, _) = configuration("mysql://h/d", r#"{"password": "a"}"#, &[("passwd", "b")]);
    assert!(config.check_connect_args().is_err());
}

#[test]
fn missing_resolved_secrets_are_a_system_error() {
    let (config, _) = configuration("postgresql://h/d", "{}", &[("password", "x")]);
    let error = config
        .resolved_options(&ResolvedSecrets::default())
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::System);
    expect![[r#"secret connect arg `password` was not resolved: resolve the secrets of this connection with resolve_secret_connect_args before asking for its options"#]].assert_eq(&error.to_string());
}

/// A valid sample value for each kind.
fn sample(kind: ConnectArgKind) -> serde_json::Value {
    match kind {
        ConnectArgKind::Text => "sample".into(),
        ConnectArgKind::Boolean => true.into(),
        ConnectArgKind::WholeNumber => 3.0.into(),
        ConnectArgKind::Port => 1234.into(),
        ConnectArgKind::WholeSeconds => "7".into(),
        ConnectArgKind::Seconds => 2.5.into(),
        ConnectArgKind::Milliseconds => 1500.into(),
        ConnectArgKind::Duration => "2s".into(),
        ConnectArgKind::OneOf(values) => values[0].into(),
        ConnectArgKind::SqliteIsolationLevel => "IMMEDIATE".into(),
        _ => serde_json::Value::Null,
    }
}

/// No accepted key is silently dropped: each one changes the options, except those documented as
/// ignored, which change nothing.
#[test]
fn every_accepted_key_reaches_the_options() {
    for (backend, uri) in [
        (Backend::Sqlite, "sqlite:///x.db"),
        (Backend::Postgres, "postgresql://h/d"),
        (Backend::Mysql, "mysql://h/d"),
    ] {
        let (baseline_config, none) = configuration(uri, "{}", &[]);
        let baseline = baseline_config.resolved_options(&none).unwrap();
        for spec in accepted_uri_query_options(backend) {
            let value = sample(spec.kind);
            let as_connect_arg = accepted_connect_args(backend).contains(spec);
            let (with_key, _) = if as_connect_arg {
                configuration(
                    uri,
                    &serde_json::json!({ spec.name: value }).to_string(),
                    &[],
                )
            } else {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                configuration(&format!("{uri}?{}={text}", spec.name), "{}", &[])
            };
            let options = with_key.resolved_options(&none).unwrap();
            if spec.kind == ConnectArgKind::Ignored {
                assert_eq!(options, baseline, "{backend} {}", spec.name);
            } else {
                assert_ne!(options, baseline, "{backend} {} is dropped", spec.name);
            }
        }
    }
}

#[test]
fn conninfo_quotes_every_value() {
    let (config, secrets) = configuration(
        "postgresql://app@h:5432/d",
        r#"{"options": "-c search_path='my app'", "sslrootcert": "C:\\certs\\ca.pem"}"#,
        &[("password", "it's")],
    );
    let ConnectOptions::Postgres(options) = config.resolved_options(&secrets).unwrap() else {
        panic!("postgres options");
    };
    assert_eq!(format!("{:?}", options.conninfo()), "***");
    expect![[r#"host='h' port='5432' user='app' password='it\'s' dbname='d' options='-c search_path=\'my app\'' sslrootcert='C:\\certs\\ca.pem'"#]].assert_eq(options.conninfo().expose());
}

fn sqlite_options_of(uri: &str, connect_args: &str) -> SqliteOptions {
    let (config, secrets) = configuration(uri, connect_args, &[]);
    match config.resolved_options(&secrets).unwrap() {
        ConnectOptions::Sqlite(options) => options,
        other => panic!("not sqlite: {other:?}"),
    }
}

#[test]
fn sqlite_open_filenames() {
    let cases = [
        ("sqlite://", "{}", ":memory:", false),
        (
            "sqlite:///:memory:?cache=shared",
            "{}",
            "file::memory:?cache=shared",
            false,
        ),
        ("sqlite:///data/x.db", "{}", "data/x.db", false),
        ("sqlite:///file:x.db", "{}", "./file:x.db", false),
        (
            "sqlite:////data/x.db",
            r#"{"read_only": true}"#,
            "file:///data/x.db?mode=ro",
            true,
        ),
        (
            "sqlite:///a%3Fb%23c%25.db?mode=ro&immutable=yes",
            "{}",
            "file:a%3Fb%23c%25.db?mode=ro&immutable=1",
            true,
        ),
        (
            "sqlite:///x.db?vfs=a%26b",
            "{}",
            "file:x.db?vfs=a%26b",
            false,
        ),
        (
            "sqlite:///file:x.db?mode=ro&uri=true",
            "{}",
            "file:x.db?mode=ro",
            true,
        ),
        (
            "sqlite:///file:x.db?uri=1",
            r#"{"read_only": 1}"#,
            "file:x.db?mode=ro",
            true,
        ),
        (
            "sqlite:///file:x.db",
            r#"{"uri": true}"#,
            "file:x.db",
            false,
        ),
    ];
    for (uri, connect_args, filename, read_only) in cases {
        let options = sqlite_options_of(uri, connect_args);
        assert_eq!(options.open_filename(), filename, "{uri} {connect_args}");
        assert_eq!(options.read_only(), read_only, "{uri} {connect_args}");
    }
    assert_eq!(
        sqlite_options_of("sqlite:///file:x.db?uri=true", "{}").database,
        SqliteDatabase::Uri("file:x.db".to_owned())
    );
}
