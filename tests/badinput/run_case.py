#!/usr/bin/python3
"""Run one hostile-input case against the laminar executable and check that it fails cleanly.

Usage: run_case.py LAMINAR_EXE CASE_FILE [--show]

A case is a YAML params file under cases/ whose leading comment lines say what to run and expect:

    # Case: one line saying what is wrong
    # args: check {params}            (default; the command line after `laminar`)
    # exit: 2                         (default 2: a user error)
    # expect: {name}:12:5             (substrings stderr must contain; repeatable)
    # expect-file: {work}/out/x.h5    (exit 0 only: a file the run must have written; repeatable)

Substitutions in args and expect: {params} the case file, {name} its file name, {work} the
scratch working directory (laminar runs there, so relative data paths such as data/tiny.idx
resolve in it), {data} = {work}/data. In args, '' alone is an empty argument.

Every non-zero case must: exit with the expected code (not a signal), finish within the timeout,
and print exactly one `laminar: error:` message on stderr, at its start, with no crash noise
(terminate called, Aborted, HDF5 diagnostic stacks, internal errors, sanitizer reports).
An `exit: 0` case is a control: it must succeed, print the expected substrings on stdout, write
the expected files and nothing on stderr.

The data fixtures are copied from data/ and generated here (small binary files, so nothing
binary is committed): see make_fixtures().
"""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 30
FORBIDDEN = [
    "terminate called", "Aborted", "Segmentation fault", "core dumped", "HDF5-DIAG", "#000:",
    "internal error", "what():", "std::", "AddressSanitizer", "runtime error:", "Traceback",
]


def write_idx(path, images, magic=b"\x00\x00\x08\x03", count=None, extra=b""):
    """An IDX3 unsigned-byte file; `count` overrides the header's image count (to lie about it)."""
    n, h, w = images.shape
    with open(path, "wb") as f:
        f.write(magic)
        f.write(struct.pack(">III", n if count is None else count, h, w))
        f.write(images.astype(np.uint8).tobytes())
        f.write(extra)


def write_png(path, pixels):
    """A greyscale 8-bit PNG written with zlib alone (no imaging library needed)."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def make_fixtures(data):
    """data/ of the scratch directory: committed text fixtures plus generated binary ones."""
    shutil.copytree(os.path.join(HERE, "data"), data)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(4, 8, 8))
    write_idx(os.path.join(data, "tiny.idx"), imgs)                          # valid: 4 images of 8x8
    write_idx(os.path.join(data, "bad-magic.idx"), imgs, magic=b"PK\x03\x04")  # e.g. a zip file renamed
    write_idx(os.path.join(data, "truncated.idx"), imgs, count=1000)          # header promises 1000 images
    with open(os.path.join(data, "tiny.idx"), "rb") as f:
        gz = gzip.compress(f.read())
    with open(os.path.join(data, "truncated.idx.gz"), "wb") as f:
        f.write(gz[: len(gz) // 2])                                           # a download cut short
    with open(os.path.join(data, "empty.idx"), "wb"):
        pass
    os.makedirs(os.path.join(data, "folder-ok"))
    os.makedirs(os.path.join(data, "folder-mixed"))
    for i in range(3):
        write_png(os.path.join(data, "folder-ok", f"img{i}.png"), imgs[i])
        write_png(os.path.join(data, "folder-mixed", f"img{i}.png"), imgs[i])
    write_png(os.path.join(data, "folder-mixed", "img3.png"), rng.integers(0, 256, size=(6, 10)))
    os.makedirs(os.path.join(data, "folder-corrupt"))
    write_png(os.path.join(data, "folder-corrupt", "img0.png"), imgs[0])
    with open(os.path.join(data, "folder-corrupt", "img1.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nthis is not really a png")
    import h5py  # only here: a missing h5py should not hide the other fixtures' errors
    with h5py.File(os.path.join(data, "weights-wrong-shape.h5"), "w") as f:
        f["weights"] = np.zeros((4, 3, 3, 1), np.float32)  # the cases' Dictionary needs (4, 4, 4, 1)
    with h5py.File(os.path.join(data, "weights-ok.h5"), "w") as f:
        f["weights"] = np.full((4, 4, 4, 1), 0.25, np.float32)
    with h5py.File(os.path.join(data, "no-images.h5"), "w") as f:
        f["images"] = np.zeros((0, 8, 8), np.uint8)
    with h5py.File(os.path.join(data, "strings.h5"), "w") as f:
        f["images"] = np.array([b"abc"] * 4)
    with open(os.path.join(data, "deep.yaml"), "w") as f:
        f.write("simulation: " + "[" * 5000 + "]" * 5000 + "\n")
    with open(os.path.join(data, "not-hdf5.h5"), "wb") as f:
        f.write(b"plain text, not HDF5\n")
    with open(os.path.join(data, "garbage.yaml"), "wb") as f:
        f.write(bytes(np.random.default_rng(1).integers(0, 256, size=512, dtype=np.uint8)))
    with open(os.path.join(data, "a-regular-file"), "w") as f:
        f.write("output cannot go under this\n")
    # Special files and what laminar used to accept silently or report misleadingly (cases C3-...).
    os.mkfifo(os.path.join(data, "fifo"))  # opening it for reading blocks until a writer comes: never
    for name, text in [("labels-bom.csv", "\ufefffile,label\nimg0.png,shoe\nimg1.png,bag\nimg2.png,shirt\n"),
                       ("labels-header-only.csv", "file,label\n"),
                       ("labels-partial.csv", "file,label\nimg0.png,shoe\nimg2.png,shirt\n"),
                       ("labels-no-match.csv", "file,label\nimg0,shoe\nimg1,bag\nimg2,shirt\n")]:  # no extension
        with open(os.path.join(data, name), "w", encoding="utf-8") as f:
            f.write(text)
    os.makedirs(os.path.join(data, "folder-corrupt-data"))  # valid headers, one with corrupt pixel data
    for i in range(3):
        write_png(os.path.join(data, "folder-corrupt-data", f"img{i}.png"), imgs[i])
    with open(os.path.join(data, "folder-corrupt-data", "img1.png"), "r+b") as f:
        png = bytearray(f.read())
        idat = png.index(b"IDAT") + 4
        png[idat:idat + 12] = b"\xff" * 12  # the zlib stream's start: the CRC is not checked by stb
        f.seek(0)
        f.write(png)
    os.makedirs(os.path.join(data, "folder-too-large"))  # a PNG header over stb_image's limits
    write_png(os.path.join(data, "folder-too-large", "img0.png"), imgs[0])
    with open(os.path.join(data, "folder-too-large", "img1.png"), "wb") as f:
        ihdr = b"IHDR" + struct.pack(">IIBBBBB", 20000, 20000, 8, 6, 0, 0, 0)  # RGBA: 1.6 GB of pixels
        f.write(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF))
        f.write(struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND") & 0xFFFFFFFF))
    with h5py.File(os.path.join(data, "dangling.h5"), "w") as f:
        f["images"] = h5py.SoftLink("/nowhere")
        f["weights"] = h5py.SoftLink("/nowhere")
    with h5py.File(os.path.join(data, "external.h5"), "w") as f:
        f["images"] = h5py.ExternalLink("weights-ok.h5", "/weights")
    with h5py.File(os.path.join(data, "damaged.h5"), "w") as f:
        f["images"] = np.zeros((4, 8, 8), np.uint8)
        header = h5py.h5o.get_info(f["images"].id).addr  # the dataset's object header
    with open(os.path.join(data, "damaged.h5"), "r+b") as f:
        f.seek(header)
        f.write(b"\xff" * 64)
    make_audio_fixtures(data)


def write_wav(path, samples, rate=8000, channels=1):
    """16-bit PCM WAV with the standard library's wave module."""
    import wave
    data = np.asarray(samples, np.int16).tobytes()
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)


def make_audio_fixtures(data):
    """Recordings for the AudioInput cases (W*)."""
    import h5py
    tone = (8000 * np.sin(np.arange(1000) * 0.3)).astype(np.int16)
    folders = {k: os.path.join(data, k) for k in
               ("audio-ok", "audio-none", "audio-corrupt", "audio-empty", "audio-stereo", "audio-rates")}
    for d in folders.values():
        os.makedirs(d)
    for name in ("a.wav", "b.wav"):
        write_wav(os.path.join(folders["audio-ok"], name), tone)
    with open(os.path.join(folders["audio-none"], "readme.txt"), "w") as f:
        f.write("no recordings here\n")
    write_wav(os.path.join(folders["audio-corrupt"], "a.wav"), tone)
    with open(os.path.join(folders["audio-corrupt"], "b.wav"), "w") as f:
        f.write("plain text saved as .wav\n")
    write_wav(os.path.join(folders["audio-empty"], "a.wav"), tone)
    write_wav(os.path.join(folders["audio-empty"], "b.wav"), np.zeros(0, np.int16))
    write_wav(os.path.join(folders["audio-stereo"], "a.wav"), np.repeat(tone, 2), channels=2)
    write_wav(os.path.join(folders["audio-rates"], "a.wav"), tone, rate=8000)
    write_wav(os.path.join(folders["audio-rates"], "b.wav"), tone, rate=16000)
    with h5py.File(os.path.join(data, "waves-norate.h5"), "w") as f:
        f["waveforms"] = np.zeros((3, 500), np.float32)
    with h5py.File(os.path.join(data, "waves-3d.h5"), "w") as f:
        d = f.create_dataset("waveforms", data=np.zeros((3, 5, 100), np.float32))
        d.attrs["sample_rate"] = 8000
    with open(os.path.join(data, "pairs-missing.csv"), "w") as f:
        f.write("file,label,audio\nimg0.png,0,a.wav\nimg1.png,1,\nimg2.png,2,nothere.wav\n")
    with open(os.path.join(data, "pairs-ok.csv"), "w") as f:
        f.write("file,label,audio\nimg0.png,0,a.wav\nimg1.png,1,\nimg2.png,2,b.wav\n")


def parse_case(path):
    spec = {"args": "check {params}", "exit": 2, "expect": [], "files": [], "case": ""}
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            body = line[1:].strip()
            key, sep, value = body.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key == "args":
                spec["args"] = value
            elif key == "exit":
                spec["exit"] = int(value)
            elif key == "expect-file":
                spec["files"].append(value)
            elif key == "expect":
                spec["expect"].append(value)
            elif key == "case":
                spec["case"] = value
    if not spec["case"]:
        raise SystemExit(f"{path}: missing '# Case:' line")
    return spec


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    exe, case_file = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    show = "--show" in sys.argv[3:]
    spec = parse_case(case_file)
    failures = []
    with tempfile.TemporaryDirectory(prefix="laminar-badinput-") as work:
        data = os.path.join(work, "data")
        make_fixtures(data)
        subst = {"params": case_file, "name": os.path.basename(case_file), "work": work, "data": data}
        args = ["" if a == "''" else a.format(**subst) for a in spec["args"].split()]
        expect = [e.format(**subst) for e in spec["expect"]]
        try:
            proc = subprocess.run([exe] + args, cwd=work, capture_output=True, text=True, errors="replace",
                                  timeout=TIMEOUT_S, env=dict(os.environ, OMP_NUM_THREADS="1"))
        except subprocess.TimeoutExpired:
            print(f"FAIL {spec['case']}: laminar {' '.join(args)} did not finish within {TIMEOUT_S} s (hang?)")
            return 1
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
        if show:
            print(f"$ laminar {' '.join(args)}\n[exit {rc}]\n--- stderr\n{err}--- stdout\n{out}---")
        if rc < 0:
            failures.append(f"killed by signal {-rc}")
        elif rc != spec["exit"]:
            failures.append(f"exit code {rc}, expected {spec['exit']}")
        text = err if spec["exit"] != 0 else out
        for e in expect:
            if e not in text:
                failures.append(f"{'stderr' if spec['exit'] else 'stdout'} lacks {e!r}")
        if spec["exit"] != 0:
            if not err.startswith("laminar: error: "):
                failures.append("stderr does not start with 'laminar: error: '")
            if err.count("laminar: error:") != 1:
                failures.append(f"stderr holds {err.count('laminar: error:')} 'laminar: error:' messages, expected 1")
            if len(err.strip().splitlines()) > 2:
                failures.append(f"stderr has {len(err.strip().splitlines())} lines, expected one message")
            for bad in FORBIDDEN:
                if bad in err:
                    failures.append(f"stderr contains {bad!r}")
        else:
            if err.strip():
                failures.append("a control case wrote to stderr")
            for path in spec["files"]:
                if not os.path.isfile(path.format(**subst)):
                    failures.append(f"the run did not write {path}")
    if failures:
        print(f"FAIL {os.path.basename(case_file)}: {spec['case']}")
        print(f"  command: laminar {' '.join(args)}  (in {work})")
        for f in failures:
            print(f"  - {f}")
        print("  stderr was:\n    " + "\n    ".join(err.splitlines() or ["<empty>"]))
        return 1
    print(f"ok {os.path.basename(case_file)}: {err.strip() if spec['exit'] else 'control passed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
