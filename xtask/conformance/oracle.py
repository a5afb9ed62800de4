"""The Python oracle of `cargo xtask conformance`: the real flyteidl decodes what flyte-sql emits.

Usage: oracle.py EMITTED_DIR FIXTURES_DIR

EMITTED_DIR holds what flyte-sql wrote (see crates/flyte-sql-idl/examples/conformance_emit.rs):
the messages with `manifest.json`, `flyte-package.tgz` from `flyte-sql package`, and
`flyte-sql.descriptor_set.bin`, the descriptor set of our .proto files. FIXTURES_DIR is
tests/fixtures/conformance.

Checks, each failing loudly:
1. Our .proto declarations equal flyteidl's: every message and enum we declare exists in flyteidl
   with the same fields (number, name, type, label, oneof) and values, and declares every field
   flyteidl has.
2. Every emitted message decodes with the flyteidl class its manifest names, with no unknown
   fields; where the manifest says bytes are comparable, Python's deterministic encoding of the
   decoded message equals our bytes.
3. Its MessageToJson(preserving_proto_field_name=True, sort_keys=True) equals the golden JSON after
   the normalizations the manifest lists (the conformance README's allowances and flyte-sql's
   documented deviations), each of which must find exactly the difference it names.
4. The package archive has the golden member names and each member decodes as a TaskSpec equal to
   the golden member after normalization.
"""

import json
import os
import sys
import tarfile

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, unknown_fields

import flyteidl.admin.task_pb2
import flyteidl.core.errors_pb2
import flyteidl.core.literals_pb2
import flyteidl.core.tasks_pb2
import flyteidl.core.workflow_pb2

FAILURES = []


def fail(message):
    FAILURES.append(message)
    print("FAIL: " + message, file=sys.stderr)


def message_class(full_name):
    descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


# 1. Descriptors -----------------------------------------------------------------------------------


def field_signature(field):
    return {
        "name": field.name,
        "number": field.number,
        "type": field.type,
        "repeated": field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
        "type_name": field.type_name.lstrip("."),
        "oneof": field.oneof_index if field.HasField("oneof_index") else None,
        "proto3_optional": field.proto3_optional,
    }


def check_descriptors(descriptor_set_path):
    ours = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_set_path, "rb") as f:
        ours.ParseFromString(f.read())
    pool = descriptor_pool.Default()
    checked = 0

    def compare_message(ours_message, full_name):
        nonlocal checked
        try:
            theirs = pool.FindMessageTypeByName(full_name)
        except KeyError:
            fail(f"descriptor: flyteidl 1.16.8 has no message {full_name}")
            return
        theirs_proto = descriptor_pb2.DescriptorProto()
        theirs.CopyToProto(theirs_proto)
        ours_fields = {f.number: field_signature(f) for f in ours_message.field}
        theirs_fields = {f.number: field_signature(f) for f in theirs_proto.field}
        ours_oneofs = [o.name for o in ours_message.oneof_decl]
        theirs_oneofs = [o.name for o in theirs_proto.oneof_decl]
        if set(ours_fields) != set(theirs_fields):
            fail(
                f"descriptor {full_name}: field numbers {sorted(ours_fields)} != flyteidl's {sorted(theirs_fields)}"
            )
        for number in set(ours_fields) & set(theirs_fields):
            a, b = dict(ours_fields[number]), dict(theirs_fields[number])
            a["oneof"] = ours_oneofs[a["oneof"]] if a["oneof"] is not None else None
            b["oneof"] = theirs_oneofs[b["oneof"]] if b["oneof"] is not None else None
            if a != b:
                fail(f"descriptor {full_name} field {number}: ours {a} != flyteidl's {b}")
        for nested in ours_message.nested_type:
            compare_message(nested, f"{full_name}.{nested.name}")
        for enum in ours_message.enum_type:
            compare_enum(enum, f"{full_name}.{enum.name}")
        checked += 1

    def compare_enum(ours_enum, full_name):
        nonlocal checked
        try:
            theirs = pool.FindEnumTypeByName(full_name)
        except KeyError:
            fail(f"descriptor: flyteidl 1.16.8 has no enum {full_name}")
            return
        ours_values = [(v.name, v.number) for v in ours_enum.value]
        theirs_values = [(v.name, v.number) for v in theirs.values]
        if ours_values != theirs_values:
            fail(f"descriptor enum {full_name}: ours {ours_values} != flyteidl's {theirs_values}")
        checked += 1

    for file in ours.file:
        if file.name.startswith("google/protobuf/"):
            continue
        for message in file.message_type:
            compare_message(message, f"{file.package}.{message.name}")
        for enum in file.enum_type:
            compare_enum(enum, f"{file.package}.{enum.name}")
    if checked < 90:
        fail(f"descriptor: only {checked} declarations compared, expected the whole subset")
    print(f"descriptors: {checked} messages and enums equal flyteidl 1.16.8's")


# 2. and 3. Messages -------------------------------------------------------------------------------


def unknown_field_paths(message, path=""):
    paths = []
    if len(unknown_fields.UnknownFieldSet(message)):
        paths.append(path or "<root>")
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            items = value.items()
            if field.message_type.fields_by_name["value"].type == field.TYPE_MESSAGE:
                for key, item in items:
                    paths += unknown_field_paths(item, f"{path}.{field.name}[{key}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                paths += unknown_field_paths(item, f"{path}.{field.name}[{index}]")
        else:
            paths += unknown_field_paths(value, f"{path}.{field.name}")
    return paths


def to_json(message):
    return json.loads(
        json_format.MessageToJson(message, preserving_proto_field_name=True, sort_keys=True)
    )


def template_of(document, message_name):
    return document.get("template", {}) if message_name == "flyteidl.admin.TaskSpec" else document


def normalize(name, ours, golden, message_name, label):
    """Applies one named normalization to our JSON, asserting the difference is exactly it."""
    if name == "runtime":
        ours_template, golden_template = template_of(ours, message_name), template_of(golden, message_name)
        runtime = ours_template["metadata"]["runtime"]
        if runtime.get("type") != "FLYTE_SDK" or runtime.get("flavor") != "flyte-sql" or not runtime.get("version"):
            fail(f"{label}: metadata.runtime {runtime} is not flyte-sql's")
        ours_template["metadata"]["runtime"] = golden_template["metadata"]["runtime"]
    elif name == "structured_dataset_format":
        ours_type = template_of(ours, message_name)["interface"]["outputs"]["variables"]["results"]["type"][
            "structured_dataset_type"
        ]
        golden_type = template_of(golden, message_name)["interface"]["outputs"]["variables"]["results"]["type"][
            "structured_dataset_type"
        ]
        if ours_type.get("format") != "parquet" or "format" in golden_type:
            fail(f"{label}: structured_dataset_format deviation not as documented")
        ours_type.pop("format", None)
    elif name == "connect_arg_secrets":
        ours_template, golden_template = template_of(ours, message_name), template_of(golden, message_name)
        golden_secrets = golden_template.get("security_context", {}).get("secrets", [])
        implied = [
            {k: v for k, v in secret.items() if v not in (None, "", 0, 0.0)}
            for secret in (golden_template["custom"].get("secret_connect_args") or {}).values()
        ]
        for secret in implied:
            if "mount_requirement" in secret:
                secret["mount_requirement"] = ["ANY", "ENV_VAR", "FILE"][int(secret["mount_requirement"])]
        kept = []
        ours_secrets = ours_template["security_context"]["secrets"]
        for secret in ours_secrets:
            if secret in golden_secrets:
                kept.append(secret)
            elif secret not in implied:
                fail(f"{label}: secret {secret} is neither the reference's nor a secret connect arg")
        if len(kept) == len(ours_secrets):
            fail(f"{label}: connect_arg_secrets found no secret connect arg to remove")
        if kept:
            ours_template["security_context"]["secrets"] = kept
        else:
            del ours_template["security_context"]
    elif name == "output_literal_columns":
        ours_type = ours["literals"]["results"]["scalar"]["structured_dataset"]["metadata"]["structured_dataset_type"]
        golden_type = golden["literals"]["results"]["scalar"]["structured_dataset"]["metadata"][
            "structured_dataset_type"
        ]
        if not ours_type.get("columns") or golden_type.get("columns"):
            fail(f"{label}: output_literal_columns deviation not as documented")
        ours_type.pop("columns", None)
    else:
        fail(f"{label}: unknown normalization {name}")


def first_difference(ours, golden, path=""):
    if isinstance(ours, dict) and isinstance(golden, dict):
        for key in sorted(set(ours) | set(golden)):
            if key not in ours:
                return f"{path}.{key}: missing in ours (golden {json.dumps(golden[key])[:200]})"
            if key not in golden:
                return f"{path}.{key}: only in ours ({json.dumps(ours[key])[:200]})"
            difference = first_difference(ours[key], golden[key], f"{path}.{key}")
            if difference:
                return difference
        return None
    if isinstance(ours, list) and isinstance(golden, list) and len(ours) == len(golden):
        for index, (a, b) in enumerate(zip(ours, golden)):
            difference = first_difference(a, b, f"{path}[{index}]")
            if difference:
                return difference
        return None
    if ours != golden:
        return f"{path}: ours {json.dumps(ours)[:200]} != golden {json.dumps(golden)[:200]}"
    return None


def check_message(data, message_name, golden_json, normalizations, bytes_comparable, label):
    message = message_class(message_name)()
    try:
        message.ParseFromString(data)
    except Exception as error:  # noqa: BLE001 -- any decode failure is the finding
        fail(f"{label}: flyteidl cannot decode it as {message_name}: {error}")
        return
    unknown = unknown_field_paths(message)
    if unknown:
        fail(f"{label}: unknown fields at {unknown}")
    if bytes_comparable:
        again = message.SerializeToString(deterministic=True)
        if again != data:
            fail(f"{label}: Python re-encodes {len(again)} bytes, ours are {len(data)} and differ")
    ours = to_json(message)
    for name in normalizations:
        normalize(name, ours, golden_json, message_name, label)
    difference = first_difference(ours, golden_json)
    if difference:
        fail(f"{label}: differs from the golden JSON at {difference}")


def check_manifest(emitted, fixtures):
    with open(os.path.join(emitted, "manifest.json")) as f:
        manifest = json.load(f)
    kinds = {}
    for entry in manifest:
        with open(os.path.join(emitted, entry["file"]), "rb") as f:
            data = f.read()
        with open(os.path.join(fixtures, entry["golden_json"])) as f:
            golden = json.load(f)
        check_message(
            data, entry["message"], golden, entry["normalizations"], entry["bytes_comparable"], entry["file"]
        )
        kinds[entry["message"]] = kinds.get(entry["message"], 0) + 1
    expected_kinds = {
        "flyteidl.core.TaskTemplate",
        "flyteidl.admin.TaskSpec",
        "flyteidl.core.LiteralMap",
        "flyteidl.core.ErrorDocument",
        "flyteidl.core.Node",
    }
    if set(kinds) != expected_kinds:
        fail(f"manifest: message kinds {sorted(kinds)} != {sorted(expected_kinds)}")
    print("messages: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))


# 4. Package ---------------------------------------------------------------------------------------


def check_package(archive_path, fixtures):
    reference = os.path.join(fixtures, "_reference", "package")
    with open(os.path.join(reference, "listing.json")) as f:
        listing = json.load(f)
    golden_names = [member["name"] for member in listing["members_in_archive_order"]]
    with tarfile.open(archive_path, "r:gz") as archive:
        members = archive.getmembers()
        names = [member.name for member in members]
        if names != golden_names:
            fail(f"package: members {names} != pyflyte package's {golden_names}")
        for member in members:
            if not member.isfile() or member.mode != 0o644:
                fail(f"package: {member.name} is not a regular 0644 file")
            data = archive.extractfile(member).read()
            golden_path = os.path.join(reference, member.name[: -len(".pb")] + ".json")
            if not os.path.exists(golden_path):
                continue
            with open(golden_path) as f:
                golden = json.load(f)
            check_message(
                data,
                "flyteidl.admin.TaskSpec",
                golden,
                ["runtime"],
                False,
                f"package member {member.name}",
            )
    print(f"package: {len(names)} members named and shaped like pyflyte package's")


def main():
    emitted, fixtures = sys.argv[1], sys.argv[2]
    check_descriptors(os.path.join(emitted, "flyte-sql.descriptor_set.bin"))
    check_manifest(emitted, fixtures)
    check_package(os.path.join(emitted, "flyte-package.tgz"), fixtures)
    if FAILURES:
        print(f"conformance oracle: {len(FAILURES)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("conformance oracle: ok")


if __name__ == "__main__":
    main()
