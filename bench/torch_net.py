"""torch_net.py - a Caffe train_val prototxt built as a PyTorch (CPU) model,
timed like bench/bench_net.c: images/s of a training step (zero_grad,
forward, loss, backward, SGD step) and of inference (torch.no_grad forward
of the TEST phase) on random data.

The translator covers the layer types of nets/: Data (the random batch),
Convolution (group, dilation), Pooling MAX/AVE with Caffe's ceil rounding
(ceil_mode=True applies the same "last window starts inside the padded
input" rule), global pooling, InnerProduct, ReLU, LRN (ACROSS_CHANNELS is
nn.LocalResponseNorm: both divide alpha by local_size; WITHIN_CHANNEL as
an average pool of x^2), Concat, Eltwise (SUM with coeffs, PROD, MAX),
BatchNorm followed by an in-place Scale (one affine nn.BatchNorm2d, the
fastest PyTorch form), Scale, Dropout, Flatten, Softmax, SoftmaxWithLoss
(cross-entropy times loss_weight). Accuracy layers are skipped. Fillers and
the SGD settings follow the prototxt and solver: every param { lr_mult
decay_mult } becomes its own parameter group.

Run it with /usr/bin/python3 (Debian's python3-torch):
  torch_net.py NET.prototxt --batch B [--input CxHxW] [--solver FILE] [--json]
--device cuda runs on GPU 0 with cudnn.benchmark on, each step ending
synchronized, in --precision fp32 (TF32 off: dltrain's --precision fp32),
tf32 (TF32 on in cuBLAS and cuDNN), amp (torch.autocast float16 with a
GradScaler) or bf16 (torch.autocast bfloat16); --channels-last stores the
model and the batches NHWC (often faster on tensor cores). The JSON adds
the peak GPU memory PyTorch allocated (gpu_mem_mib).
"""
import argparse
import json
import math
import os
import re
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

# ---- prototxt ------------------------------------------------------------

TOKEN = re.compile(r'\s*(?:#[^\n]*|"((?:[^"\\]|\\.)*)"|([{}:])|([^\s{}:"#]+))')


def parse_prototxt(text):
    """Text format -> message: a list of (key, value) pairs, value a str,
    number or nested message (a list)."""
    toks, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group(1) is not None:
            toks.append(("str", m.group(1)))
        elif m.group(2):
            toks.append((m.group(2), m.group(2)))
        elif m.group(3):
            toks.append(("word", m.group(3)))

    def message(i, closing):
        out = []
        while i < len(toks):
            kind, val = toks[i]
            if kind == "}":
                return out, i + 1
            key, i = val, i + 1
            if toks[i][0] == ":":
                i += 1
            kind, val = toks[i]
            if kind == "{":
                sub, i = message(i + 1, True)
                out.append((key, sub))
                continue
            if kind == "word":
                try:
                    val = int(val)
                except ValueError:
                    try:
                        val = float(val)
                    except ValueError:
                        pass
            out.append((key, val))
            i += 1
        return out, i
    return message(0, False)[0]


def get(msg, key, default=None):
    for k, v in msg or []:
        if k == key:
            return v
    return default


def getall(msg, key):
    return [v for k, v in msg or [] if k == key]


def hw(p, name, stem, default):
    """Caffe's 2-D size: NAME (once or h, w) or STEM_h and STEM_w."""
    v = getall(p, name)
    if len(v) == 1:
        return v[0], v[0]
    if len(v) == 2:
        return v[0], v[1]
    return get(p, stem + "_h", default), get(p, stem + "_w", default)


def in_phase(layer, phase):
    inc, exc = getall(layer, "include"), getall(layer, "exclude")
    if inc:
        return any(get(r, "phase", phase) == phase for r in inc)
    return not any(get(r, "phase") == phase for r in exc)


# ---- modules --------------------------------------------------------------

def fill(t, f, rng):
    """Caffe FillerParameter on tensor T (fan_in = count/num, as Caffe)."""
    kind = get(f, "type", "constant")
    fan_in = t.numel() / t.shape[0]
    fan_out = t.numel() / (t.shape[1] if t.dim() > 1 else 1)
    norm = get(f, "variance_norm", "FAN_IN")
    fan = fan_in if norm == "FAN_IN" else fan_out if norm == "FAN_OUT" else (fan_in + fan_out) / 2
    with torch.no_grad():
        if kind == "constant":
            t.fill_(float(get(f, "value", 0)))
        elif kind == "gaussian":
            t.normal_(float(get(f, "mean", 0)), float(get(f, "std", 1)), generator=rng)
        elif kind == "xavier":
            a = math.sqrt(3.0 / fan)
            t.uniform_(-a, a, generator=rng)
        elif kind == "msra":
            t.normal_(0, math.sqrt(2.0 / fan), generator=rng)
        elif kind == "uniform":
            t.uniform_(float(get(f, "min", 0)), float(get(f, "max", 1)), generator=rng)
        else:
            raise SystemExit("torch_net: filler type %s not supported" % kind)


class Scale(nn.Module):
    def __init__(self, c, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c)) if bias else None

    def forward(self, x):
        y = x * self.weight.view(1, -1, 1, 1)
        return y + self.bias.view(1, -1, 1, 1) if self.bias is not None else y


class WithinChannelLRN(nn.Module):
    """Caffe's LRN WITHIN_CHANNEL: x / (k + alpha * mean over the size x size window of x^2)^beta."""

    def __init__(self, size, alpha, beta, k):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        s = F.avg_pool2d(x * x, self.size, 1, self.size // 2, count_include_pad=True)
        return x / (self.k + self.alpha * s).pow(self.beta)


def pool_out(n, k, s, p):
    """Caffe's pooled size: ceil, minus one if the last window starts in the padding."""
    o = int(math.ceil((n + 2 * p - k) / s)) + 1
    if p and (o - 1) * s >= n + p:
        o -= 1
    return o


class Net(nn.Module):
    """Both phases of a train_val prototxt; parameters shared by layer name."""

    def __init__(self, tree, batch, shape, seed=1):
        super().__init__()
        self.mods = nn.ModuleDict()
        self.groups = {}   # id(param) -> (lr_mult, decay_mult)
        self.rng = torch.Generator().manual_seed(seed)
        self.steps = {ph: self.build(tree, ph, batch, shape) for ph in ("TRAIN", "TEST")}

    def key(self, name):
        return name.replace(".", "_")

    def add(self, layer, name, make):
        k = self.key(name)
        if k not in self.mods:
            m = make()
            self.mods[k] = m
            specs = getall(layer, "param")
            params = [p for p in (getattr(m, "weight", None), getattr(m, "bias", None))
                      if isinstance(p, nn.Parameter)]
            for i, p in enumerate(params):
                spec = specs[i] if i < len(specs) else []
                self.groups[id(p)] = (float(get(spec, "lr_mult", 1)),
                                      float(get(spec, "decay_mult", 1)))
        return self.mods[k]

    def build(self, tree, phase, batch, shape):
        layers = [l for _, l in [kv for kv in tree if kv[0] == "layer"]
                  if in_phase(l, phase)]
        shapes, steps, skip = {}, [], set()
        for li, l in enumerate(layers):
            t, name = get(l, "type"), get(l, "name")
            bots, tops = getall(l, "bottom"), getall(l, "top")
            if li in skip:
                continue
            ins = [shapes[b] for b in bots]
            x = ins[0] if ins else None
            out, mod, fn = x, None, None
            if t in ("Data", "HDF5Data", "Input"):
                shapes[tops[0]] = (batch,) + shape
                if len(tops) > 1:
                    shapes[tops[1]] = (batch,)
                steps.append(("data", None, bots, tops, 0.0))
                continue
            if t == "Accuracy":
                continue
            if t == "Convolution":
                p = get(l, "convolution_param")
                k, g = get(p, "num_output"), get(p, "group", 1)
                kh, kw = hw(p, "kernel_size", "kernel", None)
                sh, sw = hw(p, "stride", "stride", 1)
                ph, pw = hw(p, "pad", "pad", 0)
                dh, dw = hw(p, "dilation", "dilation", 1)
                bias = get(p, "bias_term", "true") not in ("false", False)

                def make(p=p, x=x, k=k, g=g, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw,
                         dh=dh, dw=dw, bias=bias):
                    m = nn.Conv2d(x[1], k, (kh, kw), (sh, sw), (ph, pw), (dh, dw), g, bias)
                    fill(m.weight, get(p, "weight_filler"), self.rng)
                    if bias:
                        fill(m.bias, get(p, "bias_filler"), self.rng)
                    return m
                mod = self.add(l, name, make)
                out = (x[0], k, (x[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
                       (x[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1)
            elif t == "Pooling":
                p = get(l, "pooling_param")
                kind = get(p, "pool", "MAX")
                if get(p, "global_pooling", "false") in ("true", True):
                    kh, kw, sh, sw, ph, pw = x[2], x[3], 1, 1, 0, 0
                else:
                    kh, kw = hw(p, "kernel_size", "kernel", None)
                    sh, sw = hw(p, "stride", "stride", 1)
                    ph, pw = hw(p, "pad", "pad", 0)
                if kind == "MAX":
                    mod = nn.MaxPool2d((kh, kw), (sh, sw), (ph, pw), ceil_mode=True)
                else:
                    mod = nn.AvgPool2d((kh, kw), (sh, sw), (ph, pw), ceil_mode=True,
                                       count_include_pad=True)
                out = (x[0], x[1], pool_out(x[2], kh, sh, ph), pool_out(x[3], kw, sw, pw))
            elif t == "InnerProduct":
                p = get(l, "inner_product_param")
                k, feat = get(p, "num_output"), int(math.prod(x[1:]))
                bias = get(p, "bias_term", "true") not in ("false", False)

                def make(p=p, k=k, feat=feat, bias=bias):
                    m = nn.Linear(feat, k, bias)
                    fill(m.weight, get(p, "weight_filler"), self.rng)
                    if bias:
                        fill(m.bias, get(p, "bias_filler"), self.rng)
                    return m
                lin = self.add(l, name, make)
                fn = (lambda lin: lambda a: lin(a.flatten(1)))(lin)
                out = (x[0], k)
            elif t == "ReLU":
                mod = nn.ReLU(inplace=True)
            elif t == "LRN":
                p = get(l, "lrn_param")
                size, alpha = get(p, "local_size", 5), float(get(p, "alpha", 1))
                beta, k = float(get(p, "beta", 0.75)), float(get(p, "k", 1))
                if get(p, "norm_region", "ACROSS_CHANNELS") == "WITHIN_CHANNEL":
                    mod = WithinChannelLRN(size, alpha, beta, k)
                else:
                    mod = nn.LocalResponseNorm(size, alpha, beta, k)
            elif t == "BatchNorm":
                p = get(l, "batch_norm_param")
                eps = float(get(p, "eps", 1e-5))
                frac = float(get(p, "moving_average_fraction", 0.999))
                nxt = layers[li + 1] if li + 1 < len(layers) else None
                fuse = (nxt is not None and get(nxt, "type") == "Scale"
                        and getall(nxt, "bottom") == tops)
                if fuse:  # Caffe's BatchNorm + Scale is PyTorch's affine BatchNorm2d
                    skip.add(li + 1)
                    tops = getall(nxt, "top")
                    lname, pl = get(nxt, "name"), nxt
                else:
                    lname, pl = name, []
                mod = self.add(pl, lname, lambda: nn.BatchNorm2d(x[1], eps, 1 - frac, fuse))
            elif t == "Scale":
                p = get(l, "scale_param")
                bias = get(p, "bias_term", "false") in ("true", True)
                mod = self.add(l, name, lambda: Scale(x[1], bias))
            elif t == "Dropout":
                mod = nn.Dropout(float(get(get(l, "dropout_param"), "dropout_ratio", 0.5)))
            elif t == "Concat":
                axis = get(get(l, "concat_param"), "axis", 1)
                fn = (lambda axis: lambda *a: torch.cat(a, axis))(axis)
                out = list(x)
                out[axis] = sum(s[axis] for s in ins)
                out = tuple(out)
            elif t == "Eltwise":
                p = get(l, "eltwise_param")
                op, coeff = get(p, "operation", "SUM"), [float(c) for c in getall(p, "coeff")]
                if op == "PROD":
                    fn = lambda *a: math.prod(a)  # noqa: E731
                elif op == "MAX":
                    fn = lambda *a: torch.stack(a).amax(0)  # noqa: E731
                elif coeff and any(c != 1 for c in coeff):
                    fn = (lambda c: lambda *a: sum(ci * ai for ci, ai in zip(c, a)))(coeff)
                else:
                    fn = lambda *a: sum(a)  # noqa: E731
            elif t == "Flatten":
                fn = lambda a: a.flatten(1)  # noqa: E731
                out = (x[0], int(math.prod(x[1:])))
            elif t == "Softmax":
                fn = lambda a: F.softmax(a, 1)  # noqa: E731
            elif t == "SoftmaxWithLoss":
                fn = lambda a, y: F.cross_entropy(a.flatten(1), y)  # noqa: E731
                out = ()
            else:
                raise SystemExit("torch_net: layer type %s not supported" % t)
            w = float(get(l, "loss_weight", 1.0 if t == "SoftmaxWithLoss" else 0.0))
            steps.append((fn or mod, None, bots, tops, w))
            for top in tops:
                shapes[top] = out
        return steps

    def run(self, phase, blobs):
        loss = 0.0
        for f, _, bots, tops, w in self.steps[phase]:
            if f == "data":
                continue
            y = f(*[blobs[b] for b in bots])
            blobs[tops[0]] = y
            if w:
                loss = loss + w * y
        return loss


def sgd(net, solver):
    """One group per (lr_mult, decay_mult), as Caffe applies them."""
    lr, mom = float(get(solver, "base_lr", 0.01)), float(get(solver, "momentum", 0))
    wd = float(get(solver, "weight_decay", 0))
    groups = {}
    for p in net.parameters():
        lm, dm = net.groups.get(id(p), (1.0, 1.0))
        if lm == 0:
            p.requires_grad_(False)
            continue
        groups.setdefault((lm, dm), []).append(p)
    return torch.optim.SGD([{"params": ps, "lr": lr * lm, "weight_decay": wd * dm}
                            for (lm, dm), ps in groups.items()], lr=lr, momentum=mom), lr, mom, wd


# ---- timing ----------------------------------------------------------------

CLOCK = time.perf_counter  # time.process_time with --cpu-clock


def run_timed(step, warmup, iters, min_time):
    """Warm up, then ITERS iterations, or whole iterations until MIN_TIME s."""
    for _ in range(warmup):
        step()
    n, t0 = 0, CLOCK()
    while True:
        step()
        n += 1
        elapsed = CLOCK() - t0
        if (iters and n >= iters) or (not iters and elapsed >= min_time):
            return n, elapsed


def peak_rss_kb():
    """VmHWM: this process's peak RSS since its exec (bench_net.c reads the same)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def header_shape(text):
    """The first CxHxW in the comment lines that open the prototxt (as bench_net.c)."""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        m = re.search(r"(?<!\d)(\d+)x(\d+)x(\d+)", line)
        if m:
            return tuple(int(v) for v in m.groups())
    return (1, 28, 28)


def run_benchmark(net_path, batch, shape=None, solver_path=None, threads=2, warmup=10,
                  iters=0, min_time=3.0, seed=1, profile=False, device="cpu", precision="fp32",
                  channels_last=False):
    torch.set_num_threads(threads)
    dev = torch.device(device)
    if dev.type == "cuda":
        tf32 = precision != "fp32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats()
    half = {"amp": torch.float16, "bf16": torch.bfloat16}.get(precision)
    scaler = None
    if precision == "amp" and dev.type == "cuda":  # torch.amp.GradScaler since 2.3; before, torch.cuda.amp's
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(seed)
    text = open(net_path).read()
    shape = shape or header_shape(text)
    solver_path = solver_path or net_path.replace("_train_val.prototxt", "_solver.prototxt")
    net = Net(parse_prototxt(text), batch, shape, seed).to(dev, memory_format=fmt)
    opt, lr, mom, wd = sgd(net, parse_prototxt(open(solver_path).read()))
    per = batch * int(math.prod(shape)) * 4
    pool = [(torch.rand((batch,) + shape, device=dev).contiguous(memory_format=fmt),
             torch.randint(0, 10, (batch,), device=dev))
            for _ in range(max(2, min(32, (32 << 20) // per)))]
    data = [s for s in net.steps["TRAIN"] if s[0] == "data"][0][3]
    tdata = [s for s in net.steps["TEST"] if s[0] == "data"][0][3]
    last = {"step": 0}

    def train_step():
        bx, by = pool[last["step"] % len(pool)]
        last["step"] += 1
        opt.zero_grad()
        with torch.autocast(dev.type, dtype=half, enabled=half is not None):
            loss = net.run("TRAIN", {data[0]: bx, data[1]: by})
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        last["loss"] = loss.item()

    def infer_step():
        with torch.no_grad(), torch.autocast(dev.type, dtype=half, enabled=half is not None):
            net.run("TEST", {tdata[0]: pool[0][0], tdata[1]: pool[0][1]})
        sync()

    net.train()
    tn, ts = run_timed(train_step, warmup, iters, min_time)
    net.eval()
    inn, ins = run_timed(infer_step, warmup, iters, min_time)
    r = {
        "batch": batch, "threads": torch.get_num_threads(), "input": "x".join(map(str, shape)),
        "train_img_s": tn * batch / ts, "train_iters": tn, "train_s": ts,
        "infer_img_s": inn * batch / ins, "infer_iters": inn, "infer_s": ins,
        "final_loss": last["loss"], "torch": torch.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(), "base_lr": lr, "momentum": mom,
        "weight_decay": wd, "peak_rss_kb": peak_rss_kb(), "device": device,
        "precision": precision, "channels_last": channels_last,
        "gpu_mem_mib": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0,
    }
    if profile:
        net.train()
        with torch.autograd.profiler.profile() as prof:
            for _ in range(iters or 10):
                train_step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("net", nargs="?", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "nets",
        "lenet_fashion_train_val.prototxt"))
    ap.add_argument("--solver")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--input", help="CxHxW (default: from the net's header comment)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=0)
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--profile", action="store_true", help="also print torch.profiler's table")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time in process CPU seconds (a loaded machine; use with --threads 1)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "amp", "bf16"],
                    help="fp32 (default), tf32, amp (autocast float16 + GradScaler), bf16")
    ap.add_argument("--channels-last", action="store_true", help="NHWC model and batches")
    a = ap.parse_args(argv)
    if a.cpu_clock:
        global CLOCK
        CLOCK = time.process_time
    shape = tuple(int(v) for v in a.input.split("x")) if a.input else None
    r = run_benchmark(a.net, a.batch, shape, a.solver, a.threads, a.warmup, a.iters,
                      a.min_time, 1, a.profile, a.device, a.precision, a.channels_last)
    if a.json:
        print(json.dumps(r))
    else:
        print("# torch %s, threads %d, batch %d, input %s"
              % (r["torch"], r["threads"], r["batch"], r["input"]))
        print("train: %8.1f img/s  (%d iters in %.2f s, loss %.4f)"
              % (r["train_img_s"], r["train_iters"], r["train_s"], r["final_loss"]))
        print("infer: %8.1f img/s  (%d iters in %.2f s)"
              % (r["infer_img_s"], r["infer_iters"], r["infer_s"]))
        print("peak RSS: %.1f MiB" % (r["peak_rss_kb"] / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
