"""`laminar --version`: "laminar X.Y.Z (commit HASH[-dirty])", the version being CMakeLists.txt's and
CITATION.cff's, the commit one of this checkout's (or "unknown" outside git).

usage: test_version.py LAMINAR PROJECT_VERSION SOURCE_DIR
"""
import os
import re
import subprocess
import sys

laminar, version, source = sys.argv[1:4]

r = subprocess.run([laminar, "--version"], capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"laminar --version: exit {r.returncode}\n{r.stdout}{r.stderr}")
line = r.stdout.strip()
m = re.fullmatch(r"laminar (\d+\.\d+\.\d+) \(commit ([0-9a-f]{7,40}(?:-dirty)?|unknown)\)", line)
if not m:
    sys.exit(f"laminar --version printed {line!r}; expected 'laminar X.Y.Z (commit abcdef[-dirty])'")
if m.group(1) != version:
    sys.exit(f"laminar --version says {m.group(1)}, CMakeLists.txt says {version}")

commit = m.group(2)
in_git = subprocess.run(["git", "-C", source, "rev-parse", "--show-toplevel"], capture_output=True,
                        text=True).returncode == 0
if in_git and commit == "unknown":
    sys.exit(f"laminar --version says commit unknown, but {source} is a git checkout")
if commit != "unknown":
    # The hash names a commit of this repository (HEAD may have moved on since the build).
    h = commit.removesuffix("-dirty")
    if subprocess.run(["git", "-C", source, "cat-file", "-e", h + "^{commit}"], capture_output=True).returncode:
        sys.exit(f"laminar --version names commit {h}, which {source} does not hold")

with open(os.path.join(source, "CITATION.cff")) as f:
    cff = f.read()
cv = re.search(r"^version:\s*['\"]?([^'\"\s]+)", cff, re.M)
if not cv or cv.group(1) != version:
    sys.exit(f"CITATION.cff version {cv.group(1) if cv else '(none)'} differs from CMakeLists.txt's {version}")
print(line)
