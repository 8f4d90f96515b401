"""contrib/slurm/laminar.sbatch outside Slurm, with a fake srun and sbatch on PATH.

usage: test_slurm.py LAMINAR SCRIPT

Slurm's part is played by this driver and two stubs: the driver sends SIGTERM to the batch script
once laminar has written its first checkpoint (what `--signal=B:TERM@120` does before the time
limit); the fake srun runs its command and forwards SIGTERM to it (as srun forwards signals to its
tasks); the fake sbatch records its arguments and runs the script it was given once, synchronously
(a second submission is refused). Checked:
  - chain: the first laminar exits 143 with a checkpoint, the script resubmits itself once with the
    same arguments and LAMINAR_RESUBMIT=1, the second job resumes and completes the run: laminar.h5
    holds every step and equals an uninterrupted run's, bit for bit;
  - limit: with LAMINAR_MAX_RESUBMITS=0 the script does not resubmit and exits 143, saying so.
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

laminar, script = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
tmp = tempfile.mkdtemp(prefix="laminar-slurm-")
STEPS = 4000

NET = """
simulation: {{steps: {steps}, display_period: 25, batch_size: 2, output: unused, checkpoint_every: 200,
             checkpoint_keep: 2, seed: 5}}
layers:
  Input: {{type: ImageInput, path: {data}, shuffle: true, normalize: standardize}}
  E: {{type: Error}}
  V1: {{type: LCA, nx: 16, ny: 16, nf: 16, tau: 20, lambda: 0.1, init_membrane: uniform, reset_on: Input}}
connections:
  I: {{type: Identity, pre: Input, post: E}}
  D: {{type: Convolution, pre: V1, post: E, channel: inhibitory, patch_size: 4, learning_rate: 0.05, momentum: 0.5}}
  T: {{type: Transpose, original: D, pre: E, post: V1}}
probes:
  Energy: {{type: Energy}}
  Rec: {{type: ActivityRecorder, layer: V1, period: 500}}
"""

FAKE_SRUN = """#!/bin/bash
# fake srun: run the command; forward SIGTERM to it as srun forwards signals to its tasks.
printf '%s\\n' "$*" >> "$FAKE_LOG/srun.log"
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM
while :; do
  wait "$child"; rc=$?
  kill -0 "$child" 2>/dev/null || break
done
exit "$rc"
"""

FAKE_SBATCH = """#!/bin/bash
# fake sbatch: record the arguments and LAMINAR_RESUBMIT, run the script once (synchronously).
printf '%s\\n' "LAMINAR_RESUBMIT=${LAMINAR_RESUBMIT:-} $*" >> "$FAKE_LOG/sbatch.log"
if [[ -e "$FAKE_LOG/sbatch.once" ]]; then echo "fake sbatch: a second resubmission" >&2; exit 1; fi
touch "$FAKE_LOG/sbatch.once"
while [[ $# -gt 0 && $1 == -* ]]; do shift; done
echo "Submitted batch job 2"
bash "$@"
"""


def fail(msg):
    sys.exit(f"FAIL: {msg}\n(work folder kept: {tmp})")


def make():
    rng = np.random.default_rng(3)
    data = os.path.join(tmp, "x.h5")
    with h5py.File(data, "w") as f:
        f["images"] = rng.standard_normal((7, 32, 32, 1)).astype(np.float32)
    p = os.path.join(tmp, "p.yaml")
    with open(p, "w") as f:
        f.write(NET.format(steps=STEPS, data=data))
    return p


def fakes(name):
    d = os.path.join(tmp, name)
    os.makedirs(os.path.join(d, "bin"))
    for tool, text in (("srun", FAKE_SRUN), ("sbatch", FAKE_SBATCH)):
        path = os.path.join(d, "bin", tool)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    env = dict(os.environ, PATH=os.path.join(d, "bin") + os.pathsep + os.environ["PATH"], FAKE_LOG=d,
               LAMINAR=laminar)
    for k in ("LAMINAR_RESUBMIT", "LAMINAR_SBATCH_ARGS", "SLURM_SUBMIT_DIR", "SLURM_JOB_ID", "SLURM_CPUS_PER_TASK"):
        env.pop(k, None)
    return d, env


def lines(path):
    return open(path).read().splitlines() if os.path.exists(path) else []


def interrupted_job(params, out, env):
    """Start the batch script; SIGTERM it (as Slurm would) once laminar has written a checkpoint."""
    log = open(os.path.join(env["FAKE_LOG"], "job.log"), "w")
    p = subprocess.Popen(["bash", script, params, out, "-q"], env=env, stdout=log, stderr=subprocess.STDOUT,
                         cwd=tmp)
    deadline = time.time() + 120
    while not glob.glob(os.path.join(out, "checkpoints", "step-*.h5")):
        if p.poll() is not None:
            fail(f"the job ended (exit {p.returncode}) before its first checkpoint:\n" +
                 open(log.name).read())
        if time.time() > deadline:
            p.kill()
            fail("no checkpoint after 120 s")
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("the job did not end within 300 s of SIGTERM")
    log.close()
    return rc, open(log.name).read()


def datasets(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


params = make()

# The reference: the same run, uninterrupted.
ref = os.path.join(tmp, "ref")
r = subprocess.run([laminar, "run", params, "-q", "-o", ref], capture_output=True, text=True)
if r.returncode:
    fail(f"reference run: exit {r.returncode}\n{r.stdout}{r.stderr}")

# chain: interrupted once, resubmitted once, complete.
d, env = fakes("chain")
env["LAMINAR_MAX_RESUBMITS"] = "3"
out = os.path.join(tmp, "out")
rc, log = interrupted_job(params, out, env)
if rc != 0:
    fail(f"chain: the batch script exited {rc}, expected 0\n{log}")
srun = lines(os.path.join(d, "srun.log"))
sbatch = lines(os.path.join(d, "sbatch.log"))
expected_run = f"{laminar} run {params} --resume -o {out} -q"
if srun != [expected_run, expected_run]:
    fail(f"chain: srun ran {srun}, expected twice {expected_run!r}\n{log}")
if sbatch != [f"LAMINAR_RESUBMIT=1 --export=ALL {script} {params} {out} -q"]:
    fail(f"chain: sbatch was called as {sbatch}\n{log}")
for needle in ("SIGTERM: asking laminar to checkpoint", "resubmitting (resubmission 1 of 3)",
               "submission 2 of at most 4", "the run is complete"):
    if needle not in log:
        fail(f"chain: the job log lacks {needle!r}\n{log}")
got, want = datasets(os.path.join(out, "laminar.h5")), datasets(os.path.join(ref, "laminar.h5"))
if not np.array_equal(got.get("probes/Energy/step"), np.arange(STEPS)):
    fail(f"chain: probes/Energy/step is not 0..{STEPS - 1}: {got.get('probes/Energy/step')}")
if sorted(got) != sorted(want):
    fail(f"chain: datasets {sorted(got)} differ from the uninterrupted run's {sorted(want)}")
for name in want:
    if not np.array_equal(got[name], want[name]):
        fail(f"chain: {name} differs from the uninterrupted run's")
print(f"chain: interrupted, resubmitted once, complete ({STEPS} steps, equal to the uninterrupted run)")

# limit: no resubmission beyond LAMINAR_MAX_RESUBMITS.
d, env = fakes("limit")
env["LAMINAR_MAX_RESUBMITS"] = "0"
out = os.path.join(tmp, "out-limit")
rc, log = interrupted_job(params, out, env)
if rc != 143:
    fail(f"limit: the batch script exited {rc}, expected 143\n{log}")
if lines(os.path.join(d, "sbatch.log")):
    fail(f"limit: sbatch was called: {lines(os.path.join(d, 'sbatch.log'))}")
if "LAMINAR_MAX_RESUBMITS=0" not in log or "not resubmitting" not in log:
    fail(f"limit: the job log does not say why it stopped\n{log}")
print("limit: not resubmitted beyond LAMINAR_MAX_RESUBMITS, exit 143")
shutil.rmtree(tmp)
