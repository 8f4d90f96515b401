#!/usr/bin/python3
"""Tutorial 04: multimodal "concept" neurons in a linked joint layer, against a feed-forward autoencoder.

Kim, Hannan and Kenyon, "Deep Sparse Coding for Invariant Multimodal Halle Berry Neurons" (CVPR 2018),
sections 4.3-4.5, at Fashion-MNIST scale: each garment image is paired with its class name rendered
as text by TextInput (font family, style, size and position drawn per item, so a class's name is not
one pixel-identical image).

  1. data: CSVs naming each Fashion-MNIST item's class (train items from the training files, every
     analysis on held-out items from the test files), and the names rendered once by Laminar itself
     (the same pixels both models see)
  2. the deep sparse-coding network (DSC, concept.yaml) learns its five dictionaries on the pairs
  3. with its dictionaries fixed, DSC codes every test item three times: image and name, image only
     (name masked: the network generates it), name only (image masked: it generates the image)
  4. the feed-forward autoencoder (FFA, ffa.py, PyTorch) trains on the same pairs (25 epochs as in the
     paper) and codes the same test items the same three ways (a missing modality is a zero input)
  5. laminar.analysis on both joint codes: multimodal units, fraction nonzero, best single unit,
     single-cell information and cell types, t-SNE and k-NN separability, cross-modal transfer,
     activity-triggered averages; legibility of generated names (a classifier of TextInput's own
     renderings) and generated images (a Fashion-MNIST classifier)
  6. figures (PNG), results.json, and the table printed

usage: tutorial.py [--output DIR] [--laminar EXE] [--quick | --tiny] [--threads N] [--set KEY=VALUE]...
  --quick: a few minutes (fewer pairs, 200 LCA steps per input); --tiny: seconds, for the test suite.
"""
import argparse
import copy
import gzip
import json
import os
import sys
import time
import warnings

# laminar's OpenMP threads are given to each run; this process's own OpenMP/BLAS (scikit-learn's t-SNE,
# numpy) runs on one thread: OpenMP spinning beside a busy laminar or torch made t-SNE 30x slower.
LAMINAR_THREADS = os.environ.get("OMP_NUM_THREADS")
os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# small runs (--tiny) have classes with fewer items than the 5 cross-validation folds: said once here
warnings.filterwarnings("ignore", message="The least populated class in y has only")

import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

from laminar import analysis as A  # noqa: E402
from laminar.run import Run, run_laminar  # noqa: E402

PARAMS = os.path.join(HERE, "concept.yaml")
FASHION = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DICTIONARIES = ("Phi_V1", "Phi_V2", "Phi_T1", "Phi_PV", "Phi_PT")
CONDITIONS = ("pairs", "image_only", "text_only")  # what each test item is presented with


def settings(mode):
    # tau: the LCA layers' time constant, None: concept.yaml's (100, for 400 steps per input). Not below 50:
    # the explicit update u += (1 - exp(-dt/tau)) (...) diverges once the learned dictionaries' largest
    # eigenvalue of Phi^T Phi exceeds about 2 tau / dt (seen with tau 10 after four learning events).
    base = dict(n_train=3000, epochs=3, batch=20, period=400, tau=None, n_test=1000, p1=512, ffa_epochs=25,
                n_image_classifier=10000)
    if mode == "quick":
        base.update(n_train=480, epochs=1, period=200, tau=50, n_test=320, p1=256, ffa_epochs=10,
                    n_image_classifier=3000)
    if mode == "tiny":
        base.update(n_train=60, epochs=1, period=50, tau=50, n_test=60, p1=32, ffa_epochs=2, n_image_classifier=500)
    return base


# ---------------------------------------------------------------- data

def read_idx(name, count):
    """The first `count` items of a gzipped IDX file of Fashion-MNIST (images as float in [0, 1])."""
    with gzip.open(os.path.join(FASHION, name), "rb") as f:
        raw = f.read()
    if "labels" in name:
        return np.frombuffer(raw, np.uint8, offset=8)[:count].astype(np.int64)
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:count].astype(np.float32) / 255.0


def write_csv(path, labels, has_image, has_text):
    """The labels CSV ImageInput and TextInput read: file = the item's index in the IDX file."""
    with open(path, "w") as f:
        f.write("file,label,has_image,has_text\n")
        for i, c in enumerate(labels):
            f.write(f"{i},{CLASSES[c]},{int(has_image)},{int(has_text)}\n")


def by_item(run, probe, items_probe="Items"):
    """A recorder's samples [samples, batch, ...] reordered as [item, ...] by the items each batch element saw."""
    items = run.probe(items_probe)["item"].ravel()
    _, data = run.recorder(probe)
    data = data.reshape((-1,) + data.shape[2:])
    out = np.zeros((items.max() + 1,) + data.shape[1:], np.float64)
    out[items] = data
    if not np.array_equal(np.sort(items), np.arange(len(items))):
        raise RuntimeError(f"{run.file}: {probe} does not hold every item exactly once")
    return out


def render_texts(exe, out, split, n, csv, text_params, batch, log):
    """TextInput's rendering of the first n items' names (one Laminar run: ImageInput + TextInput, no network)."""
    params = dict(
        simulation=dict(steps=n // batch, display_period=1, batch_size=batch, seed=1, csv=False, output=out),
        layers=dict(Image=dict(type="ImageInput", path=f"{FASHION}/{split}-images-idx3-ubyte.gz", labels=csv,
                               limit=n, present_column="has_image"),
                    Text=dict(text_params)),
        connections={},
        probes=dict(Names=dict(type="ActivityRecorder", layer="Text", period=1),
                    Items=dict(type="ActivityRecorder", layer="Image", period=1)))
    path = out + ".yaml"
    with open(path, "w") as f:
        yaml.safe_dump(params, f, sort_keys=False)
    return by_item(run_laminar(exe, path, out, [], log, threads="1", overwrite=True), "Names")[..., 0].astype(np.float32)


# ---------------------------------------------------------------- the sparse-coding network

def dsc_params(cfg, base, **over):
    """concept.yaml with this run's sizes and data (a dict, written next to the run's output)."""
    p = copy.deepcopy(base)
    sim = p["simulation"]
    sim.update(batch_size=cfg["batch"], display_period=cfg["period"])
    p["layers"]["P1"]["nf"] = cfg["p1"]
    for layer in p["layers"].values():
        if layer["type"] == "LCA" and cfg["tau"]:
            layer["tau"] = cfg["tau"]
    p["probes"]["Energy"]["period"] = cfg["period"]
    for k, v in over.items():
        node = p
        *path, last = k.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = v
    return p


def laminar_dict(exe, params, out, sets, log, threads, progress=False):
    path = out + ".yaml"
    with open(path, "w") as f:
        yaml.safe_dump(params, f, sort_keys=False)
    t0 = time.time()
    run = run_laminar(exe, path, out, sets, log, threads=threads, progress=progress, overwrite=True)
    return run, time.time() - t0


def dsc_infer(exe, cfg, base, out, wfile, csv, condition, log, sets, threads):
    n, B, T = cfg["n_test"], cfg["batch"], cfg["period"]
    over = {"simulation.steps": n // B * T, "layers.Image.path": f"{FASHION}/t10k-images-idx3-ubyte.gz",
            "layers.Image.labels": csv, "layers.Image.limit": n, "layers.Image.shuffle": False,
            "probes.ImageReconstruction": dict(type="ActivityRecorder", layer="E_V1", buffer="inhibitory"),
            "probes.TextReconstruction": dict(type="ActivityRecorder", layer="E_T1", buffer="inhibitory")}
    if condition == "pairs":  # the energy at every step: the evidence that 400 steps settle the code
        over["probes.Energy.period"] = 1
    # A missing modality's input chain is removed (the paper's figure 10): its error is masked at the bottom
    # (no drive, no learning) and its joint error no longer reaches P1, so P1 is not pulled toward
    # predicting an empty stream; top-down feedback still runs, so P1's prediction generates the stream.
    if condition == "image_only":
        over["connections.E_PTToP1.channel"] = "none"
    if condition == "text_only":
        over["connections.E_PVToP1.channel"] = "none"
    for c in DICTIONARIES:
        over.update({f"connections.{c}.learning_rate": 0, f"connections.{c}.init": "file",
                     f"connections.{c}.init_file": wfile, f"connections.{c}.init_dataset": c,
                     f"connections.{c}.normalize": "none"})
    run, secs = laminar_dict(exe, dsc_params(cfg, base, **over), os.path.join(out, f"dsc-{condition}"), sets, log,
                             threads)
    res = dict(codes=by_item(run, "JointCode").reshape(n, -1),
               image=by_item(run, "ImageReconstruction")[..., 0], text=by_item(run, "TextReconstruction")[..., 0],
               seconds=secs)
    if condition == "pairs":
        e = run.energy_arrays()
        res["energy"] = e["energy"].mean(axis=1)
        res["energy_step"] = e["step"]
    return res


# ---------------------------------------------------------------- classifiers for legibility

def contrast_normalized(X):
    """Each image with its mean removed and scaled to unit L2 norm: legibility is about shape, and generated
    images come at another contrast than the renderings (for both models)."""
    X = X.reshape(len(X), -1).astype(np.float64)
    X = X - X.mean(axis=1, keepdims=True)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def fit_classifier(X, y, seed=0):
    """Contrast-normalised pixels -> standardised -> multinomial logistic regression (its accuracy on real
    test data is reported beside every use, so an unconverged optimiser would show; its warning is
    silenced)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.1, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(contrast_normalized(X), y)


def accuracy(clf, X, y):
    return float(np.mean(clf.predict(contrast_normalized(X)) == y))


# ---------------------------------------------------------------- analyses of one model's joint codes

def analyse(codes, labels, test_images, test_texts, seed=0):
    """Every laminar.analysis number for one model; codes = {condition: (n, units)}."""
    pairs, img, txt = codes["pairs"], codes["image_only"], codes["text_only"]
    n = len(labels)
    half = np.arange(n) < n // 2  # fit on the first half of the test items, judge on the second
    r = {}
    r["fraction_nonzero"] = {c: A.fraction_nonzero(codes[c]) for c in CONDITIONS}
    mm = A.multimodal_units(img, txt, labels)
    for key, m in (("multimodal", mm), ("multimodal_selective", A.multimodal_units(img, txt, labels, selectivity=2.0))):
        r[key] = dict(count=int(m.count), fraction=float(m.fraction), units=int(img.shape[1]),
                      threshold=float(m.threshold),
                      counts_by_threshold={str(k): int(v) for k, v in m.counts_by_threshold.items()})
    r["multimodal_selective"]["selectivity"] = 2.0
    info_img = A.single_cell_information(img, labels, bins=10)
    info_txt = A.single_cell_information(txt, labels, bins=10)
    types, counts = A.classify_units(info_img, info_txt, thresholds=(0.96, 0.94))
    thr80 = (A.information_threshold(info_img, 80), A.information_threshold(info_txt, 80))
    _, counts80 = A.classify_units(info_img, info_txt, thresholds=thr80)
    r["cell_types"] = dict(thresholds=[0.96, 0.94], counts={k: int(v) for k, v in counts.items()},
                           percentile80_thresholds=[float(t) for t in thr80],
                           percentile80_counts={k: int(v) for k, v in counts80.items()},
                           max_information_bits=float(max(info_img.max(), info_txt.max())))
    r["best_single_unit"] = {}
    for c in ("pairs", "image_only", "text_only"):
        b = A.best_single_unit_accuracy(codes[c][half], labels[half], codes[c][~half], labels[~half])
        r["best_single_unit"][c] = dict(mean=float(b["mean_test_balanced_accuracy"]), per_class=[
            dict(cls=int(p["class"]), name=CLASSES[int(p["class"])], unit=int(p["unit"]),
                 threshold=float(p["threshold"]), fit=float(p["fit_balanced_accuracy"]),
                 test=float(p["test_balanced_accuracy"])) for p in b["per_class"]])
    r["knn_accuracy"] = float(A.knn_accuracy(pairs, labels, k=5, seed=seed))
    r["knn_accuracy_image_only"] = float(A.knn_accuracy(img, labels, k=5, seed=seed))
    t = A.cross_modal_transfer(img, txt, labels)
    r["cross_modal"] = {k: float(v) for k, v in t.items()}
    try:
        embedding = A.embedding_2d(pairs, method="tsne", pca=30, perplexity=30, seed=seed)
    except ValueError as e:  # a silent joint layer: nothing to draw, and results.json says why
        r["embedding_error"] = str(e)
        embedding = np.zeros((n, 2))
    arrays = dict(embedding=embedding, mean_by_class=A.mean_activation_by_class(pairs, labels)[1],
                  multimodal_mask=mm.mask, preferred_class=np.where(mm.preferred_index >= 0, mm.preferred_class, -1),
                  R_image=mm.R_image, R_text=mm.R_text, cell_types=np.asarray(types), info_image=info_img, info_text=info_txt)
    ata = A.activity_triggered_average(pairs, {"image": test_images, "text": test_texts})
    arrays["ata_image"], arrays["ata_text"] = ata["image"], ata["text"]
    return r, arrays


# ---------------------------------------------------------------- main

def produce(exe, cfg, out, sets, threads, log):
    """Steps 1-4: data, DSC training and test runs, FFA; returns everything the analyses read. laminar runs on
    OMP_NUM_THREADS threads when that was set, else on `threads` (as torch does)."""
    omp = LAMINAR_THREADS or str(threads)
    with open(PARAMS) as f:
        base = yaml.safe_load(f)
    B = cfg["batch"]
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    S = dict(y_train=read_idx("train-labels-idx1-ubyte.gz", cfg["n_train"]),
             y_test=read_idx("t10k-labels-idx1-ubyte.gz", cfg["n_test"]),
             x_test=read_idx("t10k-images-idx3-ubyte.gz", cfg["n_test"]))
    x_train = read_idx("train-images-idx3-ubyte.gz", cfg["n_train"])
    csv = {"train": os.path.join(data, "train.csv")}
    write_csv(csv["train"], S["y_train"], 1, 1)
    for c, (hi, ht) in zip(CONDITIONS, ((1, 1), (1, 0), (0, 1))):
        csv[c] = os.path.join(data, f"test-{c}.csv")
        write_csv(csv[c], S["y_test"], hi, ht)
    log(f"data: {cfg['n_train']} training pairs (Fashion-MNIST training files), {cfg['n_test']} test pairs "
        f"(test files); class counts in the test set {np.bincount(S['y_test'], minlength=10).tolist()}")
    text = base["layers"]["Text"]
    S["t_train"] = render_texts(exe, os.path.join(data, "render-train"), "train", cfg["n_train"], csv["train"], text,
                                B, log)
    S["t_test"] = render_texts(exe, os.path.join(data, "render-test"), "t10k", cfg["n_test"], csv["pairs"], text, B, log)

    # 2. DSC training
    steps = cfg["epochs"] * cfg["n_train"] // B * cfg["period"]
    log(f"DSC training: {cfg['epochs']} epochs of {cfg['n_train']} pairs, {cfg['period']} LCA steps each, "
        f"batch {B} ({steps} steps)")
    run, secs = laminar_dict(exe, dsc_params(cfg, base, **{
        "simulation.steps": steps, "layers.Image.labels": csv["train"], "layers.Image.limit": cfg["n_train"]}),
        os.path.join(out, "dsc-train"), sets, log, omp, progress=cfg["mode"] != "tiny")
    wfile = os.path.join(out, "dsc-dictionaries.h5")
    import h5py
    with h5py.File(wfile, "w") as f:
        for c in DICTIONARIES:
            f[c] = run.final_weights(c)
    e = run.energy_arrays()
    dsc_train = dict(seconds=secs, seconds_per_pair=secs / (cfg["epochs"] * cfg["n_train"]),
                     energy_first=float(e["energy"][0].mean()), energy_last=float(e["energy"][-1].mean()))
    S["train_energy_step"], S["train_energy"] = e["step"], e["energy"].mean(axis=1)
    if not np.all(np.isfinite(S["train_energy"])) or dsc_train["energy_last"] > 10 * dsc_train["energy_first"]:
        sys.exit(f"DSC training diverged: energy {dsc_train['energy_first']:.4g} at the first input, "
                 f"{dsc_train['energy_last']:.4g} at the last; lower the learning rates or raise tau")
    log(f"  {dsc_train['seconds_per_pair']:.3f} s per training pair; energy at the end of an input "
        f"{dsc_train['energy_first']:.2f} (first presentation) -> {dsc_train['energy_last']:.2f} (last)")

    # 3. DSC inference on the test items, three ways
    dsc = {}
    for c in CONDITIONS:
        log(f"DSC inference on {cfg['n_test']} test items: {c.replace('_', ' ')}")
        dsc[c] = dsc_infer(exe, cfg, base, out, wfile, csv[c], c, log, sets, omp)
        S[f"dsc_codes_{c}"], S[f"dsc_image_{c}"], S[f"dsc_text_{c}"] = dsc[c]["codes"], dsc[c]["image"], dsc[c]["text"]
    S["infer_energy_step"], S["infer_energy"] = dsc["pairs"]["energy_step"], dsc["pairs"]["energy"]

    # 4. FFA
    import ffa
    log(f"FFA training: {cfg['ffa_epochs']} epochs of the same {cfg['n_train']} pairs")
    model, hist = ffa.train_ffa(x_train, S["t_train"], epochs=cfg["ffa_epochs"], threads=threads,
                                log=lambda m: log("  " + m), joint=cfg["p1"], text_shape=S["t_train"].shape[1:])
    ffa.save(model, os.path.join(out, "ffa.pt"))
    for c, (im, tx) in zip(CONDITIONS, ((S["x_test"], S["t_test"]), (S["x_test"], None), (None, S["t_test"]))):
        S[f"ffa_codes_{c}"] = ffa.encode(model, im, tx).astype(np.float64)
        S[f"ffa_image_{c}"], S[f"ffa_text_{c}"] = ffa.decode(model, S[f"ffa_codes_{c}"])
    log(f"  {hist['seconds_per_pair']:.4f} s per training pair")
    timing = dict(dsc_seconds_per_training_pair=dsc_train["seconds_per_pair"],
                  dsc_seconds_per_test_item=dsc["pairs"]["seconds"] / cfg["n_test"],
                  ffa_seconds_per_training_pair=hist["seconds_per_pair"],
                  dsc_training_seconds=dsc_train["seconds"], ffa_training_seconds=hist["seconds"])
    trained = dict(timing=timing, dsc_training=dsc_train,
                   ffa_training={k: v for k, v in hist.items() if not isinstance(v, list)})
    return S, trained, wfile


def reload(src, log):
    """The arrays, timings and dictionaries of an earlier run (for --from)."""
    src = os.path.abspath(src)
    with open(os.path.join(src, "results.json")) as f:
        old = json.load(f)
    with np.load(os.path.join(src, "codes.npz")) as z:
        S = {k: z[k] for k in z.files if k.split("_")[0] not in ("dsc", "ffa") or "_codes_" in k
             or k.split("_")[1] in ("image", "text")}
    S["y_train"] = read_idx("train-labels-idx1-ubyte.gz", old["settings"]["n_train"])
    S["t_train"] = by_item(Run(os.path.join(src, "data", "render-train")), "Names")[..., 0].astype(np.float32)
    log(f"analyses again on the codes of {src} (trained {old['settings']['mode']}, "
        f"{old['timing']['dsc_training_seconds']:.0f} s of DSC training)")
    trained = {k: old[k] for k in ("timing", "dsc_training", "ffa_training")}
    trained["from"] = src
    return old["settings"], S, trained, os.path.join(src, "dsc-dictionaries.h5")


def generation_diagnostics(wfile, S, cfg):
    """Why a stream is (not) generated: P1's top-down prediction of the lower layer's membrane, p = Phi a_P1,
    against the activity threshold 2 lambda it must pass there when only feedback drives that layer (with
    the input masked, the lower layer settles at u = p - lambda, so a = p - 2 lambda)."""
    import h5py
    base = yaml.safe_load(open(PARAMS))
    out = {}
    with h5py.File(wfile, "r") as f:
        W = {"T1": np.asarray(f["Phi_PT"], np.float64), "V2": np.asarray(f["Phi_PV"], np.float64)}
    for c in CONDITIONS:
        a = S[f"dsc_codes_{c}"]
        d = dict(p1_mean_activity=float(a.mean()), p1_fraction_nonzero=float(np.mean(a > 0)))
        for layer, w in W.items():
            p = np.einsum("kyxf,nk->nyxf", w, a).reshape(len(a), -1)
            d[f"{layer}_prediction_max_median"] = float(np.median(p.max(axis=1)))
            d[f"{layer}_fraction_above_2lambda"] = float(np.mean(p > 2 * base["layers"][layer]["lambda"]))
        out[c] = d
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default=os.path.join(HERE, "output"))
    ap.add_argument("--laminar", default=os.environ.get("LAMINAR", os.path.join(ROOT, "build", "laminar")))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--tiny", action="store_true")
    g.add_argument("--from", dest="source", metavar="DIR",
                   help="no training: run the analyses and figures again on an earlier run's codes (into --output)")
    ap.add_argument("--threads", type=int, default=2,
                    help="OpenMP threads for laminar (OMP_NUM_THREADS, when set, wins) and torch threads for the FFA")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a params override for every DSC run (e.g. layers.P1.lambda=0.2)")
    a = ap.parse_args()
    out = os.path.abspath(a.output)
    exe = os.path.abspath(a.laminar)
    if not a.source and not os.path.exists(exe):
        sys.exit(f"{exe}: laminar not found; build it (cmake --build build) or pass --laminar")
    if a.source and not os.path.exists(os.path.join(a.source, "codes.npz")):
        sys.exit(f"{a.source}: no codes.npz here (not a finished run of this tutorial)")
    if os.path.isdir(out) and os.listdir(out):
        sys.exit(f"{out}: not empty (an earlier run?); give another --output or remove it")
    os.makedirs(out, exist_ok=True)
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:6.0f} s] {msg}", flush=True)

    if a.source:
        cfg, S, trained, wfile = reload(a.source, log)
    else:
        mode = "tiny" if a.tiny else "quick" if a.quick else "default"
        cfg = settings(mode)
        cfg.update(mode=mode, sets=list(a.set), threads=a.threads)
        for k in ("n_train", "n_test"):
            if cfg[k] % cfg["batch"]:
                sys.exit(f"{k} = {cfg[k]} must be a multiple of the batch size {cfg['batch']}")
        S, trained, wfile = produce(exe, cfg, out, a.set, a.threads, log)
    results = analyse_all(cfg, S, trained, wfile, out, log)
    results["seconds"] = time.time() - t_start
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print()
    print(table(results))
    print()
    print("wrote " + ", ".join(results["figures"]) + f" and results.json in {out} ({results['seconds']:.0f} s)")


def analyse_all(cfg, S, trained, wfile, out, log):
    """Step 5-6: legibility, every laminar.analysis number for both models, codes.npz, the figures."""
    y_test, x_test, t_test = S["y_test"], S["x_test"], S["t_test"]
    log("classifiers for legibility: rendered names (TextInput's own renderings) and Fashion-MNIST images")
    name_clf = fit_classifier(S["t_train"], S["y_train"])
    image_clf = fit_classifier(read_idx("train-images-idx3-ubyte.gz", cfg["n_image_classifier"]),
                               read_idx("train-labels-idx1-ubyte.gz", cfg["n_image_classifier"]))
    legibility = dict(
        name_classifier_on_rendered_test_names=accuracy(name_clf, t_test, y_test),
        image_classifier_on_test_images=accuracy(image_clf, x_test, y_test))
    for m in ("dsc", "ffa"):
        legibility.update({f"{m}_generated_names": accuracy(name_clf, S[f"{m}_text_image_only"], y_test),
                           f"{m}_generated_images": accuracy(image_clf, S[f"{m}_image_text_only"], y_test),
                           f"{m}_reconstructed_names": accuracy(name_clf, S[f"{m}_text_pairs"], y_test)})
    rmse = lambda a_, b_: float(np.sqrt(np.mean((np.asarray(a_) - b_) ** 2)))  # noqa: E731
    reconstruction = {f"{m}_{k}_rmse": rmse(S[f"{m}_{k}_pairs"], ref) for m in ("dsc", "ffa")
                      for k, ref in (("image", x_test), ("text", t_test))}
    log("analyses of the joint codes (laminar.analysis)")
    results = dict(settings=cfg, n_train=cfg["n_train"], n_test=cfg["n_test"], legibility=legibility,
                   reconstruction=reconstruction, dsc_generation=generation_diagnostics(wfile, S, cfg), **trained)
    arrays = dict(S)
    del arrays["t_train"], arrays["y_train"]
    for name in ("dsc", "ffa"):
        r, arr = analyse({c: S[f"{name}_codes_{c}"] for c in CONDITIONS}, y_test, x_test, t_test)
        results[name] = r
        arrays.update({f"{name}_{k}": v for k, v in arr.items()})
    np.savez_compressed(os.path.join(out, "codes.npz"), **arrays)
    from plots import plot_all
    results["figures"] = [os.path.basename(p) for p in plot_all(out, results, arrays, CLASSES)]
    return results


def table(r):
    d, f, leg, t = r["dsc"], r["ffa"], r["legibility"], r["timing"]
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    mm = lambda m: f"{m['count']}/{m['units']} = {pct(m['fraction'])}"  # noqa: E731
    ct = lambda m: m["cell_types"]["counts"]["consistent"]  # noqa: E731
    rows = [
        ("multimodal joint units (theta 0.5)", "306/512 = 59.8%", mm(d["multimodal"]), mm(f["multimodal"])),
        ("multimodal joint units, class-selective (theta 0.5, 2x the other classes)", "",
         mm(d["multimodal_selective"]), mm(f["multimodal_selective"])),
        ("joint fraction nonzero (pairs)", "20.2%", pct(d["fraction_nonzero"]["pairs"]), pct(f["fraction_nonzero"]["pairs"])),
        ("best single-unit accuracy (pairs; balanced, held-out)", "~90%",
         pct(d["best_single_unit"]["pairs"]["mean"]), pct(f["best_single_unit"]["pairs"]["mean"])),
        ("best single-unit accuracy (image only)", "", pct(d["best_single_unit"]["image_only"]["mean"]),
         pct(f["best_single_unit"]["image_only"]["mean"])),
        ("generated-name legibility (image only)", "~70% both", pct(leg["dsc_generated_names"]), pct(leg["ffa_generated_names"])),
        ("generated-image recognisability (name only)", "", pct(leg["dsc_generated_images"]), pct(leg["ffa_generated_images"])),
        ("separability: 5-NN accuracy of joint codes (pairs)", "DSC separable, FFA mixed (t-SNE)",
         pct(d["knn_accuracy"]), pct(f["knn_accuracy"])),
        ("separability: 5-NN accuracy (image only)", "", pct(d["knn_accuracy_image_only"]), pct(f["knn_accuracy_image_only"])),
        ("cross-modal transfer image -> name", "", pct(d["cross_modal"]["image_to_text"]), pct(f["cross_modal"]["image_to_text"])),
        ("cross-modal transfer name -> image", "", pct(d["cross_modal"]["text_to_image"]), pct(f["cross_modal"]["text_to_image"])),
        ("consistent bimodal cells (0.96 / 0.94 bits)", "", str(ct(d)), str(ct(f))),
        ("image reconstruction RMSE (pairs)", "DSC more detailed", f"{r['reconstruction']['dsc_image_rmse']:.3f}",
         f"{r['reconstruction']['ffa_image_rmse']:.3f}"),
        ("seconds per training pair", "6.3 s vs 0.012 s", f"{t['dsc_seconds_per_training_pair']:.3f} s",
         f"{t['ffa_seconds_per_training_pair']:.4f} s"),
    ]
    lines = ["| | paper (DSC vs FFA) | Laminar DSC | FFA baseline |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
