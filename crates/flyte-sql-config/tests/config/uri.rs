//! Every SQLAlchemy URI shape, good and bad: one `check` per case, the parse rendered compactly or
//! the error message in full.

use expect_test::{Expect, expect};
use flyte_sql_config::{Backend, DatabaseUri, Error, ErrorKind, QueryOption, SqlitePath, Target};

fn render_query(query: &[QueryOption]) -> String {
    let pairs: Vec<String> = query
        .iter()
        .map(|option| format!("{:?}={:?}", option.key, option.value))
        .collect();
    format!("[{}]", pairs.join(", "))
}

fn render(uri: &DatabaseUri) -> String {
    let scheme = match uri.driver() {
        Some(driver) => format!("{}+{driver}", uri.dialect()),
        None => uri.dialect().to_owned(),
    };
    let target = match uri.target() {
        Target::Sqlite(sqlite) => {
            let path = match &sqlite.path {
                SqlitePath::Memory => "memory".to_owned(),
                SqlitePath::File(path) => format!("file {path:?}"),
            };
            format!("{path} query={}", render_query(&sqlite.query))
        }
        Target::Postgres(server) | Target::Mysql(server) => format!(
            "host={:?} port={:?} user={:?} password={:?} database={:?} query={}",
            server.host,
            server.port,
            server.user,
            server.password.as_ref().map(|password| password.expose()),
            server.database,
            render_query(&server.query),
        ),
    };
    format!(
        "{} ({scheme}) {target}\nredacted: {}",
        uri.backend(),
        uri.redacted()
    )
}

fn check(uri: &str, expect: Expect) {
    let actual = match DatabaseUri::parse(uri) {
        Ok(parsed) => {
            assert_eq!(parsed.as_written(), uri);
            render(&parsed)
        }
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::User);
            format!("error: {error}")
        }
    };
    expect.assert_eq(&actual);
}

#[test]
fn sqlite_in_memory() {
    check(
        "sqlite://",
        expect![[r#"
            sqlite (sqlite) memory query=[]
            redacted: sqlite://"#]],
    );
    check(
        "sqlite:///",
        expect![[r#"
            sqlite (sqlite) memory query=[]
            redacted: sqlite:///"#]],
    );
    check(
        "sqlite:///:memory:",
        expect![[r#"
            sqlite (sqlite) memory query=[]
            redacted: sqlite:///:memory:"#]],
    );
    check(
        "sqlite+pysqlite:///:memory:?cache=shared",
        expect![[r#"
            sqlite (sqlite+pysqlite) memory query=["cache"="shared"]
            redacted: sqlite+pysqlite:///:memory:?cache=shared"#]],
    );
}

#[test]
fn sqlite_files() {
    check(
        "sqlite:///relative.db",
        expect![[r#"
        sqlite (sqlite) file "relative.db" query=[]
        redacted: sqlite:///relative.db"#]],
    );
    check(
        "sqlite:///data/nested/x.db",
        expect![[r#"
        sqlite (sqlite) file "data/nested/x.db" query=[]
        redacted: sqlite:///data/nested/x.db"#]],
    );
    check(
        "sqlite:////abs/path.db",
        expect![[r#"
        sqlite (sqlite) file "/abs/path.db" query=[]
        redacted: sqlite:////abs/path.db"#]],
    );
    check(
        "sqlite://///double/slash.db",
        expect![[r#"
        sqlite (sqlite) file "//double/slash.db" query=[]
        redacted: sqlite://///double/slash.db"#]],
    );
    check(
        "sqlite:///with%20space%3F.db",
        expect![[r#"
        sqlite (sqlite) file "with space?.db" query=[]
        redacted: sqlite:///with%20space%3F.db"#]],
    );
    check(
        "sqlite:///ünïcode.db",
        expect![[r#"
        sqlite (sqlite) file "ünïcode.db" query=[]
        redacted: sqlite:///ünïcode.db"#]],
    );
}

#[test]
fn sqlite_query_options() {
    check(
        "sqlite:///x.db?mode=ro",
        expect![[r#"
        sqlite (sqlite) file "x.db" query=["mode"="ro"]
        redacted: sqlite:///x.db?mode=ro"#]],
    );
    check(
        "sqlite:///x.db?timeout=2.5&isolation_level=IMMEDIATE",
        expect![[r#"
        sqlite (sqlite) file "x.db" query=["timeout"="2.5", "isolation_level"="IMMEDIATE"]
        redacted: sqlite:///x.db?timeout=2.5&isolation_level=IMMEDIATE"#]],
    );
    check(
        "sqlite:///file:x.db?mode=ro&uri=true",
        expect![[r#"
        sqlite (sqlite) file "file:x.db" query=["mode"="ro", "uri"="true"]
        redacted: sqlite:///file:x.db?mode=ro&uri=true"#]],
    );
    check(
        "sqlite:///x.db?vfs=unix%2Dnone&a+b=c+d",
        expect![[r#"
        sqlite (sqlite) file "x.db" query=["vfs"="unix-none", "a b"="c d"]
        redacted: sqlite:///x.db?vfs=unix%2Dnone&a+b=c+d"#]],
    );
    check(
        "sqlite:///x.db?&&timeout=1&",
        expect![[r#"
        sqlite (sqlite) file "x.db" query=["timeout"="1"]
        redacted: sqlite:///x.db?&&timeout=1&"#]],
    );
    check(
        "sqlite:///x.db?empty=",
        expect![[r#"
        sqlite (sqlite) file "x.db" query=["empty"=""]
        redacted: sqlite:///x.db?empty="#]],
    );
}

#[test]
fn sqlite_errors() {
    check(
        "sqlite://relative.db",
        expect![[
            r#"error: invalid database uri `sqlite://relative.db`: a sqlite uri has no user, password, host or port (a file path follows three slashes, an absolute one four); expected sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10"#
        ]],
    );
    check(
        "sqlite://user:pw@host/x.db",
        expect![[
            r#"error: invalid database uri `sqlite://user:***@host/x.db`: a sqlite uri has no user, password, host or port (a file path follows three slashes, an absolute one four); expected sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10"#
        ]],
    );
    check(
        "sqlite://:5/x.db",
        expect![[
            r#"error: invalid database uri `sqlite://:5/x.db`: a sqlite uri has no user, password, host or port (a file path follows three slashes, an absolute one four); expected sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10"#
        ]],
    );
    check(
        "sqlite+pysqlcipher:///x.db",
        expect![[
            r#"error: invalid database uri `sqlite+pysqlcipher:///x.db`: unsupported driver `pysqlcipher`: use one of pysqlite, aiosqlite or no `+driver` at all; expected sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10"#
        ]],
    );
    check(
        "sqlite:///x.db?uri",
        expect![[
            r#"error: invalid database uri `sqlite:///x.db?uri`: query option `uri` has no value: write `uri=value`; expected sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10"#
        ]],
    );
    check(
        "sqlite:///x.db?mode=ro&mode=rw",
        expect![[
            r#"error: invalid database uri `sqlite:///x.db?mode=ro&mode=rw`: query option `mode` is given more than once: give it once; expected sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10"#
        ]],
    );
    check(
        "sqlite:///x.db?=ro",
        expect![[
            r#"error: invalid database uri `sqlite:///x.db?=ro`: a query option has no name before `=`; expected sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10"#
        ]],
    );
}

#[test]
fn postgres_shapes() {
    check(
        "postgresql+psycopg2://app:s3cret@db.internal:5432/analytics?sslmode=require&application_name=flyte",
        expect![[r#"
            postgres (postgresql+psycopg2) host=Some("db.internal") port=Some(5432) user=Some("app") password=Some("s3cret") database=Some("analytics") query=["sslmode"="require", "application_name"="flyte"]
            redacted: postgresql+psycopg2://app:***@db.internal:5432/analytics?sslmode=require&application_name=flyte"#]],
    );
    check(
        "postgresql://app@db.internal:5432/analytics",
        expect![[r#"
        postgres (postgresql) host=Some("db.internal") port=Some(5432) user=Some("app") password=None database=Some("analytics") query=[]
        redacted: postgresql://app@db.internal:5432/analytics"#]],
    );
    check(
        "postgres://db.internal/analytics",
        expect![[r#"
        postgres (postgres) host=Some("db.internal") port=None user=None password=None database=Some("analytics") query=[]
        redacted: postgres://db.internal/analytics"#]],
    );
    check(
        "postgresql://",
        expect![[r#"
        postgres (postgresql) host=None port=None user=None password=None database=None query=[]
        redacted: postgresql://"#]],
    );
    check(
        "postgresql:///analytics?host=/var/run/postgresql",
        expect![[r#"
        postgres (postgresql) host=None port=None user=None password=None database=Some("analytics") query=["host"="/var/run/postgresql"]
        redacted: postgresql:///analytics?host=/var/run/postgresql"#]],
    );
    check(
        "postgresql://db.internal",
        expect![[r#"
        postgres (postgresql) host=Some("db.internal") port=None user=None password=None database=None query=[]
        redacted: postgresql://db.internal"#]],
    );
    check(
        "postgresql://db.internal:5433",
        expect![[r#"
        postgres (postgresql) host=Some("db.internal") port=Some(5433) user=None password=None database=None query=[]
        redacted: postgresql://db.internal:5433"#]],
    );
    check(
        "postgresql://:5433/db",
        expect![[r#"
        postgres (postgresql) host=None port=Some(5433) user=None password=None database=Some("db") query=[]
        redacted: postgresql://:5433/db"#]],
    );
    check(
        "postgresql://u%40corp:p%40ss%3Aw%2Frd@h/d%2Fb",
        expect![[r#"
        postgres (postgresql) host=Some("h") port=None user=Some("u@corp") password=Some("p@ss:w/rd") database=Some("d/b") query=[]
        redacted: postgresql://u%40corp:***@h/d%2Fb"#]],
    );
    check(
        "postgresql://user:pa:ss/wo?rd@host/db",
        expect![[r#"
        postgres (postgresql) host=Some("host") port=None user=Some("user") password=Some("pa:ss/wo?rd") database=Some("db") query=[]
        redacted: postgresql://user:***@host/db"#]],
    );
    check(
        "postgresql://u@v@host/db",
        expect![[r#"
        postgres (postgresql) host=Some("host") port=None user=Some("u@v") password=None database=Some("db") query=[]
        redacted: postgresql://u@v@host/db"#]],
    );
    check(
        "postgresql://user:@host/db",
        expect![[r#"
        postgres (postgresql) host=Some("host") port=None user=Some("user") password=None database=Some("db") query=[]
        redacted: postgresql://user:***@host/db"#]],
    );
    check(
        "postgresql://@host/db",
        expect![[r#"
        postgres (postgresql) host=Some("host") port=None user=None password=None database=Some("db") query=[]
        redacted: postgresql://@host/db"#]],
    );
    check(
        "postgresql://[::1]:5432/db",
        expect![[r#"
        postgres (postgresql) host=Some("::1") port=Some(5432) user=None password=None database=Some("db") query=[]
        redacted: postgresql://[::1]:5432/db"#]],
    );
    check(
        "postgresql://u:p@[fe80::1%25eth0]/db",
        expect![[r#"
        postgres (postgresql) host=Some("fe80::1%25eth0") port=None user=Some("u") password=Some("p") database=Some("db") query=[]
        redacted: postgresql://u:***@[fe80::1%25eth0]/db"#]],
    );
    check(
        "postgresql://[2001:db8::1]",
        expect![[r#"
        postgres (postgresql) host=Some("2001:db8::1") port=None user=None password=None database=None query=[]
        redacted: postgresql://[2001:db8::1]"#]],
    );
    check(
        "postgresql+asyncpg://h/db?options=-c%20search_path%3Dapp&password=qs3cret",
        expect![[r#"
        postgres (postgresql+asyncpg) host=Some("h") port=None user=None password=None database=Some("db") query=["options"="-c search_path=app", "password"="qs3cret"]
        redacted: postgresql+asyncpg://h/db?options=-c%20search_path%3Dapp&password=***"#]],
    );
}

#[test]
fn mysql_shapes() {
    check(
        "mysql+pymysql://root:pw@127.0.0.1:3306/shop?charset=utf8mb4",
        expect![[r#"
        mysql (mysql+pymysql) host=Some("127.0.0.1") port=Some(3306) user=Some("root") password=Some("pw") database=Some("shop") query=["charset"="utf8mb4"]
        redacted: mysql+pymysql://root:***@127.0.0.1:3306/shop?charset=utf8mb4"#]],
    );
    check(
        "mysql://u@h/db",
        expect![[r#"
        mysql (mysql) host=Some("h") port=None user=Some("u") password=None database=Some("db") query=[]
        redacted: mysql://u@h/db"#]],
    );
    check(
        "mariadb://u:p@h/db",
        expect![[r#"
        mysql (mariadb) host=Some("h") port=None user=Some("u") password=Some("p") database=Some("db") query=[]
        redacted: mariadb://u:***@h/db"#]],
    );
    check(
        "mariadb+mariadbconnector://h",
        expect![[r#"
        mysql (mariadb+mariadbconnector) host=Some("h") port=None user=None password=None database=None query=[]
        redacted: mariadb+mariadbconnector://h"#]],
    );
    check(
        "mysql+mysqldb://h/db?unix_socket=/tmp/mysql.sock",
        expect![[r#"
        mysql (mysql+mysqldb) host=Some("h") port=None user=None password=None database=Some("db") query=["unix_socket"="/tmp/mysql.sock"]
        redacted: mysql+mysqldb://h/db?unix_socket=/tmp/mysql.sock"#]],
    );
}

#[test]
fn server_errors() {
    check(
        "postgresql://h:/d",
        expect![[
            r#"error: invalid database uri `postgresql://h:/d`: the port is not a number from 1 to 65535 (a user and password end with `@` before the host); expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://h:abc/d",
        expect![[
            r#"error: invalid database uri `postgresql://h:***/d`: the port is not a number from 1 to 65535 (a user and password end with `@` before the host); expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://h:0/d",
        expect![[
            r#"error: invalid database uri `postgresql://h:0/d`: the port is not a number from 1 to 65535 (a user and password end with `@` before the host); expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://h:65536/d",
        expect![[
            r#"error: invalid database uri `postgresql://h:65536/d`: the port is not a number from 1 to 65535 (a user and password end with `@` before the host); expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://u:p@ss@h/d",
        expect![[
            r#"error: invalid database uri `postgresql://u:***@h/d`: the host has an `@`: percent-encode `@` as %40 in the user name or password; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://[::1/d",
        expect![[
            r#"error: invalid database uri `postgresql://[:***/d`: an IPv6 host opened with `[` is not closed with `]`; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://[]/d",
        expect![[
            r#"error: invalid database uri `postgresql://[]/d`: the host has whitespace, a control character or a bracket; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://[::1]x/d",
        expect![[
            r#"error: invalid database uri `postgresql://[::1]x/d`: unexpected text after the host: only `:port`, `/database` or `?options` may follow it; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql://h st/d",
        expect![[
            r#"error: invalid database uri `postgresql://h st/d`: the host has whitespace, a control character or a bracket; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql+psycopg3://h/d",
        expect![[
            r#"error: invalid database uri `postgresql+psycopg3://h/d`: unsupported driver `psycopg3`: use one of psycopg2, psycopg, psycopg2cffi, pg8000, asyncpg or no `+driver` at all; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql+://h/d",
        expect![[
            r#"error: invalid database uri `postgresql+://h/d`: no driver name after `+`; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "postgresql+psycopg2+x://h/d",
        expect![[
            r#"error: invalid database uri `postgresql+psycopg2+x://h/d`: unsupported driver `psycopg2+x`: use one of psycopg2, psycopg, psycopg2cffi, pg8000, asyncpg or no `+driver` at all; expected postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "mysql+pg8000://h/d",
        expect![[
            r#"error: invalid database uri `mysql+pg8000://h/d`: unsupported driver `pg8000`: use one of mysqldb, pymysql, mysqlconnector, mariadbconnector, asyncmy, aiomysql, cymysql or no `+driver` at all; expected mysql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (mariadb:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "mysql://h/d?ssl_mode",
        expect![[
            r#"error: invalid database uri `mysql://h/d?ssl_mode`: query option `ssl_mode` has no value: write `ssl_mode=value`; expected mysql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (mariadb:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
    check(
        "mysql://h/d?we+ird%3Akey",
        expect![[
            r#"error: invalid database uri `mysql://h/d?we+ird%3Akey`: a query option has no value: write `name=value`; expected mysql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (mariadb:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]"#
        ]],
    );
}

#[test]
fn dialect_errors() {
    check(
        "oracle://scott:tiger@h/d",
        expect![[
            r#"error: unsupported database dialect `oracle` in uri `oracle://scott:***@h/d`: use one of sqlite, postgresql, postgres, mysql, mariadb (optionally with a `+driver` suffix)"#
        ]],
    );
    check(
        "PostgreSQL://h/d",
        expect![[
            r#"error: unsupported database dialect `PostgreSQL` in uri `PostgreSQL://h/d`: use one of sqlite, postgresql, postgres, mysql, mariadb (optionally with a `+driver` suffix)"#
        ]],
    );
    check(
        "p-q://h/d",
        expect![[
            r#"error: invalid database uri `***://h/d`: the scheme may only have ASCII letters, digits and `_`, and one `+` before the driver; expected dialect[+driver]://... with dialect one of sqlite, postgresql, postgres, mysql, mariadb, such as sqlite:///relative/path.db or postgresql://user:password@host:5432/database"#
        ]],
    );
    check(
        "://h/d",
        expect![[
            r#"error: invalid database uri `://h/d`: the scheme may only have ASCII letters, digits and `_`, and one `+` before the driver; expected dialect[+driver]://... with dialect one of sqlite, postgresql, postgres, mysql, mariadb, such as sqlite:///relative/path.db or postgresql://user:password@host:5432/database"#
        ]],
    );
    check(
        "postgresql:/h/d",
        expect![[
            r#"error: invalid database uri `postgresql:/h/d`: no `://` after the dialect; expected dialect[+driver]://... with dialect one of sqlite, postgresql, postgres, mysql, mariadb, such as sqlite:///relative/path.db or postgresql://user:password@host:5432/database"#
        ]],
    );
    check(
        "",
        expect![[
            r#"error: invalid database uri ``: no `://` after the dialect; expected dialect[+driver]://... with dialect one of sqlite, postgresql, postgres, mysql, mariadb, such as sqlite:///relative/path.db or postgresql://user:password@host:5432/database"#
        ]],
    );
    check(
        "relative.db",
        expect![[
            r#"error: invalid database uri `relative.db`: no `://` after the dialect; expected dialect[+driver]://... with dialect one of sqlite, postgresql, postgres, mysql, mariadb, such as sqlite:///relative/path.db or postgresql://user:password@host:5432/database"#
        ]],
    );
}

/// Every error names the problem and the accepted forms of the dialect, or the supported dialects.
#[test]
fn errors_name_the_accepted_forms() {
    let cases = [
        ("sqlite://host/x.db", Some(Backend::Sqlite)),
        ("sqlite:///x.db?a", Some(Backend::Sqlite)),
        ("postgresql://h:x/d", Some(Backend::Postgres)),
        ("postgres+nope://h/d", Some(Backend::Postgres)),
        ("mysql://[h/d", Some(Backend::Mysql)),
        ("mariadb://h/d?a=1&a=2", Some(Backend::Mysql)),
        ("mssql://h/d", None),
        ("no-scheme", None),
    ];
    for (uri, backend) in cases {
        let error = DatabaseUri::parse(uri).unwrap_err();
        let message = error.to_string();
        match backend {
            Some(backend) => {
                assert!(
                    matches!(error, Error::InvalidUri { .. }),
                    "{uri}: {error:?}"
                );
                assert!(message.contains(backend.uri_forms()), "{uri}: {message}");
            }
            None => assert!(
                message.contains("sqlite, postgresql, postgres, mysql, mariadb"),
                "{uri}: {message}"
            ),
        }
        assert!(!message.ends_with('.'), "{message}");
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
    }
}
