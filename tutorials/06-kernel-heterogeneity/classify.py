"""The small PyTorch CNN of tutorial 06: it classifies sparse codes (144 channels) or pixels (1 channel).

A stand-in for the ResNet-18 of Ladret, Casanova & Perrinet (2023), table 1, sized for two CPU cores:
    conv 3x3 stride 2 (C -> 32), batch norm, ReLU      28x28 -> 14x14
    conv 3x3 stride 2 (32 -> 64), batch norm, ReLU     14x14 -> 7x7
    linear 64*7*7 -> 10 (positions kept: where an edge is matters for a garment)
trained with Adam (the paper's optimiser; learning rate 1e-3, betas (0.9, 0.99)) on the cross-entropy,
minibatches of 64, a fixed number of epochs; the reported accuracy is the held-out test accuracy after
the last epoch (no model selection on the test set). Inputs are divided by the training set's RMS value.

    /usr/bin/python3 classify.py --selftest      # learns a separable synthetic task (ctest unit)
"""
import sys
import time

import numpy as np


def make_net(channels, classes=10):
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Linear(64 * 7 * 7, classes))


def train_and_test(x_train, y_train, x_test, y_test, seed, epochs, threads=2, batch=64, lr=1e-3):
    """x: (N, H, W, C) float arrays (codes as Laminar writes them: channels last), y: (N,) int labels.
    Returns {"accuracy": test accuracy after the last epoch, "curve": per-epoch test accuracy,
    "loss": per-epoch mean training loss, "seconds"}."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    # one scale for every input (the training set's RMS): codes are small (|a| ~ 0.05) and batch norm's
    # running statistics, used at test time, are far from such inputs' after a few hundred updates
    scale = float(np.sqrt(np.mean(np.square(x_train, dtype=np.float64)))) or 1.0
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x_train / scale, -1, 1), dtype=np.float32))
    xv = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x_test / scale, -1, 1), dtype=np.float32))
    yt, yv = torch.from_numpy(np.asarray(y_train, np.int64)), torch.from_numpy(np.asarray(y_test, np.int64))
    net = make_net(xt.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-8)
    lossf = torch.nn.CrossEntropyLoss()
    curve, losses = [], []
    t0 = time.time()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=g)
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = lossf(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        losses.append(total / len(xt))
        curve.append(accuracy(net, xv, yv))
    return {"accuracy": curve[-1], "curve": curve, "loss": losses, "seconds": time.time() - t0}


def accuracy(net, x, y, batch=500):
    import torch
    net.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            right += int((net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return right / len(x)


def selftest():
    """A task the net must learn: class c is a bright square in one of 10 places, with noise."""
    rng = np.random.default_rng(0)

    def data(n):
        y = rng.integers(0, 10, n)
        x = rng.normal(0, 0.3, (n, 28, 28, 3)).astype(np.float32)
        for i, c in enumerate(y):
            r, col = divmod(int(c), 5)
            x[i, 4 + 12 * r:10 + 12 * r, 2 + 5 * col:6 + 5 * col, :] += 1.0
        return x, y

    xa, ya = data(600)
    xb, yb = data(200)
    r = train_and_test(xa, ya, xb, yb, seed=0, epochs=4, threads=1)
    print(f"selftest: test accuracy {r['accuracy']:.3f} after 4 epochs (chance 0.1); losses {r['loss']}")
    if not r["accuracy"] > 0.9 or not r["loss"][-1] < r["loss"][0]:
        sys.exit("selftest failed: the CNN did not learn a separable task")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        selftest()
    else:
        sys.exit(__doc__)
