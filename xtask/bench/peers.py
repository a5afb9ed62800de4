"""The Python side of `cargo xtask bench` (run with the bench virtualenv's python).

Subcommands:
  connectorx URI OUT            connectorx's arrow_stream, batch by batch into one Parquet file
  duckdb KIND SOURCE EXT OUT    DuckDB COPY (select * from events) TO OUT, through the scanner
                                extension file EXT (KIND: sqlite, postgres or mysql), loaded by path
  template URI DIR              the Python plugin's task: DIR/task.pb (flytekit's own serialization
                                of a SQLAlchemyTask) and DIR/inputs.pb (no inputs)
  rows PATH                     prints `ROWS COLUMNS` of the Parquet file PATH, or of every file under
                                the directory PATH (each must have the same column count)

The measured subcommands import only what they use: their start-up is part of what is measured.
"""

import os
import sys

QUERY = "select * from events"


def connectorx(uri, out):
    import connectorx as cx
    import pyarrow.parquet as pq

    reader = cx.read_sql(uri, QUERY, return_type="arrow_stream")
    with pq.ParquetWriter(out, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def duckdb(kind, source, extension, out):
    import duckdb as ddb

    connection = ddb.connect(config={"allow_unsigned_extensions": "true"})
    # INSTALL would download the extension; LOAD takes the pip package's file by path.
    connection.execute(f"LOAD '{extension}'")
    connection.execute(f"ATTACH '{source}' AS src (TYPE {kind}, READ_ONLY)")
    connection.execute(f"COPY (select * from src.events) TO '{out}' (FORMAT parquet)")


def template(uri, directory):
    from flytekit.configuration import ImageConfig, SerializationSettings
    from flytekit.models import literals
    from flytekit.tools.translator import get_serializable
    from flytekitplugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask

    task = SQLAlchemyTask(
        "bench.events",
        query_template=QUERY,
        task_config=SQLAlchemyConfig(uri=uri),
    )
    settings = SerializationSettings(
        project="bench",
        domain="development",
        version="v1",
        image_config=ImageConfig.auto_default_image(),
    )
    spec = get_serializable({}, settings, task)
    with open(os.path.join(directory, "task.pb"), "wb") as file:
        file.write(spec.template.to_flyte_idl().SerializeToString())
    with open(os.path.join(directory, "inputs.pb"), "wb") as file:
        file.write(literals.LiteralMap({}).to_flyte_idl().SerializeToString())


def rows(path):
    import pyarrow.parquet as pq

    if not os.path.exists(path):
        sys.exit(f"no output at {path}")
    if os.path.isdir(path):
        files = sorted(
            os.path.join(directory, name)
            for directory, _, names in os.walk(path)
            for name in names
        )
    else:
        files = [path]
    if not files:
        sys.exit(f"no Parquet files under {path}")
    total = 0
    columns = set()
    for file in files:
        metadata = pq.ParquetFile(file).metadata
        total += metadata.num_rows
        columns.add(metadata.num_columns)
    if len(columns) != 1:
        sys.exit(f"{path}: files with different column counts {sorted(columns)}")
    print(total, columns.pop())


COMMANDS = {
    "connectorx": (connectorx, 2),
    "duckdb": (duckdb, 4),
    "template": (template, 2),
    "rows": (rows, 1),
}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in COMMANDS or len(sys.argv) - 2 != COMMANDS[name][1]:
        sys.exit(__doc__)
    function, _ = COMMANDS[name]
    function(*sys.argv[2:])
