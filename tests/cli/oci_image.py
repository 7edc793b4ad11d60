#!/usr/bin/env python3
"""Builds OCI images for the tests and the bench, without docker.

    oci_image.py SPEC.json (--layout DIR | --docker FILE | --oci-tar FILE)
                 [--gzip | --zstd] [--mtime N] [--corrupt-layer N]

SPEC: {"config": {"Entrypoint": [...], "Cmd": [...], "Env": [...],
                  "WorkingDir": "...", "User": "..."},
       "layers": [[ENTRY, ...], ...]}
ENTRY: {"path": "bin/app", "type": "file"|"dir"|"symlink"|"hardlink"|"fifo"|"chr",
        "data": "text" | "random": N (N pseudo-random bytes, seeded by path),
        "mode": 493, "target": "...", "declared_size": N (a header claiming N
        bytes, followed by no data: a hostile layer)}
--layout writes an OCI image layout directory, --docker a `docker save`
archive (manifest.json, <id>/layer.tar, <config sha>.json), --oci-tar the
OCI layout as a tar (what docker >= 25 saves). --corrupt-layer N flips one
byte of layer N's blob after its digest was computed.
"""
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile


def entry_bytes(e):
    if "random" in e:
        rnd = random.Random(e["path"])
        return rnd.randbytes(e["random"])
    return e.get("data", "").encode()


def layer_tar(entries, mtime):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["path"])
            ti.mtime = mtime
            ti.uid = ti.gid = 1000 + (mtime % 7)  # owners never matter
            ti.mode = e.get("mode", 0o755 if e["type"] == "dir" else 0o644)
            kind = e["type"]
            if kind == "file" and "declared_size" in e:
                ti.size = e["declared_size"]
                hdr = ti.tobuf(tarfile.PAX_FORMAT, t.encoding, t.errors)
                t.fileobj.write(hdr)
                t.offset += len(hdr)
                continue
            if kind == "file":
                data = entry_bytes(e)
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                       "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
                       "chr": tarfile.CHRTYPE}[kind]
            ti.linkname = e.get("target", "")
            t.addfile(ti)
    return buf.getvalue()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def build(spec, gz, mtime, corrupt):
    """Returns (files, index) where files maps archive paths to bytes."""
    layers, diff_ids = [], []
    for entries in spec["layers"]:
        raw = layer_tar(entries, mtime)
        diff_ids.append("sha256:" + sha(raw))
        if gz == "zstd":
            layers.append(subprocess.run(["zstd", "-q", "-c"], input=raw, check=True,
                                         capture_output=True).stdout)
        else:
            layers.append(gzip.compress(raw, mtime=0) if gz else raw)
    config = {"architecture": "amd64", "os": "linux", "config": spec.get("config", {}),
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cfg = json.dumps(config).encode()
    return layers, cfg


def corrupt_blob(b):
    if not b:
        return b
    i = len(b) // 2
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1:]


def oci_files(layers, cfg, gz, corrupt):
    mt = "application/vnd.oci.image.layer.v1.tar" + ({"zstd": "+zstd", True: "+gzip"}.get(gz, ""))
    files = {}
    descs = []
    for i, l in enumerate(layers):
        files["blobs/sha256/" + sha(l)] = corrupt_blob(l) if corrupt == i + 1 else l
        descs.append({"mediaType": mt, "digest": "sha256:" + sha(l), "size": len(l)})
    files["blobs/sha256/" + sha(cfg)] = cfg
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": "sha256:" + sha(cfg), "size": len(cfg)},
                      "layers": descs}).encode()
    files["blobs/sha256/" + sha(man)] = man
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:" + sha(man), "size": len(man),
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    return files


def docker_files(layers, cfg, corrupt):
    files, names = {}, []
    for i, l in enumerate(layers):
        name = "%s/layer.tar" % sha(l)
        files[name] = corrupt_blob(l) if corrupt == i + 1 else l
        names.append(name)
    files[sha(cfg) + ".json"] = cfg
    files["manifest.json"] = json.dumps([{"Config": sha(cfg) + ".json",
                                          "RepoTags": ["test:latest"],
                                          "Layers": names}]).encode()
    return files


def write_tar(path, files):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(files):
            ti = tarfile.TarInfo(name)
            ti.size = len(files[name])
            t.addfile(ti, io.BytesIO(files[name]))


def main():
    args = sys.argv[1:]
    spec = json.load(open(args[0]))
    gz = "zstd" if "--zstd" in args else "--gzip" in args
    mtime = int(args[args.index("--mtime") + 1]) if "--mtime" in args else 1700000000
    corrupt = int(args[args.index("--corrupt-layer") + 1]) if "--corrupt-layer" in args else 0
    layers, cfg = build(spec, gz, mtime, corrupt)
    if "--layout" in args:
        out = args[args.index("--layout") + 1]
        for name, data in oci_files(layers, cfg, gz, corrupt).items():
            p = os.path.join(out, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "wb").write(data)
    elif "--oci-tar" in args:
        write_tar(args[args.index("--oci-tar") + 1], oci_files(layers, cfg, gz, corrupt))
    elif "--docker" in args:
        write_tar(args[args.index("--docker") + 1], docker_files(layers, cfg, corrupt))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
