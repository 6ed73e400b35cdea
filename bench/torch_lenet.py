"""torch_lenet.py - the LeNet of nets/lenet_fashion_train_val.prototxt in
PyTorch (CPU), timed like bench/bench_lenet.c: images/s of a training step
(zero_grad, forward, loss, backward, SGD step) and of inference
(torch.no_grad forward) on random data.

Same work as dltrain's step: conv 20 5x5, ReLU, max pool 2/2, conv 50 5x5,
ReLU, max pool 2/2, FC 500, ReLU, FC 10, softmax cross-entropy (mean over
the batch); SGD with momentum 0.9, weight decay 5e-4 on every parameter
(Caffe's decay_mult 1) and the biases at 2x the learning rate (lr_mult 2).

Run it with /usr/bin/python3 (Debian's python3-torch). Importable:
run_benchmark(...) returns a dict; `python3 torch_lenet.py --json` prints it
as one JSON line.
"""
import argparse
import json
import sys
import time

import torch
from torch import nn


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(50 * 4 * 4, 500), nn.ReLU(),
        nn.Linear(500, 10),
    )


def sgd(model, lr=0.01, momentum=0.9, weight_decay=5e-4):
    """Caffe's settings: biases (lr_mult 2) in their own group."""
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    return torch.optim.SGD([{"params": weights}, {"params": biases, "lr": 2 * lr}],
                           lr=lr, momentum=momentum, weight_decay=weight_decay)


def run_timed(step, warmup, iters, min_time):
    """Warm up, then ITERS iterations, or whole iterations until MIN_TIME s."""
    for _ in range(warmup):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - t0
        if (iters and n >= iters) or (not iters and elapsed >= min_time):
            return n, elapsed


def run_benchmark(batch=64, threads=2, warmup=10, iters=0, min_time=3.0, seed=1,
                  lr=0.01, momentum=0.9, weight_decay=5e-4):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = lenet()
    opt = sgd(model, lr, momentum, weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    # Cycle through 32 random batches as bench_lenet.c does (one fixed batch
    # is memorized within a few hundred steps and its gradients go denormal).
    pool = [(torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))) for _ in range(32)]
    x, y = pool[0]
    last = {"step": 0}

    def train_step():
        bx, by = pool[last["step"] % len(pool)]
        last["step"] += 1
        opt.zero_grad()
        loss = loss_fn(model(bx), by)
        loss.backward()
        opt.step()
        last["loss"] = loss.item()

    def infer_step():
        with torch.no_grad():
            model(x)

    model.train()
    tn, ts = run_timed(train_step, warmup, iters, min_time)
    model.eval()
    inn, ins = run_timed(infer_step, warmup, iters, min_time)
    return {
        "batch": batch, "threads": torch.get_num_threads(),
        "train_img_s": tn * batch / ts, "train_iters": tn, "train_s": ts,
        "infer_img_s": inn * batch / ins, "infer_iters": inn, "infer_s": ins,
        "final_loss": last["loss"], "torch": torch.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(), "base_lr": lr,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=0)
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=0.01, help="base_lr (runner: dltrain's)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    r = run_benchmark(a.batch, a.threads, a.warmup, a.iters, a.min_time, 1, a.lr,
                      a.momentum, a.weight_decay)
    if a.json:
        print(json.dumps(r))
    else:
        print("# torch %s, threads %d, batch %d" % (r["torch"], r["threads"], r["batch"]))
        print("train: %8.1f img/s  (%d iters in %.2f s, loss %.4f)"
              % (r["train_img_s"], r["train_iters"], r["train_s"], r["final_loss"]))
        print("infer: %8.1f img/s  (%d iters in %.2f s)"
              % (r["infer_img_s"], r["infer_iters"], r["infer_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
