#!/usr/bin/python3
"""Feed-forward autoencoder (FFA) baseline for tutorial 04.

The comparison model of Kim, Hannan and Kenyon, "Deep Sparse Coding for Invariant Multimodal Halle
Berry Neurons" (CVPR 2018), section 4.2: "We use convolutional layers with ReLU activation functions
and an addition layer to merge the two modalities into one embedding. Activity regularization using
the L1 norm is added to the model." The paper trained it for 25 epochs (3 for the sparse-coding
model) on pairs with both modalities present, and at test time filled a missing modality "in with the
zero vector".

The layers mirror the sparse-coding network of concept.yaml, layer for layer:

  image 28x28x1 -conv 8x8/2-> 14x14x16 (V1) -conv 4x4/2-> 7x7x32 (V2) -linear-> 512 --+
                                                                                     (+) ReLU -> joint 512
  text 16x64x1  -conv 8x8/2-> 8x32x8 (T1)                          -linear-> 512 --+

and the decoders are the transposes of the encoders (joint -> 7x7x32 -> 14x14x16 -> 28x28 and
joint -> 8x32x8 -> 16x64, sigmoid outputs since both inputs are in [0, 1]).

Loss: MSE(image) + MSE(text) (each the mean over its pixels) + l1 * mean(|joint|). The L1 term is
the mean over the batch and the joint units; Keras' ActivityRegularization(l1=c), which sums over
the units, corresponds to l1 = 512 c here. Adam, learning rate 1e-3.

Default l1 = 3e-3, from a sweep on 3000 Fashion-MNIST training pairs (images in [0, 1], each class
name rendered once in Liberation Sans 13 px, centred), batch 64, Adam 1e-3, seed 0, measured on 1000
held-out pairs after 25 epochs (fraction of joint units > 0; MSE per pixel):

      l1     nonzero   joint units never active   image MSE   text MSE
      0       35.7%          51%                   0.0124      0.0018
      3e-3    14.8%          55%                   0.0126      0.0003
      1e-2     9.6%          60%                   0.0131      0.0002
      3e-2     5.6%          77%                   (8 epochs only: image MSE 0.0209, against
                                                    0.0192-0.0197 for l1 in {0, 1e-3, 3e-3, 1e-2})

The ReLU after the addition already makes the code partly sparse at l1 = 0. 3e-3 more than halves
the active fraction for a 1.6% higher image error; from 1e-2 on the image error and the number of
units that never fire grow faster, so 3e-3 is the value that buys most of the sparsity while the
reconstructions stay as good as unregularized ones. It was not tuned toward the 47.8% nonzero the
paper reports for its FFA. The penalty is on activity only: the decoder weights are free, so part of
its effect is a smaller joint scale (mean activity 2.2 at l1 = 0, 0.32 at 3e-3) compensated by larger
decoder weights; the fraction of exact zeros is the sparsity measure that does not depend on scale.

Speed: about 1.3 ms per pair on two CPU threads (the paper: 0.012 s per pair). On a machine whose
cores are busy with other work two threads can be ten times slower than one (the threads wait for
each other); pass threads=1 there. Results are deterministic for a given seed and thread count (the
float sums may differ between thread counts).

API
  FFA(**shape_kwargs)                   torch module; .encode(images, texts) -> joint, .decode(joint)
  train_ffa(images, texts, ...)         -> (model, history)
  encode(model, images, texts)          -> numpy (N, joint); None for a missing modality (zero input)
  decode(model, joint)                  -> numpy images (N, H, W), texts (N, H, W)
  reconstruct(model, images, texts)     decode(encode(...))
  save(model, path), load(path)

usage: ffa.py --selftest      (a few seconds' check on synthetic data; exits non-zero on failure)
"""
import argparse
import contextlib
import math
import sys
import time

import numpy as np
import torch
from torch import nn

DEFAULT_L1 = 3e-3

# the sizes of the sparse-coding network in concept.yaml
DEFAULT_SHAPE = dict(
    image_shape=(28, 28),     # (height, width), one channel
    text_shape=(16, 64),      # (height, width), one channel
    v1_channels=16,           # 14x14 after the 8x8 stride-2 convolution
    v2_channels=32,           # 7x7 after the 4x4 stride-2 convolution
    t1_channels=8,            # 8x32 after the 8x8 stride-2 convolution
    joint=512,
)


class FFA(nn.Module):
    """Two convolutional encoders merged by addition into one joint code, two mirrored decoders.

    Every convolution halves the spatial size (8x8 kernels with padding 3 and 4x4 kernels with
    padding 1, both stride 2), so image sides must be multiples of 4 and text sides multiples of 2.
    """

    def __init__(self, image_shape=DEFAULT_SHAPE["image_shape"], text_shape=DEFAULT_SHAPE["text_shape"],
                 v1_channels=DEFAULT_SHAPE["v1_channels"], v2_channels=DEFAULT_SHAPE["v2_channels"],
                 t1_channels=DEFAULT_SHAPE["t1_channels"], joint=DEFAULT_SHAPE["joint"]):
        super().__init__()
        image_shape = tuple(int(s) for s in image_shape)
        text_shape = tuple(int(s) for s in text_shape)
        if len(image_shape) != 2 or any(s <= 0 or s % 4 for s in image_shape):
            raise ValueError(f"image_shape {image_shape}: need (height, width), both multiples of 4")
        if len(text_shape) != 2 or any(s <= 0 or s % 2 for s in text_shape):
            raise ValueError(f"text_shape {text_shape}: need (height, width), both multiples of 2")
        self.shape_kwargs = dict(image_shape=image_shape, text_shape=text_shape,
                                 v1_channels=int(v1_channels), v2_channels=int(v2_channels),
                                 t1_channels=int(t1_channels), joint=int(joint))
        self.image_shape, self.text_shape, self.joint_size = image_shape, text_shape, int(joint)
        ih, iw = image_shape
        th, tw = text_shape
        self.v2_shape = (int(v2_channels), ih // 4, iw // 4)
        self.t1_shape = (int(t1_channels), th // 2, tw // 2)
        v2_size = math.prod(self.v2_shape)
        t1_size = math.prod(self.t1_shape)

        self.image_encoder = nn.Sequential(
            nn.Conv2d(1, v1_channels, 8, stride=2, padding=3), nn.ReLU(),            # V1
            nn.Conv2d(v1_channels, v2_channels, 4, stride=2, padding=1), nn.ReLU(),  # V2
            nn.Flatten(), nn.Linear(v2_size, joint))
        self.text_encoder = nn.Sequential(
            nn.Conv2d(1, t1_channels, 8, stride=2, padding=3), nn.ReLU(),            # T1
            nn.Flatten(), nn.Linear(t1_size, joint))
        self.image_decoder = nn.Sequential(
            nn.Linear(joint, v2_size), nn.ReLU(), nn.Unflatten(1, self.v2_shape),
            nn.ConvTranspose2d(v2_channels, v1_channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(v1_channels, 1, 8, stride=2, padding=3), nn.Sigmoid())
        self.text_decoder = nn.Sequential(
            nn.Linear(joint, t1_size), nn.ReLU(), nn.Unflatten(1, self.t1_shape),
            nn.ConvTranspose2d(t1_channels, 1, 8, stride=2, padding=3), nn.Sigmoid())

    def encode(self, images, texts):
        """images (N, H, W) or (N, 1, H, W), texts likewise -> joint (N, joint).

        The addition layer merges the modalities; the ReLU after it makes the joint code a
        non-negative activation with exact zeros, comparable to the non-negative (soft_nonneg) LCA
        code of the sparse-coding network's P1 layer, and is what the L1 penalty acts on.
        """
        if images.dim() == 3:
            images = images.unsqueeze(1)
        if texts.dim() == 3:
            texts = texts.unsqueeze(1)
        return torch.relu(self.image_encoder(images) + self.text_encoder(texts))

    def decode(self, joint):
        """joint (N, joint) -> (images (N, H, W), texts (N, H, W)), both in (0, 1)."""
        return self.image_decoder(joint).squeeze(1), self.text_decoder(joint).squeeze(1)

    def forward(self, images, texts):
        """-> (joint, reconstructed images, reconstructed texts)."""
        joint = self.encode(images, texts)
        image_rec, text_rec = self.decode(joint)
        return joint, image_rec, text_rec


def _check_inputs(model, images, texts):
    """Float32 arrays of the model's shapes; None (a missing modality) becomes zeros."""
    if images is None and texts is None:
        raise ValueError("at least one modality is needed")
    arrays = []
    for name, x, shape in (("images", images, model.image_shape), ("texts", texts, model.text_shape)):
        if x is None:
            arrays.append(None)
            continue
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 4 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 3 or tuple(x.shape[1:]) != tuple(shape):
            raise ValueError(f"{name}: shape {x.shape}, expected (N, {shape[0]}, {shape[1]})")
        arrays.append(x)
    n = {len(x) for x in arrays if x is not None}
    if len(n) != 1:
        raise ValueError(f"images and texts differ in length: {sorted(n)}")
    n = n.pop()
    images, texts = (np.zeros((n,) + tuple(shape), np.float32) if x is None else x
                     for x, shape in zip(arrays, (model.image_shape, model.text_shape)))
    return images, texts


def train_ffa(images, texts, *, epochs=25, batch_size=64, l1=DEFAULT_L1, lr=1e-3, seed=0, threads=2,
              log=print, missing_fraction=0.0, **shape_kwargs):
    """Train an FFA on paired images (N, H, W) and texts (N, H, W), float in [0, 1].

    missing_fraction: the probability that a pair is shown with one modality (chosen at random,
    each with probability 1/2) zeroed at the input, drawn afresh each epoch; the loss still asks for
    both modalities to be reconstructed. 0 (the default) is the paper's training on complete pairs.

    Returns (model, history); history has per-epoch lists "loss", "image_mse", "text_mse",
    "nonzero" (fraction of joint units > 0) -- means over that epoch's batches, as trained -- and
    "seconds" (training wall time), "seconds_per_pair" (seconds / (epochs * N), the paper's
    measure), plus the settings used. log: a print-like function, or None for silence.
    """
    if not 0.0 <= missing_fraction <= 1.0:
        raise ValueError(f"missing_fraction {missing_fraction} not in [0, 1]")
    shape = dict(DEFAULT_SHAPE)
    unknown = set(shape_kwargs) - set(shape)
    if unknown:
        raise TypeError(f"unknown arguments {sorted(unknown)}")
    shape.update(shape_kwargs)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FFA(**shape)
    if images is None or texts is None:
        raise ValueError("training needs both modalities (use missing_fraction to drop some)")
    images, texts = _check_inputs(model, images, texts)
    n = len(images)
    if n == 0:
        raise ValueError("no training pairs")
    images_t, texts_t = torch.from_numpy(images), torch.from_numpy(texts)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = dict(loss=[], image_mse=[], text_mse=[], nonzero=[], epoch_seconds=[],
                   epochs=epochs, batch_size=batch_size, l1=l1, lr=lr, seed=seed, threads=threads,
                   missing_fraction=missing_fraction, pairs=n, shape_kwargs=model.shape_kwargs)
    model.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        epoch_start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(n))
        if missing_fraction > 0:
            missing = rng.random(n) < missing_fraction
            drop_image = torch.from_numpy(missing & (rng.random(n) < 0.5))
            drop_text = torch.from_numpy(missing) & ~drop_image
        sums = np.zeros(4)
        for b in range(0, n, batch_size):
            idx = order[b:b + batch_size]
            x_image, x_text = images_t[idx], texts_t[idx]
            in_image, in_text = x_image, x_text
            if missing_fraction > 0:
                in_image = x_image * (~drop_image[idx]).float()[:, None, None]
                in_text = x_text * (~drop_text[idx]).float()[:, None, None]
            joint, image_rec, text_rec = model(in_image, in_text)
            image_mse = torch.mean((image_rec - x_image) ** 2)
            text_mse = torch.mean((text_rec - x_text) ** 2)
            loss = image_mse + text_mse + l1 * torch.mean(torch.abs(joint))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            m = len(idx)
            sums += m * np.array([loss.item(), image_mse.item(), text_mse.item(),
                                  (joint > 0).float().mean().item()])
        sums /= n
        for key, value in zip(("loss", "image_mse", "text_mse", "nonzero"), sums):
            history[key].append(float(value))
        now = time.perf_counter()
        history["epoch_seconds"].append(now - epoch_start)
        if log is not None:
            elapsed = now - start
            rate = (epoch + 1) * n / elapsed
            eta = elapsed / (epoch + 1) * (epochs - epoch - 1)
            log(f"FFA epoch {epoch + 1}/{epochs}: loss {sums[0]:.5f} image MSE {sums[1]:.5f} "
                f"text MSE {sums[2]:.5f} nonzero {sums[3]:.3f} | {rate:.0f} pairs/s, ETA {eta:.0f} s")
    history["seconds"] = time.perf_counter() - start
    history["seconds_per_pair"] = history["seconds"] / max(1, epochs * n)
    model.eval()
    return model, history


@contextlib.contextmanager
def _eval_mode(model):
    """Eval mode without gradients, restoring the model's train/eval state afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def encode(model, images, texts, batch_size=256):
    """-> numpy float32 (N, joint). images (N, H, W) / texts (N, H, W); either may be None, which
    means that modality is missing and is fed as the zero vector (as the paper does)."""
    images, texts = _check_inputs(model, images, texts)
    out = []
    with _eval_mode(model):
        for b in range(0, len(images), batch_size):
            out.append(model.encode(torch.from_numpy(images[b:b + batch_size]),
                                    torch.from_numpy(texts[b:b + batch_size])).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.joint_size), np.float32)


def decode(model, joint, batch_size=256):
    """joint (N, joint) -> numpy (images (N, H, W), texts (N, H, W)), float32 in (0, 1)."""
    joint = np.asarray(joint, dtype=np.float32)
    if joint.ndim != 2 or joint.shape[1] != model.joint_size:
        raise ValueError(f"joint: shape {joint.shape}, expected (N, {model.joint_size})")
    images, texts = [], []
    with _eval_mode(model):
        for b in range(0, len(joint), batch_size):
            i, t = model.decode(torch.from_numpy(joint[b:b + batch_size]))
            images.append(i.numpy())
            texts.append(t.numpy())
    if not images:
        return (np.zeros((0,) + model.image_shape, np.float32), np.zeros((0,) + model.text_shape, np.float32))
    return np.concatenate(images), np.concatenate(texts)


def reconstruct(model, images, texts, batch_size=256):
    """decode(encode(images, texts)): -> (images (N, H, W), texts (N, H, W)); None = missing."""
    return decode(model, encode(model, images, texts, batch_size), batch_size)


def save(model, path):
    torch.save({"format": "laminar-ffa-1", "shape_kwargs": dict(model.shape_kwargs),
                "state_dict": model.state_dict()}, path)


def load(path):
    blob = torch.load(path, map_location="cpu")
    if not isinstance(blob, dict) or blob.get("format") != "laminar-ffa-1":
        raise ValueError(f"{path}: not a saved FFA")
    model = FFA(**blob["shape_kwargs"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model


# ---------------------------------------------------------------------------------------- self-test

def _synthetic(n, image_shape, text_shape, seed):
    """Ten classes: an image of a bar at a class-specific angle and a text of class-specific
    stripes, with noise and jitter."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    ih, iw = image_shape
    th, tw = text_shape
    y, x = np.mgrid[0:ih, 0:iw]
    y = (y - ih / 2 + 0.5) / ih
    x = (x - iw / 2 + 0.5) / iw
    images = np.empty((n, ih, iw), np.float32)
    texts = np.zeros((n, th, tw), np.float32)
    for k, c in enumerate(labels):
        a = np.pi * c / 10 + rng.normal(0, 0.05)
        d = x * np.sin(a) - y * np.cos(a) + rng.normal(0, 0.03)
        images[k] = np.exp(-(d / 0.08) ** 2) * (x ** 2 + y ** 2 < 0.2)
        shift = rng.integers(0, 3)
        for j in range(c % 5 + 1):
            col = shift + j * (tw // 6)
            texts[k, th // 4: 3 * th // 4, col: col + 2 + c // 5] = 1.0
    images = np.clip(images + rng.normal(0, 0.02, images.shape), 0, 1).astype(np.float32)
    return images, texts


def _evaluate(model, images, texts, l1):
    joint = encode(model, images, texts)
    ri, rt = decode(model, joint)
    image_mse = float(np.mean((ri - images) ** 2))
    text_mse = float(np.mean((rt - texts) ** 2))
    return image_mse + text_mse + l1 * float(np.mean(np.abs(joint))), image_mse, text_mse


def selftest():
    import os
    import tempfile
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    start = time.perf_counter()
    torch.set_num_threads(1)

    # exact shapes of the full-size model, layer by layer
    torch.manual_seed(0)
    full = FFA()
    with torch.no_grad():
        img = torch.rand(3, 1, 28, 28)
        txt = torch.rand(3, 1, 16, 64)
        v1 = full.image_encoder[1](full.image_encoder[0](img))
        v2 = full.image_encoder[3](full.image_encoder[2](v1))
        t1 = full.text_encoder[1](full.text_encoder[0](txt))
        joint, ri, rt = full(img, txt)
        h = full.image_decoder[2](full.image_decoder[1](full.image_decoder[0](joint)))
        h1 = full.image_decoder[4](full.image_decoder[3](h))
        g = full.text_decoder[2](full.text_decoder[1](full.text_decoder[0](joint)))
    check(tuple(v1.shape) == (3, 16, 14, 14), f"V1 shape {tuple(v1.shape)} == (3, 16, 14, 14)")
    check(tuple(v2.shape) == (3, 32, 7, 7), f"V2 shape {tuple(v2.shape)} == (3, 32, 7, 7)")
    check(tuple(t1.shape) == (3, 8, 8, 32), f"T1 shape {tuple(t1.shape)} == (3, 8, 8, 32)")
    check(tuple(joint.shape) == (3, 512), f"joint shape {tuple(joint.shape)} == (3, 512)")
    check(tuple(h.shape) == (3, 32, 7, 7) and tuple(h1.shape) == (3, 16, 14, 14),
          f"image decoder {tuple(h.shape)} -> {tuple(h1.shape)}")
    check(tuple(g.shape) == (3, 8, 8, 32), f"text decoder {tuple(g.shape)} == (3, 8, 8, 32)")
    check(tuple(ri.shape) == (3, 28, 28) and tuple(rt.shape) == (3, 16, 64),
          f"reconstructions {tuple(ri.shape)}, {tuple(rt.shape)}")
    check(bool((joint >= 0).all()), "joint code is non-negative")
    fi, ft = reconstruct(full, img[:, 0].numpy(), None)
    check(fi.shape == (3, 28, 28) and ft.shape == (3, 16, 64), "numpy reconstruct shapes (full size)")

    # train a small model on synthetic pairs
    shape = dict(image_shape=(28, 28), text_shape=(16, 64), v1_channels=8, v2_channels=16,
                 t1_channels=4, joint=128)
    images, texts = _synthetic(512, shape["image_shape"], shape["text_shape"], seed=1)
    kw = dict(epochs=6, batch_size=32, l1=DEFAULT_L1, seed=3, threads=1, log=print, **shape)
    torch.manual_seed(3)
    before = _evaluate(FFA(**shape), images, texts, DEFAULT_L1)
    model, hist = train_ffa(images, texts, **kw)
    after = _evaluate(model, images, texts, DEFAULT_L1)
    print(f"loss before {before[0]:.5f}, after {after[0]:.5f} (image MSE {after[1]:.5f}, "
          f"text MSE {after[2]:.5f}); {hist['seconds_per_pair'] * 1e3:.3f} ms per pair")
    check(after[0] < 0.5 * before[0], "loss at least halves on the training set")
    check(hist["loss"][-1] < 0.8 * hist["loss"][0], "epoch loss falls by over 20%")
    check(len(hist["loss"]) == 6 and hist["seconds_per_pair"] > 0, "history lengths and timing")

    j = encode(model, images[:40], texts[:40], batch_size=16)
    check(j.shape == (40, 128) and j.dtype == np.float32, f"encode shape {j.shape}")
    zi, zt = np.zeros_like(images[:40]), np.zeros_like(texts[:40])
    check(np.array_equal(encode(model, images[:40], None), encode(model, images[:40], zt)),
          "missing text == explicit zero text")
    check(np.array_equal(encode(model, None, texts[:40]), encode(model, zi, texts[:40])),
          "missing image == explicit zero image")
    ri, rt = decode(model, j)
    check(ri.shape == (40, 28, 28) and rt.shape == (40, 16, 64), "decode shapes")
    check(np.allclose(reconstruct(model, images[:40], texts[:40])[0], ri), "reconstruct == decode(encode)")

    model2, hist2 = train_ffa(images, texts, **dict(kw, log=None))
    same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))
    check(same and hist["loss"] == hist2["loss"], "same seed -> identical weights and history")
    model3, _ = train_ffa(images[:128], texts[:128], **dict(kw, epochs=1, seed=4, log=None))
    check(not torch.equal(model3.image_encoder[0].weight, model.image_encoder[0].weight),
          "another seed -> other weights")
    model4, hist4 = train_ffa(images[:128], texts[:128], **dict(kw, epochs=1, missing_fraction=0.5, log=None))
    check(np.isfinite(hist4["loss"][0]), "missing_fraction training runs")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ffa.pt")
        save(model, path)
        loaded = load(path)
    check(loaded.shape_kwargs == model.shape_kwargs
          and np.array_equal(encode(loaded, images[:40], texts[:40]), encode(model, images[:40], texts[:40])),
          "save/load round trip")

    print(f"self-test: {len(failures)} failure(s), {time.perf_counter() - start:.1f} s")
    return 0 if not failures else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--selftest", action="store_true", help="train on synthetic data and check")
    args = parser.parse_args()
    if not args.selftest:
        parser.print_help()
        sys.exit(2)
    sys.exit(selftest())
