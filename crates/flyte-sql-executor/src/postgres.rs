//! PostgreSQL through the pure-Rust `tokio-postgres` client (rust-postgres): connecting,
//! describing a query by preparing it, binding typed values and streaming rows.
//!
//! Why rust-postgres and not diesel's libpq backend: diesel exposes neither the result metadata
//! of a prepared statement (so describing needed a temporary view, impossible on a hot standby)
//! nor the SQLSTATE of an error (so faults were classified by message), and the workspace
//! forbids the `unsafe` that reaching libpq directly would take. rust-postgres gives both: a
//! prepared [`tokio_postgres::Statement`] lists its columns with type and type modifier, and every
//! server error carries its SQLSTATE ([`tokio_postgres::error::SqlState`]).
//!
//! The client is asynchronous; [`PgClient`] drives it on a current-thread runtime of its own,
//! one `block_on` per operation, so a whole result streams inside one call. (The synchronous
//! `postgres` wrapper enters its runtime once per row, which was a third of the fetching
//! thread's time.)
//!
//! Values arrive in PostgreSQL's binary format and are decoded, by the type the prepared
//! statement reported for their column, straight from the client's row buffer into [`Datum`]s.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use flyte_sql_config::PostgresOptions;
use flyte_sql_model::{PrimitiveType, Value};
use flyte_sql_template::Statement;
use futures_util::{StreamExt, TryStreamExt};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use tokio_postgres::{Client, Column};

use crate::connection::DEFAULT_CONNECT_TIMEOUT;
use crate::datum::{Datum, MICROS_PER_DAY};
use crate::error::{DatabaseFailure, Error, Result};
use crate::stream::{Described, Hint, RowSink};
use crate::types::ColumnType;

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

// ---------------------------------------------------------------------------------------------
// Connecting

/// How TLS is negotiated: libpq's `sslmode` and what verifies the server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TlsVerification {
    /// Encrypt without checking the certificate (`prefer`, `require` without a root
    /// certificate), as libpq does.
    None,
    /// The certificate must chain to the root certificates (`verify-ca`, or `require` with
    /// `sslrootcert`).
    Chain,
    /// The chain, and the certificate must name the host (`verify-full`).
    ChainAndName,
}

/// Everything a connection is made from, checked: the client's configuration, the TLS setup
/// and the whole-connection deadline.
struct ConnectPlan {
    config: tokio_postgres::Config,
    tls: Option<TlsPlan>,
    timeout: Duration,
}

#[derive(Debug, Clone, Default)]
struct TlsPlan {
    verification: Option<TlsVerification>,
    root_certificates: Option<String>,
    client_certificate: Option<PathBuf>,
    client_key: Option<PathBuf>,
    sni: Option<bool>,
    min_tls13: bool,
    max_tls12: bool,
}

fn refused(name: &str, problem: impl Into<String>) -> Error {
    Error::ConnectArg {
        name: name.to_owned(),
        problem: problem.into(),
    }
}

/// The libpq keywords rust-postgres has no equivalent for: refused by name at connect time
/// (docs/deviations.md lists them).
fn unsupported(name: &str, what: &str) -> Error {
    refused(
        name,
        format!(
            "is not supported: flyte-sql connects to PostgreSQL without libpq, and {what}; remove it from the connection"
        ),
    )
}

fn whole_seconds(name: &str, value: &str) -> Result<Duration> {
    value.parse::<u64>().map(Duration::from_secs).map_err(|_| {
        refused(
            name,
            format!("must be a whole number of seconds, not `{value}`"),
        )
    })
}

fn libpq_flag(name: &str, value: &str) -> Result<bool> {
    match value {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(refused(name, format!("must be 1 or 0, not `{other}`"))),
    }
}

/// Checks the options against what rust-postgres can do and builds the client configuration.
fn plan(options: &PostgresOptions) -> Result<ConnectPlan> {
    let mut config = tokio_postgres::Config::new();
    let mut timeout = DEFAULT_CONNECT_TIMEOUT;
    let mut tls = TlsPlan::default();
    let mut ssl_mode = "prefer";
    let mut application_name = None;
    let mut fallback_application_name = None;
    let mut passfile = None;
    let mut hostaddrs = Vec::new();
    for (name, value) in &options.parameters {
        let value = value.as_str();
        match *name {
            "hostaddr" => {
                for address in value.split(',') {
                    hostaddrs.push(address.trim().parse::<std::net::IpAddr>().map_err(|_| {
                        refused(
                            name,
                            format!("must be numeric IP addresses, not `{address}`"),
                        )
                    })?);
                }
            }
            "connect_timeout" => {
                // libpq: zero means no limit, and anything below two seconds counts as two.
                let seconds = whole_seconds(name, value)?;
                timeout = match seconds.as_secs() {
                    0 => Duration::MAX,
                    1 => Duration::from_secs(2),
                    _ => seconds,
                };
            }
            "client_encoding" => {
                let utf8 = value.replace(['-', '_'], "");
                if !utf8.eq_ignore_ascii_case("utf8") && !utf8.eq_ignore_ascii_case("unicode") {
                    return Err(refused(
                        name,
                        format!(
                            "must be UTF8, not `{value}`: flyte-sql reads text as UTF-8 (the server converts from the database's encoding)"
                        ),
                    ));
                }
            }
            "options" => {
                config.options(value);
            }
            "application_name" => application_name = Some(value),
            "fallback_application_name" => fallback_application_name = Some(value),
            "keepalives" => {
                config.keepalives(libpq_flag(name, value)?);
            }
            "keepalives_idle" => {
                config.keepalives_idle(whole_seconds(name, value)?);
            }
            "keepalives_interval" => {
                config.keepalives_interval(whole_seconds(name, value)?);
            }
            "keepalives_count" => {
                config.keepalives_retries(value.parse().map_err(|_| {
                    refused(name, format!("must be a whole number, not `{value}`"))
                })?);
            }
            "tcp_user_timeout" => {
                let millis = value.parse::<u64>().map_err(|_| {
                    refused(name, format!("must be whole milliseconds, not `{value}`"))
                })?;
                if millis > 0 {
                    config.tcp_user_timeout(Duration::from_millis(millis));
                }
            }
            "sslmode" => ssl_mode = value,
            // libpq ignores it since PostgreSQL 14: OpenSSL no longer compresses.
            "sslcompression" => {
                libpq_flag(name, value)?;
            }
            "sslcert" => tls.client_certificate = Some(PathBuf::from(value)),
            "sslkey" => tls.client_key = Some(PathBuf::from(value)),
            "sslrootcert" => tls.root_certificates = Some(value.to_owned()),
            "sslsni" => tls.sni = Some(libpq_flag(name, value)?),
            "ssl_min_protocol_version" => match value {
                "TLSv1" | "TLSv1.1" | "TLSv1.2" => {}
                _ => tls.min_tls13 = true,
            },
            "ssl_max_protocol_version" => match value {
                "TLSv1.3" => {}
                "TLSv1.2" => tls.max_tls12 = true,
                _ => {
                    return Err(refused(
                        name,
                        format!(
                            "`{value}` is not supported: flyte-sql speaks TLS 1.2 and 1.3 only"
                        ),
                    ));
                }
            },
            "passfile" => passfile = Some(PathBuf::from(value)),
            "channel_binding" => {
                config.channel_binding(match value {
                    "disable" => tokio_postgres::config::ChannelBinding::Disable,
                    "require" => tokio_postgres::config::ChannelBinding::Require,
                    _ => tokio_postgres::config::ChannelBinding::Prefer,
                });
            }
            "target_session_attrs" => {
                config.target_session_attrs(match value {
                    "any" => tokio_postgres::config::TargetSessionAttrs::Any,
                    "read-write" => tokio_postgres::config::TargetSessionAttrs::ReadWrite,
                    "read-only" => tokio_postgres::config::TargetSessionAttrs::ReadOnly,
                    _ => {
                        return Err(refused(
                            name,
                            format!(
                                "`{value}` is not supported: use any, read-write or read-only (flyte-sql connects without libpq)"
                            ),
                        ));
                    }
                });
            }
            // Without GSSAPI, libpq's default `prefer` connects unencrypted too.
            "gssencmode" if value != "require" => {}
            "gssencmode" => return Err(unsupported(name, "it has no GSSAPI encryption")),
            "krbsrvname" => return Err(unsupported(name, "it has no Kerberos (GSSAPI) login")),
            "service" => {
                return Err(unsupported(
                    name,
                    "it reads no pg_service.conf: put the service's settings in the URI",
                ));
            }
            "requirepeer" => {
                return Err(unsupported(
                    name,
                    "it cannot check the Unix-socket server's user",
                ));
            }
            "sslcrl" | "sslcrldir" => {
                return Err(unsupported(
                    name,
                    "it checks no certificate revocation lists",
                ));
            }
            other => return Err(unsupported(other, "it does not know this keyword")),
        }
    }

    tls.verification = match (ssl_mode, tls.root_certificates.is_some()) {
        ("disable", _) => None,
        ("verify-full", _) => Some(TlsVerification::ChainAndName),
        ("verify-ca", _) | ("require", true) => Some(TlsVerification::Chain),
        // `allow` and `prefer` take TLS when the server offers it, without checking the
        // certificate, and plaintext otherwise (rust-postgres tries TLS first for both).
        _ => Some(TlsVerification::None),
    };
    config.ssl_mode(match ssl_mode {
        "disable" => tokio_postgres::config::SslMode::Disable,
        "require" | "verify-ca" | "verify-full" => tokio_postgres::config::SslMode::Require,
        _ => tokio_postgres::config::SslMode::Prefer,
    });

    let hosts: Vec<&str> = options
        .host
        .as_deref()
        .map(|hosts| hosts.split(',').map(str::trim).collect())
        .unwrap_or_default();
    for host in &hosts {
        config.host(*host);
    }
    if hosts.is_empty() && hostaddrs.is_empty() {
        // libpq's default: the local Unix socket, in Debian's directory or else upstream's.
        let directory = ["/var/run/postgresql", "/tmp"]
            .into_iter()
            .find(|directory| Path::new(directory).is_dir())
            .unwrap_or("/tmp");
        config.host(directory);
    }
    for address in &hostaddrs {
        config.hostaddr(*address);
        // TLS needs a server name: without `host`, the address is the name, as in libpq.
        if hosts.is_empty() {
            config.host(address.to_string());
        }
    }
    if let Some(port) = options.port {
        config.port(port);
    }
    let user = match &options.user {
        Some(user) => user.clone(),
        // libpq's default is the operating-system user.
        None => std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .map_err(|_| {
                refused(
                    "user",
                    "is not set and the operating-system user is unknown: put the user in the URI",
                )
            })?,
    };
    config.user(&user);
    let dbname = options.dbname.clone().unwrap_or_else(|| user.clone());
    config.dbname(&dbname);
    match &options.password {
        Some(password) => {
            config.password(password.expose());
        }
        None => {
            let host = hosts.first().copied();
            if let Some(password) =
                password_from_file(passfile.as_deref(), host, options.port, &dbname, &user)
            {
                config.password(password);
            }
        }
    }
    if let Some(name) = application_name.or(fallback_application_name) {
        config.application_name(name);
    }
    if timeout != Duration::MAX {
        config.connect_timeout(timeout);
    }
    // libpq ignores sslmode on Unix sockets, which carry no TLS.
    let unix_sockets_only = hostaddrs.is_empty() && hosts.iter().all(|host| host.starts_with('/'));
    if unix_sockets_only {
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        tls.verification = None;
    }
    let tls = tls.verification.is_some().then_some(tls);
    Ok(ConnectPlan {
        config,
        tls,
        timeout,
    })
}

/// The password for the connection from libpq's password file (`passfile`, or else
/// `~/.pgpass`): `host:port:database:user:password` lines, `*` matching anything, `\` escaping.
/// Like libpq, a default file readable by group or others is ignored.
fn password_from_file(
    passfile: Option<&Path>,
    host: Option<&str>,
    port: Option<u16>,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let path = match passfile {
        Some(path) => path.to_owned(),
        None => {
            let path = PathBuf::from(std::env::var_os("HOME")?).join(".pgpass");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if std::fs::metadata(&path).ok()?.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "ignoring a password file that group or others can read");
                    return None;
                }
            }
            path
        }
    };
    let text = std::fs::read_to_string(path).ok()?;
    // A Unix-socket directory matches `localhost`, as in libpq.
    let host = match host {
        Some(host) if !host.starts_with('/') => host,
        _ => "localhost",
    };
    let port = port.unwrap_or(5432).to_string();
    let wanted = [host, port.as_str(), dbname, user];
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let fields = split_passfile_line(line);
            let [fields @ .., password] = fields.as_slice() else {
                return None;
            };
            (fields.len() == 4
                && fields
                    .iter()
                    .zip(wanted)
                    .all(|(field, wanted)| field == "*" || field == wanted))
            .then(|| password.clone())
        })
}

fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// Connects and sets the session's statement timeout. The whole connection (name lookup,
/// TCP, TLS, login) must finish within the connect timeout, as libpq's `connect_timeout`.
/// A connection: tokio-postgres's client, and its connection task on a current-thread runtime
/// that runs only while an operation waits in [`PgClient::block_on`].
pub(crate) struct PgClient {
    // Declared first, so it is dropped before the driver: the connection task then sees its
    // client gone and says goodbye to the server (Terminate) while the driver finishes it.
    client: Client,
    driver: Driver,
}

struct Driver {
    runtime: tokio::runtime::Runtime,
    connection: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            // The timer is made inside the runtime, which owns the clock it needs.
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(1), connection).await });
        }
    }
}

impl PgClient {
    /// Whether the connection is known to be gone (the pool discards it).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs `operation` to completion, the connection task alongside it.
    fn block_on<F: std::future::Future>(&self, operation: F) -> F::Output {
        self.driver.runtime.block_on(operation)
    }
}

pub(crate) fn connect(options: &PostgresOptions, redacted_uri: &str) -> Result<Box<PgClient>> {
    let plan = plan(options)?;
    let connect_error = |error: &tokio_postgres::Error| {
        if has_io_error(error, io::ErrorKind::TimedOut) {
            return Error::ConnectTimeout {
                uri: redacted_uri.to_owned(),
                timeout: plan.timeout,
            };
        }
        let (failure, message) = classify(error);
        Error::Connect {
            uri: redacted_uri.to_owned(),
            message,
            transient: failure_is_system(failure) && !is_tls_rejection(error),
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|source| Error::Connect {
            uri: redacted_uri.to_owned(),
            message: format!("cannot start the client's runtime: {source}"),
            transient: true,
        })?;
    let tls = match &plan.tls {
        Some(tls) => Some(tls_connector(tls)?),
        None => None,
    };
    // The client's own socket timeout bounds only the TCP connect; this deadline bounds the
    // rest too (a server that accepts and then says nothing).
    let connecting = async {
        match tls {
            Some(tls) => {
                let (client, connection) = plan.config.connect(tls).await?;
                Ok((client, runtime.spawn(drive(connection))))
            }
            None => {
                let (client, connection) = plan.config.connect(tokio_postgres::NoTls).await?;
                Ok((client, runtime.spawn(drive(connection))))
            }
        }
    };
    let connected = if plan.timeout == Duration::MAX {
        Ok(runtime.block_on(connecting))
    } else {
        runtime.block_on(async { tokio::time::timeout(plan.timeout, connecting).await })
    };
    let (client, connection) = match connected {
        Ok(connected) => connected.map_err(|error| connect_error(&error))?,
        Err(_elapsed) => {
            return Err(Error::ConnectTimeout {
                uri: redacted_uri.to_owned(),
                timeout: plan.timeout,
            });
        }
    };
    let client = PgClient {
        client,
        driver: Driver {
            runtime,
            connection: Some(connection),
        },
    };
    let timeout = options.statement_timeout.unwrap_or(Duration::ZERO);
    client
        .block_on(
            client
                .client
                .batch_execute(&format!("SET statement_timeout = {}", timeout.as_millis())),
        )
        .map_err(|error| database_error("connect", &error))?;
    Ok(Box::new(client))
}

/// The connection task: it ends when the client is dropped or the connection fails, and the
/// client's next operation then reports the connection closed. Notices go to the log.
async fn drive<S, T>(mut connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut messages =
        futures_util::stream::poll_fn(move |context| connection.poll_message(context));
    while let Some(message) = messages.next().await {
        match message {
            Ok(tokio_postgres::AsyncMessage::Notice(notice)) => {
                tracing::info!(
                    severity = notice.severity(),
                    "server notice: {}",
                    notice.message()
                );
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(error = %classify(&error).1, "the connection ended");
                return;
            }
        }
    }
}

/// Whether the client's connection is still usable, for the pool's checkout.
pub(crate) fn ping(client: &mut PgClient) -> Result<()> {
    client
        .block_on(client.client.simple_query(""))
        .map(drop)
        .map_err(|error| database_error("connection check", &error))
}

// ---------------------------------------------------------------------------------------------
// TLS

fn tls_connector(plan: &TlsPlan) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match (plan.min_tls13, plan.max_tls12) {
        (true, true) => {
            return Err(refused(
                "ssl_min_protocol_version",
                "is above ssl_max_protocol_version",
            ));
        }
        (true, false) => &[&rustls::version::TLS13],
        (false, true) => &[&rustls::version::TLS12],
        (false, false) => rustls::ALL_VERSIONS,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|error| refused("ssl_min_protocol_version", error.to_string()))?;
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match plan.verification {
        Some(TlsVerification::Chain | TlsVerification::ChainAndName) => {
            let roots = root_certificates(plan.root_certificates.as_deref())?;
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|error| refused("sslrootcert", error.to_string()))?;
            if plan.verification == Some(TlsVerification::Chain) {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
        _ => Arc::new(Unverified(provider.clone())),
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&plan.client_certificate, &plan.client_key) {
        (Some(certificate), Some(key)) => {
            use rustls::pki_types::pem::PemObject;
            let chain = rustls::pki_types::CertificateDer::pem_file_iter(certificate)
                .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
                .map_err(|error| refused("sslcert", format!("cannot be read: {error}")))?;
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key)
                .map_err(|_| refused("sslkey", "cannot be read as a PEM private key"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| refused("sslcert", error.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err(refused("sslcert", "needs sslkey as well")),
        (None, Some(_)) => return Err(refused("sslkey", "needs sslcert as well")),
    };
    if let Some(sni) = plan.sni {
        config.enable_sni = sni;
    }
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The root certificates of `sslrootcert`: a PEM file, or `system` for the system's roots.
/// libpq's default file is `~/.postgresql/root.crt`.
fn root_certificates(sslrootcert: Option<&str>) -> Result<rustls::RootCertStore> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certificates = match sslrootcert {
        Some("system") => rustls_native_certs::load_native_certs().certs,
        _ => {
            let path = match sslrootcert {
                Some(path) => PathBuf::from(path),
                None => std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".postgresql/root.crt"))
                    .ok_or_else(|| {
                        refused("sslrootcert", "is needed to verify the server: give the CA certificate file, or `system`")
                    })?,
            };
            rustls::pki_types::CertificateDer::pem_file_iter(&path)
                .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
                .map_err(|error| {
                    refused(
                        "sslrootcert",
                        format!("cannot read {}: {error}", path.display()),
                    )
                })?
        }
    };
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(refused("sslrootcert", "holds no usable certificate"));
    }
    Ok(roots)
}

/// `verify-ca`: the certificate must chain to a root, whatever name it carries.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` and `prefer` without root certificates: encrypted, the certificate unchecked, as
/// libpq does (the handshake's signatures are still verified).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------------
// Faults, by what the database says (docs/faults.md)

/// What kind of failure a SQLSTATE is.
fn failure_of(code: &SqlState) -> DatabaseFailure {
    let code = code.code();
    match code {
        // statement_timeout, and pg_cancel_backend too: PostgreSQL gives both this one code.
        "57014" => DatabaseFailure::Timeout,
        // admin_shutdown (pg_terminate_backend), crash_shutdown, cannot_connect_now, and the
        // idle timeouts that end the session.
        "57P01" | "57P02" | "57P03" | "57P05" | "25P03" => DatabaseFailure::ConnectionLost,
        // lock_not_available: lock_timeout, NOWAIT.
        "55P03" => DatabaseFailure::Conflict,
        _ => match &code[..2] {
            "08" => DatabaseFailure::ConnectionLost,
            "40" => DatabaseFailure::Conflict,
            "53" | "57" | "58" | "XX" => DatabaseFailure::Server,
            "23" => DatabaseFailure::Constraint,
            _ => DatabaseFailure::Other,
        },
    }
}

fn failure_is_system(failure: DatabaseFailure) -> bool {
    !matches!(
        failure,
        DatabaseFailure::Constraint | DatabaseFailure::Other
    )
}

/// Whether the client's own connection failed (closed, reset, name lookup): a transient
/// system fault, whatever the host is called.
fn is_connection_failure(error: &tokio_postgres::Error) -> bool {
    error.is_closed() || io_error(error).is_some_and(|io| rustls_error(io).is_none())
}

fn io_error(error: &tokio_postgres::Error) -> Option<&io::Error> {
    std::error::Error::source(error).and_then(|source| source.downcast_ref::<io::Error>())
}

fn rustls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref().and_then(|inner| inner.downcast_ref())
}

fn has_io_error(error: &tokio_postgres::Error, kind: io::ErrorKind) -> bool {
    io_error(error).is_some_and(|io| io.kind() == kind)
}

/// A server certificate rustls refused: a configuration mistake, not a passing fault.
fn is_tls_rejection(error: &tokio_postgres::Error) -> bool {
    io_error(error).is_some_and(|io| rustls_error(io).is_some())
}

/// The failure and the message of a client error: the server's message with its SQLSTATE, or
/// the client's own with its causes.
fn classify(error: &tokio_postgres::Error) -> (DatabaseFailure, String) {
    if let Some(db) = error.as_db_error() {
        let mut message = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        // Not the DETAIL: it quotes row values (`Key (id)=(42) already exists`), which may be
        // bind values, and messages carry none.
        if let Some(hint) = db.hint() {
            message.push_str(&format!("; HINT: {hint}"));
        }
        return (failure_of(db.code()), message);
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let failure = if is_connection_failure(error) {
        DatabaseFailure::ConnectionLost
    } else {
        DatabaseFailure::Other
    };
    (failure, message)
}

/// The crate's error for a failed step, classified by SQLSTATE and the client's connection
/// state.
pub(crate) fn database_error(step: &'static str, error: &tokio_postgres::Error) -> Error {
    let (failure, message) = classify(error);
    Error::Database {
        step,
        failure,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Binds

/// The PostgreSQL type each bind is prepared with: the template's `$n` is `binds[n - 1]`.
fn bind_type(value: &Value) -> Type {
    match value.primitive_type() {
        PrimitiveType::Integer => Type::INT8,
        PrimitiveType::Float => Type::FLOAT8,
        PrimitiveType::String => Type::TEXT,
        PrimitiveType::Boolean => Type::BOOL,
        PrimitiveType::Datetime => Type::TIMESTAMPTZ,
        PrimitiveType::Duration => Type::INTERVAL,
    }
}

/// One bind value in PostgreSQL's binary format, for the type [`bind_type`] gave it.
#[derive(Debug)]
struct BindValue<'a>(&'a Value);

impl ToSql for BindValue<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null(_) => return Ok(IsNull::Yes),
            Value::Integer(value) => out.extend_from_slice(&value.to_be_bytes()),
            Value::Float(value) => out.extend_from_slice(&value.to_be_bytes()),
            Value::String(value) => out.extend_from_slice(value.as_bytes()),
            Value::Boolean(value) => out.extend_from_slice(&[u8::from(*value)]),
            Value::Datetime(value) => {
                let micros = value
                    .timestamp_micros()
                    .checked_sub(PG_EPOCH_MICROS)
                    .ok_or("the datetime is out of PostgreSQL's range")?;
                out.extend_from_slice(&micros.to_be_bytes());
            }
            Value::Duration(value) => {
                let micros = value
                    .num_microseconds()
                    .ok_or("the duration is out of PostgreSQL's interval range")?;
                // Microseconds, then zero days and zero months.
                out.extend_from_slice(&micros.to_be_bytes());
                out.extend_from_slice(&[0; 8]);
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::INT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::BOOL,
            Type::TIMESTAMPTZ,
            Type::INTERVAL,
        ]
        .contains(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Prepares the statement with its binds' types: one Parse of the one statement the template
/// proved it is. Preparing plans the query and runs nothing.
async fn prepare(
    client: &Client,
    statement: &Statement,
) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    let types: Vec<Type> = statement
        .binds
        .iter()
        .map(|bind| bind_type(&bind.value))
        .collect();
    client.prepare_typed(statement.body(), &types).await
}

fn bind_values(statement: &Statement) -> Vec<BindValue<'_>> {
    statement
        .binds
        .iter()
        .map(|bind| BindValue(&bind.value))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Describing

/// Names and types of the query's columns without running it: the statement is prepared
/// (Parse and Describe, nothing executes and no select list is evaluated) and its row
/// description gives each column's type and type modifier (numeric precision and scale). It
/// writes nothing, so it works in read-only sessions and on hot standbys alike. `None` when the
/// statement cannot be prepared; the query step then reports why.
pub(crate) fn describe(client: &mut PgClient, statement: &Statement) -> Option<Vec<Described>> {
    match client.block_on(prepare(&client.client, statement)) {
        Ok(prepared) => Some(
            prepared
                .columns()
                .iter()
                .map(|column| Described {
                    name: column.name().to_owned(),
                    hint: hint_for_column(column),
                })
                .collect(),
        ),
        Err(error) => {
            tracing::debug!(error = %classify(&error).1, "describe step: the statement cannot be prepared");
            None
        }
    }
}

/// How a column's values are decoded, from its type (a domain's base type).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decoder {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Bytes,
    Date,
    Time,
    Timestamp,
    TimestampUtc,
    Interval,
    Uuid,
    Jsonb,
    /// Text, and every type whose binary form is its text (json, xml, enums' labels).
    Text,
    /// `void` (what `pg_sleep()` and other procedures-as-functions return): no value at all.
    Void,
    /// No mapping: the type's name.
    Unsupported(String),
}

fn decoder_for(ty: &Type) -> Decoder {
    if let Kind::Domain(base) = ty.kind() {
        return decoder_for(base);
    }
    match ty.oid() {
        16 => Decoder::Bool,
        21 => Decoder::Int2,
        23 => Decoder::Int4,
        20 => Decoder::Int8,
        26 => Decoder::Oid,
        700 => Decoder::Float4,
        701 => Decoder::Float8,
        1700 => Decoder::Numeric,
        17 => Decoder::Bytes,
        1082 => Decoder::Date,
        1083 => Decoder::Time,
        1114 => Decoder::Timestamp,
        1184 => Decoder::TimestampUtc,
        1186 => Decoder::Interval,
        2950 => Decoder::Uuid,
        3802 => Decoder::Jsonb,
        25 | 1043 | 1042 | 19 | 18 | 114 | 142 => Decoder::Text,
        2278 => Decoder::Void,
        _ if matches!(ty.kind(), Kind::Enum(_)) => Decoder::Text,
        _ => Decoder::Unsupported(match ty.kind() {
            Kind::Array(element) => format!("{}[]", element.name()),
            _ => ty.name().to_owned(),
        }),
    }
}

fn hint_for_column(column: &Column) -> Hint {
    let ty = match decoder_for(column.type_()) {
        Decoder::Bool => ColumnType::Boolean,
        Decoder::Int2 => ColumnType::Int16,
        Decoder::Int4 => ColumnType::Int32,
        Decoder::Int8 => ColumnType::Int64,
        Decoder::Oid => ColumnType::UInt32,
        Decoder::Float4 => ColumnType::Float32,
        Decoder::Float8 => ColumnType::Float64,
        // numeric(p, s): the modifier is ((p << 16) | s) + 4; unconstrained numeric has none.
        Decoder::Numeric if column.type_modifier() >= 4 => {
            let modifier = column.type_modifier() - 4;
            ColumnType::decimal_or_float(((modifier >> 16) & 0xffff) as u32, modifier & 0xffff)
        }
        Decoder::Numeric => ColumnType::Float64,
        Decoder::Bytes => ColumnType::Binary,
        Decoder::Date => ColumnType::Date,
        Decoder::Time => ColumnType::Time,
        Decoder::Timestamp => ColumnType::Timestamp,
        Decoder::TimestampUtc => ColumnType::TimestampUtc,
        Decoder::Interval => ColumnType::Duration,
        Decoder::Uuid | Decoder::Jsonb | Decoder::Text => ColumnType::Text,
        Decoder::Void => ColumnType::Null,
        Decoder::Unsupported(type_name) => {
            return Hint::Unsupported {
                type_name,
                suggestion: "text",
            };
        }
    };
    Hint::Known(ty)
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A value's bytes as the server sent them, whatever its type: the row decoder reads them
/// without a copy.
struct RawValue<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawValue<'a> {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(raw))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

fn be_i16(bytes: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be_i32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be_i64(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Decodes one binary-format value of a column. Inlined into the row loop, with the column
/// builder's append: the value goes to its builder without being passed through memory.
#[inline(always)]
fn decode<'v>(
    column: &str,
    row: u64,
    decoder: &Decoder,
    bytes: &'v [u8],
    uuid: &'v mut [u8; 36],
) -> Result<Datum<'v>> {
    let malformed = || Error::Conversion {
        column: column.to_owned(),
        row,
        problem: format!("malformed {decoder:?} value ({} bytes)", bytes.len()),
    };
    let infinite = || {
        Error::Conversion {
        column: column.to_owned(),
        row,
        problem: "infinite dates and timestamps have no Arrow representation: filter them out or cast to text".to_owned(),
    }
    };
    let datum = match decoder {
        Decoder::Bool => Datum::Bool(*bytes.first().ok_or_else(malformed)? != 0),
        Decoder::Int2 => Datum::Int(i64::from(be_i16(bytes, 0).ok_or_else(malformed)?)),
        Decoder::Int4 => Datum::Int(i64::from(be_i32(bytes, 0).ok_or_else(malformed)?)),
        Decoder::Int8 => Datum::Int(be_i64(bytes, 0).ok_or_else(malformed)?),
        Decoder::Oid => Datum::UInt(u64::from(be_i32(bytes, 0).ok_or_else(malformed)? as u32)),
        Decoder::Float4 => Datum::Float(f64::from(f32::from_bits(
            be_i32(bytes, 0).ok_or_else(malformed)? as u32,
        ))),
        Decoder::Float8 => Datum::Float(f64::from_bits(
            be_i64(bytes, 0).ok_or_else(malformed)? as u64
        )),
        Decoder::Numeric => decode_numeric(bytes).ok_or_else(|| Error::Conversion {
            column: column.to_owned(),
            row,
            problem:
                "numeric value does not fit a 128-bit decimal: cast it to double precision or text"
                    .to_owned(),
        })?,
        Decoder::Bytes => Datum::Bytes(bytes),
        Decoder::Date => {
            let days = be_i32(bytes, 0).ok_or_else(malformed)?;
            if days == i32::MAX || days == i32::MIN {
                return Err(infinite());
            }
            Datum::Date(days + PG_EPOCH_DAYS)
        }
        Decoder::Time => Datum::Time(be_i64(bytes, 0).ok_or_else(malformed)?),
        Decoder::Timestamp | Decoder::TimestampUtc => {
            let micros = be_i64(bytes, 0).ok_or_else(malformed)?;
            if micros == i64::MAX || micros == i64::MIN {
                return Err(infinite());
            }
            let micros = micros + PG_EPOCH_MICROS;
            if *decoder == Decoder::Timestamp {
                Datum::Timestamp(micros)
            } else {
                Datum::TimestampUtc(micros)
            }
        }
        Decoder::Interval => {
            let micros = be_i64(bytes, 0).ok_or_else(malformed)?;
            let days = i64::from(be_i32(bytes, 8).ok_or_else(malformed)?);
            let months = i64::from(be_i32(bytes, 12).ok_or_else(malformed)?);
            // A month counts as 30 days, as PostgreSQL's own `extract(epoch from interval)`.
            Datum::Duration(micros + (days + 30 * months) * MICROS_PER_DAY)
        }
        Decoder::Uuid => {
            let raw: &[u8; 16] = bytes.try_into().map_err(|_| malformed())?;
            format_uuid(raw, uuid);
            Datum::Text(std::str::from_utf8(uuid).map_err(|_| malformed())?)
        }
        // jsonb's binary form is a version byte, then the text.
        Decoder::Jsonb => Datum::UncheckedText(bytes.get(1..).ok_or_else(malformed)?),
        // Every value a text column can hold comes out unchanged, control characters included;
        // the column's builder checks that it is UTF-8, a batch at a time.
        Decoder::Text => Datum::UncheckedText(bytes),
        Decoder::Void => Datum::Null,
        Decoder::Unsupported(type_name) => {
            return Err(Error::UnsupportedType {
                column: column.to_owned(),
                type_name: type_name.clone(),
                suggestion: "text",
            });
        }
    };
    Ok(datum)
}

fn format_uuid(raw: &[u8; 16], out: &mut [u8; 36]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut position = 0;
    for (index, byte) in raw.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out[position] = b'-';
            position += 1;
        }
        out[position] = HEX[usize::from(byte >> 4)];
        out[position + 1] = HEX[usize::from(byte & 0x0f)];
        position += 2;
    }
}

/// Decodes PostgreSQL's binary NUMERIC (base-10000 digits) into an exact decimal; NaN and the
/// infinities become floats. `None` when it does not fit 128 bits.
fn decode_numeric(bytes: &[u8]) -> Option<Datum<'static>> {
    let count = usize::try_from(be_i16(bytes, 0)?).ok()?;
    let weight = i32::from(be_i16(bytes, 2)?);
    let sign = be_i16(bytes, 4)? as u16;
    let display_scale = i32::from(be_i16(bytes, 6)?);
    match sign {
        0xC000 => return Some(Datum::Float(f64::NAN)),
        0xD000 => return Some(Datum::Float(f64::INFINITY)),
        0xF000 => return Some(Datum::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let mut unscaled: i128 = 0;
    for index in 0..count {
        let digit = be_i16(bytes, 8 + 2 * index)?;
        unscaled = unscaled
            .checked_mul(10_000)?
            .checked_add(i128::from(digit))?;
    }
    // The digits so far are worth 10000^(weight - count + 1); bring them to the display scale.
    let exponent = 4 * (weight - i32::try_from(count).ok()? + 1) + display_scale;
    let unscaled = if exponent >= 0 {
        unscaled.checked_mul(10_i128.checked_pow(u32::try_from(exponent).ok()?)?)?
    } else {
        unscaled / 10_i128.checked_pow(u32::try_from(-exponent).ok()?)?
    };
    let unscaled = if sign == 0x4000 { -unscaled } else { unscaled };
    Some(Datum::Decimal {
        unscaled,
        scale: u8::try_from(display_scale)
            .ok()
            .filter(|scale| *scale <= 38)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Running

/// Streams the result of `statement` into `sink`. The client reads the rows as the server
/// sends them, with backpressure, so at most a batch of rows (in the sink) and the socket's
/// buffers are in memory.
pub(crate) fn stream(
    client: &mut PgClient,
    statement: &Statement,
    mut sink: RowSink,
    on_row: &mut dyn FnMut(u64),
) -> (RowSink, Result<()>) {
    let streamed = client.block_on(stream_into(&client.client, statement, &mut sink, on_row));
    (sink, streamed)
}

async fn stream_into(
    client: &Client,
    statement: &Statement,
    sink: &mut RowSink,
    on_row: &mut dyn FnMut(u64),
) -> Result<()> {
    let prepared = prepare(client, statement)
        .await
        .map_err(|error| database_error("query", &error))?;
    let columns: Vec<(String, Decoder)> = prepared
        .columns()
        .iter()
        .map(|column| (column.name().to_owned(), decoder_for(column.type_())))
        .collect();
    if sink.needs_names() {
        sink.set_names(columns.iter().map(|(name, _)| name.clone()).collect())?;
    }
    if copyable(statement) {
        return copy_into(client, statement, &columns, sink, on_row).await;
    }
    let binds = bind_values(statement);
    let rows = client
        .query_raw(&prepared, binds.iter())
        .await
        .map_err(|error| database_error("query", &error))?;
    let mut rows = std::pin::pin!(rows);
    let mut uuid = [0_u8; 36];
    let mut count = 0;
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|error| database_error("query", &error))?
    {
        append_row(sink, &columns, &mut uuid, |index| {
            let value: Option<RawValue<'_>> = row
                .try_get(index)
                .map_err(|error| database_error("query", &error))?;
            Ok(value.map(|RawValue(bytes)| bytes))
        })?;
        count += 1;
        on_row(count);
    }
    Ok(())
}

/// Decodes one row into the sink, each column's value (`None` for NULL) from `value`: the same
/// for result rows and COPY tuples, whose values share the binary format.
fn append_row<'v>(
    sink: &mut RowSink,
    columns: &[(String, Decoder)],
    uuid: &mut [u8; 36],
    mut value: impl FnMut(usize) -> Result<Option<&'v [u8]>>,
) -> Result<()> {
    let row_number = sink.row_number();
    for (index, (name, decoder)) in columns.iter().enumerate() {
        let datum = match value(index)? {
            None => Datum::Null,
            Some(bytes) => decode(name, row_number, decoder, bytes, uuid)?,
        };
        sink.append(index, datum)?;
    }
    sink.end_row()
}

/// Whether the statement can stream as `COPY (query) TO STDOUT (FORMAT binary)`, which skips
/// the client's per-row bookkeeping: COPY takes no parameters, and only a query (`SELECT`,
/// `WITH`, `VALUES`, `TABLE`) as its source. The statement was prepared as written before, so
/// the server has read it as one whole statement and parenthesising it cannot change it.
fn copyable(statement: &Statement) -> bool {
    statement.binds.is_empty()
        && statement.leading_keyword().is_some_and(|keyword| {
            ["select", "with", "values", "table"]
                .iter()
                .any(|query| keyword.eq_ignore_ascii_case(query))
        })
}

/// The signature that starts PostgreSQL's binary COPY format.
const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Streams the statement's rows through `COPY ... TO STDOUT (FORMAT binary)`. Each value has
/// the same binary form as in a result row, so it goes through the same [`decode`].
async fn copy_into(
    client: &Client,
    statement: &Statement,
    columns: &[(String, Decoder)],
    sink: &mut RowSink,
    on_row: &mut dyn FnMut(u64),
) -> Result<()> {
    // A newline first: the body may end in a `--` comment.
    let copy = format!("COPY ({}\n) TO STDOUT (FORMAT binary)", statement.body());
    let chunks = client
        .copy_out(copy.as_str())
        .await
        .map_err(|error| database_error("query", &error))?;
    let mut chunks = std::pin::pin!(chunks);
    let mut tuples = CopyTuples::new(columns.len());
    let mut uuid = [0_u8; 36];
    let mut count = 0;
    while let Some(chunk) = chunks
        .try_next()
        .await
        .map_err(|error| database_error("query", &error))?
    {
        tuples.push(chunk);
        while tuples.next_tuple()? {
            append_row(sink, columns, &mut uuid, |index| Ok(tuples.field(index)))?;
            count += 1;
            on_row(count);
        }
    }
    tuples.finish()
}

/// The tuples of PostgreSQL's binary COPY format, read from the chunks the server sends, which
/// need not end where a tuple does: a tuple is handed out once it is whole in the buffer.
#[derive(Debug)]
struct CopyTuples {
    buffer: Unread,
    /// Where the unread bytes start in `buffer`.
    start: usize,
    header_read: bool,
    trailer_read: bool,
    /// Each field of the current tuple: its bytes in `buffer`, or `None` for NULL.
    fields: Vec<Option<std::ops::Range<usize>>>,
    columns: usize,
}

/// The data not yet read. The server sends each tuple in a message of its own, so the data read
/// so far almost always ends where a tuple does, and the next chunk is read where it was
/// received; only a tuple cut across chunks is copied together.
#[derive(Debug)]
enum Unread {
    Received(Bytes),
    Joined(Vec<u8>),
}

impl Unread {
    fn bytes(&self) -> &[u8] {
        match self {
            Unread::Received(bytes) => bytes,
            Unread::Joined(bytes) => bytes,
        }
    }
}

impl CopyTuples {
    fn new(columns: usize) -> CopyTuples {
        CopyTuples {
            buffer: Unread::Received(Bytes::new()),
            start: 0,
            header_read: false,
            trailer_read: false,
            fields: Vec::with_capacity(columns),
            columns,
        }
    }

    /// Adds the next chunk, dropping the bytes already read.
    fn push(&mut self, chunk: Bytes) {
        let start = std::mem::take(&mut self.start);
        match &mut self.buffer {
            unread if start == unread.bytes().len() => *unread = Unread::Received(chunk),
            Unread::Joined(joined) => {
                joined.drain(..start);
                joined.extend_from_slice(&chunk);
            }
            Unread::Received(received) => {
                let mut joined = Vec::with_capacity(received.len() - start + chunk.len());
                joined.extend_from_slice(&received[start..]);
                joined.extend_from_slice(&chunk);
                self.buffer = Unread::Joined(joined);
            }
        }
    }

    /// Moves to the next whole tuple in the buffer: false when it needs more data or the
    /// trailer has been read.
    fn next_tuple(&mut self) -> Result<bool> {
        let unread = &self.buffer.bytes()[self.start..];
        if !self.header_read {
            // The signature, 32 bits of flags and the length of a header extension.
            let fixed = COPY_SIGNATURE.len() + 8;
            let Some(extension) = be_i32(unread, COPY_SIGNATURE.len() + 4) else {
                return Ok(false);
            };
            if !unread.starts_with(COPY_SIGNATURE) {
                return Err(malformed_copy("the binary COPY header is missing"));
            }
            let extension = usize::try_from(extension)
                .map_err(|_| malformed_copy("the binary COPY header is malformed"))?;
            if unread.len() < fixed + extension {
                return Ok(false);
            }
            self.start += fixed + extension;
            self.header_read = true;
            return self.next_tuple();
        }
        if self.trailer_read {
            return match unread.is_empty() {
                true => Ok(false),
                false => Err(malformed_copy("data follows the binary COPY trailer")),
            };
        }
        let Some(count) = be_i16(unread, 0) else {
            return Ok(false);
        };
        if count == -1 {
            self.start += 2;
            self.trailer_read = true;
            return self.next_tuple();
        }
        if usize::try_from(count).ok() != Some(self.columns) {
            return Err(malformed_copy(&format!(
                "a tuple has {count} fields where the query has {} columns",
                self.columns
            )));
        }
        self.fields.clear();
        let mut at = 2;
        for _ in 0..self.columns {
            let Some(length) = be_i32(unread, at) else {
                return Ok(false);
            };
            at += 4;
            // -1 is NULL; any other negative length is not PostgreSQL's.
            let Ok(length) = usize::try_from(length) else {
                if length != -1 {
                    return Err(malformed_copy("a field has a negative length"));
                }
                self.fields.push(None);
                continue;
            };
            if unread.len() < at + length {
                return Ok(false);
            }
            self.fields
                .push(Some(self.start + at..self.start + at + length));
            at += length;
        }
        self.start += at;
        Ok(true)
    }

    /// The current tuple's field `index`, `None` for NULL.
    #[inline]
    fn field(&self, index: usize) -> Option<&[u8]> {
        self.fields[index]
            .clone()
            .map(|range| &self.buffer.bytes()[range])
    }

    /// Checks that the data ended where the format does, with the trailer.
    fn finish(&self) -> Result<()> {
        if self.trailer_read {
            Ok(())
        } else {
            Err(malformed_copy(
                "the data ended before the binary COPY trailer",
            ))
        }
    }
}

fn malformed_copy(problem: &str) -> Error {
    Error::Database {
        step: "query",
        failure: DatabaseFailure::Other,
        message: format!("the server sent malformed COPY data: {problem}"),
    }
}

/// Runs a statement without output in a transaction; returns the rows it changed. Dropping
/// the transaction on failure rolls it back.
pub(crate) fn execute(client: &mut PgClient, statement: &Statement) -> Result<u64> {
    let PgClient { client, driver } = client;
    driver.runtime.block_on(async {
        let prepared = prepare(client, statement)
            .await
            .map_err(|error| database_error("statement", &error))?;
        let transaction = client
            .transaction()
            .await
            .map_err(|error| database_error("statement", &error))?;
        let binds = bind_values(statement);
        let params: Vec<&(dyn ToSql + Sync)> = binds
            .iter()
            .map(|bind| bind as &(dyn ToSql + Sync))
            .collect();
        let affected = transaction
            .execute(&prepared, &params)
            .await
            .map_err(|error| database_error("statement", &error))?;
        transaction
            .commit()
            .await
            .map_err(|error| database_error("commit", &error))?;
        Ok(affected)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(weight: i16, sign: u16, scale: i16, digits: &[i16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend((digits.len() as i16).to_be_bytes());
        bytes.extend(weight.to_be_bytes());
        bytes.extend(sign.to_be_bytes());
        bytes.extend(scale.to_be_bytes());
        for digit in digits {
            bytes.extend(digit.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn numeric_binary_decodes_exactly() {
        // 10.25 = 10 * 10000^0 + 2500 * 10000^-1
        assert_eq!(
            decode_numeric(&numeric(0, 0, 2, &[10, 2500])),
            Some(Datum::Decimal {
                unscaled: 1025,
                scale: 2
            })
        );
        // -123456789 = 1 * 10000^2 + 2345 * 10000 + 6789
        assert_eq!(
            decode_numeric(&numeric(2, 0x4000, 0, &[1, 2345, 6789])),
            Some(Datum::Decimal {
                unscaled: -123_456_789,
                scale: 0
            })
        );
        // 30000 = 3 * 10000^1, one digit.
        assert_eq!(
            decode_numeric(&numeric(1, 0, 0, &[3])),
            Some(Datum::Decimal {
                unscaled: 30_000,
                scale: 0
            })
        );
        assert!(
            matches!(decode_numeric(&numeric(0, 0xC000, 0, &[])), Some(Datum::Float(value)) if value.is_nan())
        );
    }

    #[test]
    fn uuids_format_in_canonical_form() {
        let mut out = [0_u8; 36];
        format_uuid(
            &[
                0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7,
            ],
            &mut out,
        );
        assert_eq!(
            std::str::from_utf8(&out),
            Ok("12345678-9abc-def0-0001-020304050607")
        );
    }

    #[test]
    fn text_keeps_every_control_character() {
        let value: Vec<u8> = (1..32).collect();
        let mut uuid = [0_u8; 36];
        let datum = decode("v", 1, &Decoder::Text, &value, &mut uuid).unwrap();
        assert_eq!(datum, Datum::UncheckedText(&value));
        assert_eq!(
            datum.checked(),
            Ok(Datum::Text(std::str::from_utf8(&value).unwrap()))
        );
    }

    /// Binary COPY data: the header (with a header extension), the tuples, the trailer.
    fn copy_data(tuples: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut data = COPY_SIGNATURE.to_vec();
        data.extend_from_slice(&0_i32.to_be_bytes());
        data.extend_from_slice(&3_i32.to_be_bytes());
        data.extend_from_slice(b"ext");
        for tuple in tuples {
            data.extend_from_slice(&(tuple.len() as i16).to_be_bytes());
            for field in tuple {
                match field {
                    None => data.extend_from_slice(&(-1_i32).to_be_bytes()),
                    Some(bytes) => {
                        data.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        data.extend_from_slice(bytes);
                    }
                }
            }
        }
        data.extend_from_slice(&(-1_i16).to_be_bytes());
        data
    }

    /// Reads `data` pushed in chunks of `chunk` bytes; every tuple's fields, owned.
    fn read_copy(data: &[u8], chunk: usize, columns: usize) -> Result<Vec<Vec<Option<Vec<u8>>>>> {
        let mut tuples = CopyTuples::new(columns);
        let mut read = Vec::new();
        for piece in data.chunks(chunk) {
            tuples.push(Bytes::copy_from_slice(piece));
            while tuples.next_tuple()? {
                read.push(
                    (0..columns)
                        .map(|index| tuples.field(index).map(<[u8]>::to_vec))
                        .collect(),
                );
            }
        }
        tuples.finish()?;
        Ok(read)
    }

    #[test]
    fn copy_tuples_are_whole_however_the_data_is_cut() {
        let empty: &[u8] = b"";
        let rows = vec![
            vec![
                Some(&b"\x00\x00\x00\x07"[..]),
                None,
                Some(&b"caf\xc3\xa9"[..]),
            ],
            vec![None, Some(empty), Some(&[b'x'; 300][..])],
        ];
        let data = copy_data(&rows);
        let expected: Vec<Vec<Option<Vec<u8>>>> = rows
            .iter()
            .map(|row| row.iter().map(|field| field.map(<[u8]>::to_vec)).collect())
            .collect();
        for chunk in 1..=data.len() {
            assert_eq!(
                read_copy(&data, chunk, 3).unwrap(),
                expected,
                "chunks of {chunk}"
            );
        }
        assert!(read_copy(&copy_data(&[]), 7, 3).unwrap().is_empty());
    }

    #[test]
    fn malformed_copy_data_is_an_error_not_a_wrong_row() {
        let row = vec![Some(&b"1"[..])];
        let data = copy_data(std::slice::from_ref(&row));
        let message = |result: Result<Vec<Vec<Option<Vec<u8>>>>>| result.unwrap_err().to_string();
        // Cut short: no trailer, or in the middle of a tuple.
        assert!(
            message(read_copy(&data[..data.len() - 2], 4, 1))
                .contains("before the binary COPY trailer")
        );
        assert!(
            message(read_copy(&data[..data.len() - 3], 4, 1))
                .contains("before the binary COPY trailer")
        );
        // Another column count than the query's.
        assert!(
            message(read_copy(&data, 4, 2))
                .contains("a tuple has 1 fields where the query has 2 columns")
        );
        // Not COPY data at all, a negative length, bytes after the trailer.
        assert!(
            message(read_copy(b"COPY 1\n and then some more", 4, 1)).contains("header is missing")
        );
        let mut negative = copy_data(&[row]);
        let length_at = COPY_SIGNATURE.len() + 8 + 3 + 2;
        negative[length_at..length_at + 4].copy_from_slice(&(-2_i32).to_be_bytes());
        assert!(message(read_copy(&negative, 64, 1)).contains("negative length"));
        let mut trailing = data.clone();
        trailing.push(0);
        assert!(message(read_copy(&trailing, 64, 1)).contains("follows the binary COPY trailer"));
    }

    #[test]
    fn only_queries_without_binds_go_through_copy() {
        let sql =
            |text: &str| Statement::from_sql(text, flyte_sql_template::Dialect::Postgres).unwrap();
        for query in [
            "select 1",
            " -- why\n WITH t AS (select 1) select * from t",
            "VALUES (1)",
            "table t",
            "/* a */ Select 1 -- b",
        ] {
            assert!(copyable(&sql(query)), "{query}");
        }
        for query in [
            "show timezone",
            "explain select 1",
            "(select 1)",
            "insert into t values (1) returning *",
            "fetch all from c",
        ] {
            assert!(!copyable(&sql(query)), "{query}");
        }
        let inputs = flyte_sql_model::InputValues::from([("n".to_owned(), Value::Integer(1))]);
        let bound = flyte_sql_template::render(
            "select {{ .inputs.n }}",
            flyte_sql_model::Interpolation::Safe,
            flyte_sql_template::Dialect::Postgres,
            &inputs,
        )
        .unwrap()
        .statement;
        assert!(!copyable(&bound));
    }

    #[test]
    fn sqlstates_classify_by_class_and_code() {
        let cases = [
            (
                SqlState::CONNECTION_FAILURE,
                DatabaseFailure::ConnectionLost,
            ),
            (
                SqlState::T_R_SERIALIZATION_FAILURE,
                DatabaseFailure::Conflict,
            ),
            (SqlState::T_R_DEADLOCK_DETECTED, DatabaseFailure::Conflict),
            (SqlState::LOCK_NOT_AVAILABLE, DatabaseFailure::Conflict),
            (SqlState::QUERY_CANCELED, DatabaseFailure::Timeout),
            (SqlState::ADMIN_SHUTDOWN, DatabaseFailure::ConnectionLost),
            (SqlState::TOO_MANY_CONNECTIONS, DatabaseFailure::Server),
            (SqlState::DISK_FULL, DatabaseFailure::Server),
            (SqlState::IO_ERROR, DatabaseFailure::Server),
            (SqlState::UNIQUE_VIOLATION, DatabaseFailure::Constraint),
            (SqlState::NOT_NULL_VIOLATION, DatabaseFailure::Constraint),
            (SqlState::SYNTAX_ERROR, DatabaseFailure::Other),
            (SqlState::UNDEFINED_TABLE, DatabaseFailure::Other),
            (SqlState::INVALID_PASSWORD, DatabaseFailure::Other),
            (SqlState::INVALID_CATALOG_NAME, DatabaseFailure::Other),
            (SqlState::DIVISION_BY_ZERO, DatabaseFailure::Other),
        ];
        for (code, expected) in cases {
            assert_eq!(failure_of(&code), expected, "{}", code.code());
        }
    }

    #[test]
    fn password_files_match_like_libpq() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\nother:5432:*:*:no\ndb\\:x:*:app:alice:s\\:cret\n*:*:*:*:fallback\n",
        )
        .unwrap();
        assert_eq!(
            password_from_file(Some(&path), Some("db:x"), None, "app", "alice").as_deref(),
            Some("s:cret")
        );
        assert_eq!(
            password_from_file(Some(&path), Some("db"), Some(6432), "app", "bob").as_deref(),
            Some("fallback")
        );
    }

    fn options_of(uri: &str) -> PostgresOptions {
        let config = flyte_sql_config::ConnectionConfig::new(uri).unwrap();
        let flyte_sql_config::ConnectOptions::Postgres(options) =
            crate::resolve_connect_options(&config).unwrap()
        else {
            panic!("postgres options");
        };
        options
    }

    #[test]
    fn unix_sockets_ignore_sslmode_and_addresses_name_the_server() {
        use tokio_postgres::config::{Host, SslMode};
        let socket = plan(&options_of(
            "postgresql://u@/app?host=/var/run/postgresql&sslmode=require",
        ))
        .unwrap();
        assert_eq!(socket.config.get_ssl_mode(), SslMode::Disable);
        assert!(socket.tls.is_none());
        let address = plan(&options_of(
            "postgresql://u@/app?hostaddr=127.0.0.1&sslmode=require",
        ))
        .unwrap();
        assert_eq!(address.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(
            address.config.get_hosts(),
            [Host::Tcp("127.0.0.1".to_owned())]
        );
        let tcp = plan(&options_of("postgresql://u@db:6432/app?connect_timeout=1")).unwrap();
        assert_eq!(tcp.config.get_ssl_mode(), SslMode::Prefer);
        // libpq counts a connect timeout below two seconds as two.
        assert_eq!(tcp.timeout, Duration::from_secs(2));
    }

    #[test]
    fn keywords_without_an_equivalent_are_refused_by_name() {
        for (keyword, value) in [
            ("service", "prod"),
            ("krbsrvname", "postgres"),
            ("requirepeer", "postgres"),
            ("sslcrl", "/crl.pem"),
            ("gssencmode", "require"),
            ("target_session_attrs", "standby"),
            ("client_encoding", "LATIN1"),
        ] {
            let options = options_of(&format!("postgresql://u@db/app?{keyword}={value}"));
            let error = plan(&options).err().expect("refused");
            assert!(
                error.to_string().contains(&format!("`{keyword}`")),
                "{error}"
            );
        }
    }
}
