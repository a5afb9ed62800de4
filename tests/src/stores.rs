//! Object-store servers on 127.0.0.1 for the end-to-end tests, installed and started by the tests
//! themselves: moto's S3 server from pip, Azurite from npm, under
//! `target/test-stores/`. Each server lives as long as the test process (a wrapper kills it when
//! the process's end closes its stdin).
//!
//! Without `FLYTE_SQL_TEST_REQUIRE_STORES=1` a server that cannot be installed or started skips
//! its tests with a message; `.ci/run` sets it, so CI never skips silently.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Set to `1` (as `.ci/run` does) to make a server that cannot start a failure instead of a skip.
pub const REQUIRE_STORES_VARIABLE: &str = "FLYTE_SQL_TEST_REQUIRE_STORES";

/// The pinned Python packages of the servers and of the test client script.
const PIP_PACKAGES: [&str; 3] = [
    "moto[server]==5.2.5",
    "boto3==1.44.8",
    "azure-storage-blob==12.31.1",
];

/// The pinned npm package of Azurite.
const NPM_PACKAGE: &str = "azurite@3.35.0";

/// An object store the tests can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// S3, served by moto.
    S3,
    /// S3, served by a moto that checks credentials (`INITIAL_NO_AUTH_ACTION_COUNT=0`) and so
    /// refuses the tests' made-up ones.
    S3CheckingCredentials,
    /// Azure Blob Storage, served by Azurite.
    Azure,
}

impl StoreKind {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::S3 | StoreKind::S3CheckingCredentials => "s3",
            StoreKind::Azure => "azure",
        }
    }
}

/// A running object-store server.
#[derive(Debug)]
pub struct StoreServer {
    /// Which store.
    pub kind: StoreKind,
    /// Its port on 127.0.0.1.
    pub port: u16,
    python: PathBuf,
    /// Kept open for the life of the process: closing it stops the server.
    _lifeline: Mutex<ChildStdin>,
    _process: Mutex<Child>,
}

impl StoreServer {
    /// The environment variables that point flyte-sql at this server, as a Flyte pod's would.
    pub fn env(&self) -> Vec<(String, String)> {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        let pairs: Vec<(&str, String)> = match self.kind {
            StoreKind::S3 | StoreKind::S3CheckingCredentials => vec![
                ("FLYTE_AWS_ENDPOINT", endpoint),
                ("FLYTE_AWS_ACCESS_KEY_ID", "flyte-sql-test".to_owned()),
                (
                    "FLYTE_AWS_SECRET_ACCESS_KEY",
                    "flyte-sql-test-secret".to_owned(),
                ),
                ("AWS_REGION", "us-east-1".to_owned()),
            ],
            StoreKind::Azure => vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
                ("AZURITE_BLOB_STORAGE_URL", endpoint),
            ],
        };
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    /// The URL of `key` in `bucket` as flyte-sql takes it.
    pub fn url(&self, bucket: &str, key: &str) -> String {
        let scheme = match self.kind {
            StoreKind::S3 | StoreKind::S3CheckingCredentials => "s3",
            StoreKind::Azure => "abfs",
        };
        format!("{scheme}://{bucket}/{key}")
    }

    /// Creates a bucket (or container).
    pub fn create_bucket(&self, bucket: &str) {
        self.client(&["create-bucket", bucket]);
    }

    /// Uploads `bytes` as `key` of `bucket`.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), bytes).expect("writing the upload");
        self.client(&["put", bucket, key, file.path().to_str().expect("UTF-8")]);
    }

    /// Downloads `key` of `bucket`; `None` when it does not exist.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        let found = self.client(&["get", bucket, key, file.path().to_str().expect("UTF-8")]);
        (found.trim() == "found").then(|| std::fs::read(file.path()).expect("the download"))
    }

    /// The keys under `prefix` in `bucket`, sorted; in-progress multipart uploads too, as
    /// `upload:<key>`, so that a test can check nothing partial is left.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .client(&["list", bucket, prefix])
            .lines()
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }

    /// How many parts an S3 object was uploaded in (1 for a single put).
    pub fn parts(&self, bucket: &str, key: &str) -> usize {
        self.client(&["parts", bucket, key])
            .trim()
            .parse()
            .expect("a part count")
    }

    fn client(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("stores.py");
        let output = Command::new(&self.python)
            .arg(script)
            .arg(self.kind.name())
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("running tests/stores.py");
        assert!(
            output.status.success(),
            "tests/stores.py {args:?} failed\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8")
    }
}

/// The server of `kind`, started once per test process; `None` (with a message on stderr) when it
/// cannot be installed or started and `FLYTE_SQL_TEST_REQUIRE_STORES` is not `1`.
pub fn server(kind: StoreKind) -> Option<&'static StoreServer> {
    /// Each kind's server once tried: started, or `None` when it could not start.
    type Started = Vec<(StoreKind, Option<&'static StoreServer>)>;
    static SERVERS: OnceLock<Mutex<Started>> = OnceLock::new();
    let servers = SERVERS.get_or_init(|| Mutex::new(Vec::new()));
    let mut servers = servers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, server)) = servers.iter().find(|(known, _)| *known == kind) {
        return *server;
    }
    let started = match start(kind) {
        Ok(server) => Some(&*Box::leak(Box::new(server))),
        Err(problem) => {
            assert!(
                std::env::var(REQUIRE_STORES_VARIABLE).as_deref() != Ok("1"),
                "the {} server cannot start but {REQUIRE_STORES_VARIABLE}=1 requires it: {problem}",
                kind.name()
            );
            let _ = std::io::stderr().write_all(
                format!(
                    "skipping the {} tests: its test server cannot start ({problem})\n",
                    kind.name()
                )
                .as_bytes(),
            );
            None
        }
    };
    servers.push((kind, started));
    started
}

/// `target/test-stores/`, beside the binary under test.
fn stores_dir() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let target = test_binary
        .ancestors()
        .nth(3)
        .expect("the test binary lives in target/<profile>/deps");
    target.join("test-stores")
}

/// Installs (once per target directory) the pinned packages.
fn install() -> Result<(PathBuf, PathBuf), String> {
    static INSTALLED: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = stores_dir();
            let venv = dir.join("venv");
            let python = venv.join("bin/python");
            let marker = dir.join("installed.txt");
            let wanted = format!("{}\n{NPM_PACKAGE}\n", PIP_PACKAGES.join("\n"));
            if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
                return Ok((python, dir.join("node")));
            }
            std::fs::create_dir_all(dir.join("node")).map_err(|error| error.to_string())?;
            checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
            checked(
                Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet"])
                    .args(PIP_PACKAGES),
            )?;
            checked(
                Command::new("npm")
                    .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                    .arg(dir.join("node"))
                    .arg(NPM_PACKAGE),
            )?;
            std::fs::write(&marker, wanted).map_err(|error| error.to_string())?;
            Ok((python, dir.join("node")))
        })
        .clone()
}

fn checked(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|error| format!("{command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| error.to_string())
}

fn start(kind: StoreKind) -> Result<StoreServer, String> {
    let (python, node) = install()?;
    let port = free_port()?;
    let bin = python.parent().expect("the venv's bin directory");
    let data = stores_dir().join(format!("data-{}-{port}", kind.name()));
    std::fs::create_dir_all(&data).map_err(|error| error.to_string())?;
    let program: Vec<String> = match kind {
        StoreKind::S3 | StoreKind::S3CheckingCredentials => vec![
            bin.join("moto_server").display().to_string(),
            "-H".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ],
        StoreKind::Azure => vec![
            node.join("node_modules/.bin/azurite-blob")
                .display()
                .to_string(),
            "--blobHost".to_owned(),
            "127.0.0.1".to_owned(),
            "--blobPort".to_owned(),
            port.to_string(),
            "--location".to_owned(),
            data.display().to_string(),
            "--silent".to_owned(),
            "--skipApiVersionCheck".to_owned(),
            "--loose".to_owned(),
        ],
    };
    // The wrapper stops the server when this process's end closes the pipe on its stdin.
    let mut wrapper = Command::new("sh");
    if kind == StoreKind::S3CheckingCredentials {
        wrapper.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
    }
    let mut process = wrapper
        .arg("-c")
        .arg(r#""$@" >/dev/null 2>&1 & server=$!; cat >/dev/null; kill $server"#)
        .arg("store-server")
        .args(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("starting {}: {error}", program[0]))?;
    let lifeline = process.stdin.take().expect("a piped stdin");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = process.kill();
            return Err(format!(
                "{} did not listen on port {port} within 30 s",
                program[0]
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(StoreServer {
        kind,
        port,
        python,
        _lifeline: Mutex::new(lifeline),
        _process: Mutex::new(process),
    })
}

/// A proxy in front of a server that passes every request through except multipart-upload parts
/// after the first `healthy_parts`, which it answers with `500 Internal Server Error`: an object
/// store that starts failing in the middle of an upload. Returns the proxy's port; it lives as
/// long as the test process.
pub fn failing_parts_proxy(upstream: u16, healthy_parts: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
    let port = listener.local_addr().expect("the proxy's address").port();
    let parts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let parts = std::sync::Arc::clone(&parts);
            std::thread::spawn(move || {
                let _ = proxy_one(client, upstream, healthy_parts, &parts);
            });
        }
    });
    port
}

/// Serves one request of a client connection on a fresh upstream connection, then closes it
/// (always allowed in HTTP/1.1; the client reconnects).
fn proxy_one(
    mut client: TcpStream,
    upstream: u16,
    healthy_parts: usize,
    parts: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    use std::io::Read;
    {
        let Some(request) = read_request(&mut client)? else {
            return Ok(());
        };
        let head = String::from_utf8_lossy(&request[..request.len().min(2048)]).into_owned();
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let is_part = request_line.starts_with("PUT ") && request_line.contains("partNumber=");
        let failing =
            is_part && parts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= healthy_parts;
        if failing {
            client.write_all(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
        server.write_all(&close_connection(&request))?;
        let mut response = Vec::new();
        server.read_to_end(&mut response)?;
        client.write_all(&response)?;
    }
    Ok(())
}

/// One whole HTTP/1.1 request (head and `Content-Length` body); `None` at end of stream.
fn read_request(client: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut request = Vec::new();
    let mut buffer = [0_u8; 65536];
    let head_end = loop {
        if let Some(end) = request.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        let read = client.read(&mut buffer)?;
        if read == 0 {
            return Ok(None);
        }
        request.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        let read = client.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..read]);
    }
    Ok(Some(request))
}

/// The request with `Connection: close`, so the upstream ends its response by closing.
fn close_connection(request: &[u8]) -> Vec<u8> {
    let head_end = request
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(request.len(), |end| end + 2);
    let head = String::from_utf8_lossy(&request[..head_end]);
    let mut rewritten: String = head
        .split("\r\n")
        .filter(|line| !line.is_empty() && !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut bytes = rewritten.into_bytes();
    bytes.extend_from_slice(&request[(head_end + 2).min(request.len())..]);
    bytes
}
