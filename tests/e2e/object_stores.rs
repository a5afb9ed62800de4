//! The runtime with every path on an object store, as on a cluster: inputs, TaskTemplate, output
//! prefix and raw output prefix on S3 (moto) and Azure Blob Storage (Azurite), served on
//! 127.0.0.1 by the tests' own setup (`flyte_sql_tests::stores`). Google Cloud Storage is not
//! tested against a server: see `docs/deploying.md`. Results large enough for several parts, a store that fails in the
//! middle of an upload, refused credentials and a missing bucket.

use flyte_sql::model::Value;
use flyte_sql_tests::stores::{StoreKind, StoreServer, failing_parts_proxy, server};
use flyte_sql_tests::{TestDir, stdout_of_success};

use crate::execute::{assert_classified, build_golden_db, inputs_of, serialize_task};
use crate::propeller::{Pod, dataset_uri, no_inputs};
use crate::run::read_table;

/// A bucket name unique to this test run.
fn bucket(server: &StoreServer, name: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let bucket = format!(
        "flyte-sql-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    server.create_bucket(&bucket);
    bucket
}

/// The whole contract on one store: a safe-mode task's template and inputs on the store, its
/// result streamed there, outputs.pb written there; then a failing task leaves nothing there.
fn the_contract_on(kind: StoreKind) {
    let Some(server) = server(kind) else {
        return;
    };
    let bucket = bucket(server, kind.name());
    let dir = TestDir::new(&format!("store-{}", kind.name()));
    build_golden_db(&dir);
    let (task, template) = serialize_task(
        &dir,
        "select TrackId, Name from tracks where TrackId < {{ .inputs.n }} order by TrackId",
        "[[inputs]]\nname = \"n\"\ntype = \"integer\"\n",
        "",
    );
    let pod = Pod::on_store(&dir, server, &bucket, "exec-a");
    let result = pod.run(&template, &inputs_of(&task, &[("n", Value::Integer(2))]));
    let outputs = result.expect_outputs();
    let uri = dataset_uri(outputs);
    let raw = server.url(&bucket, "exec-a/raw/0/");
    assert!(
        uri.starts_with(&raw) && uri.len() == raw.len() + 32,
        "{uri}"
    );
    let table = read_table(&pod.dataset(outputs));
    assert_eq!(table.rows, [["0", "Sue"], ["1", "L"]]);
    assert!(!dir.join(kind.name()).exists() && !dir.join("s3:").exists());

    let (_, failing) = serialize_task(&dir, "select * from no_such_table", "", "");
    let pod = Pod::on_store(&dir, server, &bucket, "exec-b");
    let result = pod.run(&failing, &no_inputs());
    assert_classified(result.expect_error(), false, true, "SqlError");
    assert_eq!(pod.raw_objects(), Vec::<String>::new());
}

#[test]
fn the_propeller_contract_runs_with_every_path_on_s3() {
    the_contract_on(StoreKind::S3);
}

#[test]
fn the_propeller_contract_runs_with_every_path_on_azure() {
    the_contract_on(StoreKind::Azure);
}

/// A query of `rows` rows of incompressible text (48 hex digits each, about 15 MB at 300k rows).
const LARGE_QUERY: &str = "with recursive n(i) as (select 1 union all select i + 1 from n where i < 300000) select i, hex(randomblob(24)) as h from n";

#[test]
fn a_large_result_goes_up_in_several_parts() {
    let Some(server) = server(StoreKind::S3) else {
        return;
    };
    let bucket = bucket(server, "large");
    let dir = TestDir::new("store-large");
    build_golden_db(&dir);
    let (_, template) = serialize_task(&dir, LARGE_QUERY, "", "");
    let pod = Pod::on_store(&dir, server, &bucket, "exec");
    let result = pod.run(&template, &no_inputs());
    let outputs = result.expect_outputs();
    let uri = dataset_uri(outputs);
    let key = format!(
        "{}/00000",
        uri.strip_prefix(&format!("s3://{bucket}/")).unwrap()
    );
    let parts = server.parts(&bucket, &key);
    assert!(parts >= 3, "uploaded in {parts} parts");
    assert_eq!(read_table(&pod.dataset(outputs)).rows.len(), 300_000);
    // `run --out` streams to the same store the same way.
    let mut command = dir.cli();
    command.envs(server.env()).args([
        "run",
        "--uri",
        "sqlite:///golden.db",
        "--query",
        "select TrackId from tracks",
        "--out",
        &server.url(&bucket, "local-run"),
    ]);
    let printed = stdout_of_success(&command.output().unwrap());
    assert!(
        printed.contains(&format!("s3://{bucket}/local-run/")),
        "{printed}"
    );
    assert_eq!(server.list(&bucket, "local-run/").len(), 1);
}

#[test]
fn a_store_failing_mid_upload_is_recoverable_and_leaves_no_partial_object() {
    let Some(server) = server(StoreKind::S3) else {
        return;
    };
    let bucket = bucket(server, "failing");
    let dir = TestDir::new("store-failing");
    build_golden_db(&dir);
    let (_, template) = serialize_task(&dir, LARGE_QUERY, "", "");
    // The first part goes through, every later one gets 500s, through every retry.
    let proxy = failing_parts_proxy(server.port, 1);
    let mut pod = Pod::on_store(&dir, server, &bucket, "exec");
    for (name, value) in &mut pod.env {
        if name == "FLYTE_AWS_ENDPOINT" {
            *value = format!("http://127.0.0.1:{proxy}");
        }
    }
    let result = pod.run(&template, &no_inputs());
    assert_eq!(result.exit_code(), Some(0));
    assert_classified(result.expect_error(), true, false, "StorageError");
    assert_eq!(
        pod.raw_objects(),
        Vec::<String>::new(),
        "no object and no unfinished upload"
    );
}

#[test]
fn refused_credentials_and_a_missing_bucket_are_the_users_to_fix() {
    if let Some(checking) = server(StoreKind::S3CheckingCredentials) {
        let dir = TestDir::new("store-credentials");
        let output = dir
            .cli()
            .envs(checking.env())
            .args([
                "run",
                "--uri",
                "sqlite://",
                "--query",
                "select 1 as x",
                "--out",
            ])
            .arg(checking.url("any-bucket", "raw"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(!stderr.contains("flyte-sql-test-secret"), "{stderr}");
    }
    let Some(server) = server(StoreKind::S3) else {
        return;
    };
    let bucket = bucket(server, "present");
    let dir = TestDir::new("store-missing-bucket");
    build_golden_db(&dir);
    let (_, template) = serialize_task(&dir, "select TrackId from tracks", "", "");
    let mut pod = Pod::on_store(&dir, server, &bucket, "exec");
    pod.raw_prefix = server.url(&format!("{bucket}-missing"), "raw");
    let result = pod.run(&template, &no_inputs());
    assert_classified(result.expect_error(), false, true, "StorageError");
}
