"""The tests' client of their object-store servers (tests/src/stores.rs starts them).

Usage: stores.py KIND PORT COMMAND ARGS...
  KIND: s3 (moto), azure (Azurite); PORT: the server's port on 127.0.0.1
  create-bucket BUCKET | put BUCKET KEY FILE | get BUCKET KEY FILE (prints found/missing) |
  list BUCKET PREFIX (one key a line; unfinished multipart uploads as upload:KEY) |
  parts BUCKET KEY (s3: how many parts the object was uploaded in)
"""

import sys

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def s3(port):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="flyte-sql-test",
        aws_secret_access_key="flyte-sql-test-secret",
        region_name="us-east-1",
    )


def azure(port):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(
        account_url=f"http://127.0.0.1:{port}/devstoreaccount1", credential=AZURITE_KEY
    )


def main(kind, port, command, *args):
    if kind == "s3":
        client = s3(port)
        if command == "create-bucket":
            client.create_bucket(Bucket=args[0])
        elif command == "put":
            client.upload_file(args[2], args[0], args[1])
        elif command == "get":
            try:
                client.download_file(args[0], args[1], args[2])
                print("found")
            except client.exceptions.ClientError:
                print("missing")
        elif command == "parts":
            etag = client.head_object(Bucket=args[0], Key=args[1])["ETag"].strip('"')
            print(etag.split("-")[1] if "-" in etag else "1")
        elif command == "list":
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1])
            for page in pages:
                for item in page.get("Contents", []):
                    print(item["Key"])
            uploads = client.list_multipart_uploads(Bucket=args[0], Prefix=args[1])
            for upload in uploads.get("Uploads", []):
                print("upload:" + upload["Key"])
    elif kind == "azure":
        service = azure(port)
        if command == "create-bucket":
            service.create_container(args[0])
        elif command == "put":
            with open(args[2], "rb") as data:
                service.get_blob_client(args[0], args[1]).upload_blob(data, overwrite=True)
        elif command == "get":
            blob = service.get_blob_client(args[0], args[1])
            if blob.exists():
                with open(args[2], "wb") as out:
                    out.write(blob.download_blob().readall())
                print("found")
            else:
                print("missing")
        elif command == "list":
            container = service.get_container_client(args[0])
            committed = {blob.name for blob in container.list_blobs(name_starts_with=args[1] or None)}
            for name in committed:
                print(name)
            # The staged blocks of an unfinished upload show only as uncommitted blobs.
            for blob in container.list_blobs(name_starts_with=args[1] or None, include=["uncommittedblobs"]):
                if blob.name not in committed:
                    print("upload:" + blob.name)
    else:
        raise SystemExit(f"unknown store {kind}")


if __name__ == "__main__":
    main(*sys.argv[1:])
