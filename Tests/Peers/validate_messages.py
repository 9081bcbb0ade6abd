#!/usr/bin/python3
"""Validates hubmeter MQTT messages against the v1 JSON Schemas (Debian's python3-jsonschema).

Usage: validate_messages.py SCHEMA_DIR SCHEMA_NAME FILE...
Prints one line per invalid file ("FILE: error at PATH: message") and exits 1 if any is invalid.
"""
import json
import pathlib
import sys

import jsonschema


def main():
    schema_dir = pathlib.Path(sys.argv[1])
    # Debian 12 ships jsonschema 4.10: references resolve through a RefResolver store.
    store = {}
    for path in schema_dir.glob("*.schema.json"):
        contents = json.loads(path.read_text())
        store[contents["$id"]] = contents
    schema = json.loads((schema_dir / f"{sys.argv[2]}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
    validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
    failures = 0
    for name in sys.argv[3:]:
        document = json.loads(pathlib.Path(name).read_text())
        for error in validator.iter_errors(document):
            failures += 1
            path = "/".join(str(part) for part in error.absolute_path)
            print(f"{name}: error at /{path}: {error.message}")
    print(f"{len(sys.argv) - 3} validated, {failures} errors")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
