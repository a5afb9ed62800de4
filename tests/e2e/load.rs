//! Load: 32 `execute` processes at once against one server, each with its own inputs, all
//! finishing with complete and correct outputs (`docs/running-on-flyte.md`, "Connections").

use flyte_sql::model::Value;
use flyte_sql_tests::{Backend, TestDb, TestDir, backend_test, toml_string};

use crate::execute::inputs_of;
use crate::propeller::Pod;
use crate::run::read_table;

/// How many task pods run at once.
const PODS: i64 = 32;
/// Rows in the shared table; each pod reads the rows of its own residue modulo [`PODS`].
const ROWS: i64 = 32_000;

backend_test!(
    thirty_two_concurrent_executes_all_finish_correctly,
    |db: &TestDb| {
        if db.backend == Backend::Sqlite {
            return;
        }
        let table = db.table("load");
        db.execute(&format!(
            "create table {table} (id bigint primary key, label varchar(40) not null)"
        ));
        // One statement that makes every row, from each server's own number series.
        let series = match db.backend {
            Backend::Mysql => format!("(select seq as i from seq_1_to_{ROWS}) n"),
            _ => format!("generate_series(1, {ROWS}) as n (i)"),
        };
        db.execute(&format!(
            "insert into {table} (id, label) select i, concat('row-', i) from {series}"
        ));
        let task_path = db.dir.write(
            "load.toml",
            &format!(
                "name = \"load.residue\"\nquery = {}\n[connection]\nuri = {}\n[[inputs]]\nname = \"k\"\ntype = \"integer\"\n[output]\nkind = \"schema\"\n",
                toml_string(&format!(
                    "select id, label from {table} where mod(id, {PODS}) = {{{{ .inputs.k }}}} order by id"
                )),
                toml_string(&db.url),
            ),
        );
        let task =
            flyte_sql::model::SqlTask::from_toml(&std::fs::read_to_string(&task_path).unwrap())
                .expect("a valid task");
        let template = crate::execute::serialize(&db.dir, &task_path);

        let dirs: Vec<TestDir> = (0..PODS)
            .map(|k| TestDir::new(&format!("load-{k}")))
            .collect();
        let pods: Vec<Pod> = dirs.iter().map(Pod::new).collect();
        let children: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(k, pod)| {
                let inputs = inputs_of(&task, &[("k", Value::Integer(k as i64))]);
                pod.spawn(&template, &inputs)
            })
            .collect();
        for (k, (pod, child)) in pods.iter().zip(children).enumerate() {
            let result = pod.wait(&template, child);
            let outputs = result.expect_outputs();
            let table = read_table(&pod.dataset(outputs));
            let k = k as i64;
            let expected: Vec<Vec<String>> = (1..=ROWS)
                .filter(|id| id % PODS == k)
                .map(|id| vec![id.to_string(), format!("row-{id}")])
                .collect();
            assert_eq!(table.rows.len(), expected.len(), "pod {k}");
            assert_eq!(table.rows, expected, "pod {k}");
        }
    }
);
