#!/usr/bin/env python3
"""caption_torch.py - the PyTorch peer of bench/caption_bleu.sh: the attention
captioner of nets/caption_attention_train_val.prototxt (CNN encoder to 3x3x64
plus a learned position embedding, Embed, the soft-attention LSTM of
src/layers/attention_lstm.c with init_state and its doubly stochastic
penalty, the deep output [embedded word, h, z] to a per-word Linear,
cross-entropy ignoring <pad>) with the solver of
nets/caption_attention_solver.prototxt (Adam 2e-3, halved every 1000
iterations, global-norm clipping at 5), started from the same pretrained
encoder (--weights: conv1..conv3 of a dltrain checkpoint of
nets/caption_encoder_train_val.prototxt, read with h5py) and trained on the
same dltrain-prep caption sets (read with h5py) for the same budget (ITERS x
global batch 32), then greedy captions of the val images scored by
dltrain-eval --bleu --hyp (the same BLEU code). Prints training images/s and
BLEU-1..4. The defaults are the net's and solver's values; keep them in step.

  /opt/torchvenv/bin/python bench/caption_torch.py --train W/train.h5 \\
      --val W/val.h5 --weights W/run-encoder/checkpoints/iter_00001875.h5 \\
      --iters 1000 --threads 2 --eval ./dltrain-eval --out W/hyp-torch.txt
"""
import argparse
import math
import subprocess
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, START, END = 0, 1, 2


def load(path):
    with h5py.File(path, "r") as f:
        return dict(images=f["data"][...], captions=f["captions"][...],
                    length=f["caption_length"][...], image=f["caption_image"][...],
                    vocab=[w.decode() if isinstance(w, bytes) else w for w in f["vocab"][...]])


class AttentionLSTM(nn.Module):
    """dltrain's AttentionLSTM: e = v.tanh(W_fa f + b_a + W_ha h), alpha =
    softmax(e), z = sum alpha f, gates (i, f, o, g) = W_x x + b + W_z z + W_h h;
    init_state: where a caption starts, h0 = tanh(W_ih fm + b_ih), c0 =
    tanh(W_ic fm + b_ic) from the mean feature fm."""

    def __init__(self, E, C, H, A):
        super().__init__()
        self.H = H
        self.wx = nn.Linear(E, 4 * H)               # W_x, b
        self.wz = nn.Linear(C, 4 * H, bias=False)   # W_z
        self.wh = nn.Linear(H, 4 * H, bias=False)   # W_h
        self.wfa = nn.Linear(C, A)                  # W_fa, b_a
        self.wha = nn.Linear(H, A, bias=False)      # W_ha
        self.v = nn.Linear(A, 1, bias=False)        # v
        self.wih = nn.Linear(C, H)                  # W_ih, b_ih
        self.wic = nn.Linear(C, H)                  # W_ic, b_ic
        for m in (self.wx, self.wz, self.wh, self.wfa, self.wha, self.v, self.wih, self.wic):
            nn.init.uniform_(m.weight, -0.08, 0.08)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, feats, x, cont):
        """feats (N, C, L), x (T, N, E), cont (T, N) -> hidden (T, N, H), alphas (T, N, L),
        contexts (T, N, C)."""
        T, N = x.shape[0], x.shape[1]
        f = feats.transpose(1, 2)                    # (N, L, C)
        fp = self.wfa(f)                             # (N, L, A)
        fm = f.mean(1)
        h0, c0 = torch.tanh(self.wih(fm)), torch.tanh(self.wic(fm))
        h, c = h0, c0
        hs, als, zs = [], [], []
        for t in range(T):
            keep = cont[t].unsqueeze(1) if t else torch.zeros_like(cont[0]).unsqueeze(1)
            h, c = h * keep + h0 * (1 - keep), c * keep + c0 * (1 - keep)
            e = self.v(torch.tanh(fp + self.wha(h).unsqueeze(1))).squeeze(2)  # (N, L)
            alpha = F.softmax(e, dim=1)
            z = torch.bmm(alpha.unsqueeze(1), f).squeeze(1)                   # (N, C)
            g = self.wx(x[t]) + self.wz(z) + self.wh(h)
            i, fg, o, gg = g.chunk(4, 1)
            c = torch.sigmoid(fg) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
            als.append(alpha)
            zs.append(z)
        return torch.stack(hs), torch.stack(als), torch.stack(zs)


class Captioner(nn.Module):
    def __init__(self, pool3, V=64, E=64, H=128, A=64, dropout=0.0):
        super().__init__()
        self.pool3 = pool3
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)
        for m in (self.conv1, self.conv2, self.conv3):  # Caffe msra (fan_in), bias 0
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
        # nets/: Bias "position" (axis 1, num_axes -1), uniform +-0.1
        G = 21 // pool3
        self.position = nn.Parameter(torch.empty(64, G, G).uniform_(-0.1, 0.1))
        self.embed = nn.Embedding(V, E)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        self.decoder = AttentionLSTM(E, 64, H, A)
        self.drop = nn.Dropout(dropout)
        self.predict = nn.Linear(E + H + 64, V)       # deep output: [embedded, h, z]
        bound = math.sqrt(3.0 / (E + H + 64))         # Caffe xavier (fan_in)
        nn.init.uniform_(self.predict.weight, -bound, bound)
        nn.init.zeros_(self.predict.bias)

    def encode(self, img):
        x = F.max_pool2d(F.relu(self.conv1(img)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), self.pool3, self.pool3)   # (N, 64, G, G)
        return (x + self.position).flatten(2)

    def forward(self, img, words, cont):
        emb = self.embed(words)
        h, alphas, z = self.decoder(self.encode(img), emb, cont)
        return self.predict(self.drop(torch.cat([emb, h, z], 2))), alphas


def load_encoder(model, path):
    """conv1..conv3 from a dltrain checkpoint (or a Caffe .caffemodel.h5:
    the same /data/LAYER/0 weights, /data/LAYER/1 biases), as dltrain-mpi
    --weights copies them; Caffe's (out, in, kh, kw) is PyTorch's layout."""
    with h5py.File(path, "r") as f:
        for name in ("conv1", "conv2", "conv3"):
            conv = getattr(model, name)
            for k, p in ((0, conv.weight), (1, conv.bias)):
                blob = torch.from_numpy(f["data/%s/%d" % (name, k)][...].astype(np.float32))
                if blob.numel() != p.numel():
                    raise SystemExit("caption_torch.py: %s: %s/%d has %d values, the net %d"
                                     % (path, name, k, blob.numel(), p.numel()))
                with torch.no_grad():
                    p.copy_(blob.reshape(p.shape))


def batch(d, idx, T):
    imgs = torch.from_numpy(d["images"][d["image"][idx]].astype(np.float32) * 0.00390625)
    N = len(idx)
    inp = np.zeros((T, N), np.int64)
    tgt = np.zeros((T, N), np.int64)
    for k, i in enumerate(idx):
        L = min(int(d["length"][i]), T - 1)
        w = d["captions"][i, :L]
        inp[0, k] = START
        inp[1:L + 1, k] = w
        tgt[:L, k] = w
        if L < T:
            tgt[L, k] = END if L == d["length"][i] else PAD
    cont = np.ones((T, N), np.float32)
    cont[0] = 0
    return imgs, torch.from_numpy(inp), torch.from_numpy(tgt), torch.from_numpy(cont)


def greedy(model, imgs, max_len, V):
    with torch.no_grad():
        feats = model.encode(imgs)
        N, T = imgs.shape[0], max_len + 1
        words = torch.full((T, N), PAD, dtype=torch.long, device=imgs.device)
        words[0] = START
        cont = torch.ones(T, N, device=imgs.device)
        cont[0] = 0
        out = [[] for _ in range(N)]
        done = [False] * N
        for t in range(T):  # the prefix again each step, as dltrain-caption
            emb = model.embed(words[:t + 1])
            h, _, z = model.decoder(feats, emb, cont[:t + 1])
            lp = F.log_softmax(model.predict(torch.cat([emb[t], h[t], z[t]], 1)), dim=1)
            lp[:, :END] = -math.inf
            lp[:, V:] = -math.inf
            if t == max_len:
                break
            best = lp.argmax(1)
            for n in range(N):
                if done[n]:
                    continue
                if best[n].item() == END:
                    done[n] = True
                else:
                    out[n].append(best[n].item())
            if all(done):
                break
            if t + 1 < T:
                words[t + 1] = best
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=20)
    ap.add_argument("--doubly-stochastic", type=float, default=0.0, help="lambda, as the net's")
    ap.add_argument("--pool3", type=int, default=7, help="pool3's kernel and stride, as the net's")
    ap.add_argument("--hidden", type=int, default=128, help="AttentionLSTM num_output, as the net's")
    ap.add_argument("--attention-dim", type=int, default=64, help="attention_dim, as the net's")
    ap.add_argument("--dropout", type=float, default=0.0, help="on the deep output, as the net's")
    ap.add_argument("--lr", type=float, default=2e-3, help="Adam's base_lr, as the solver's")
    ap.add_argument("--weights", help="pretrained encoder: a dltrain checkpoint with conv1..conv3")
    ap.add_argument("--eval", default="./dltrain-eval", help="dltrain-eval, for BLEU")
    ap.add_argument("--out", default="hyp-torch.txt")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU benchmark (bench/caption_gpu_bench.sh)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    tr, va = load(a.train), load(a.val)
    T = tr["captions"].shape[1] + 1
    V = len(tr["vocab"])
    model = Captioner(a.pool3, H=a.hidden, A=a.attention_dim, dropout=a.dropout)
    if a.weights:
        load_encoder(model, a.weights)
    dev = torch.device(a.device)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1000, gamma=0.5)
    n = len(tr["length"])
    perm, pos = rng.permutation(n), 0
    t0 = time.time()
    for it in range(a.iters):
        if pos + a.batch > n:
            perm, pos = rng.permutation(n), 0
        imgs, inp, tgt, cont = (x.to(dev) for x in batch(tr, perm[pos:pos + a.batch], T))
        pos += a.batch
        scores, alphas = model(imgs, inp, cont)
        loss = F.cross_entropy(scores.reshape(-1, scores.shape[2]), tgt.reshape(-1), ignore_index=PAD)
        # doubly stochastic penalty (sec. 4.2.1), summed over all T steps; lambda
        # as nets/caption_attention_train_val.prototxt's doubly_stochastic
        penalty = a.doubly_stochastic * ((1 - alphas.sum(0)) ** 2).sum(1).mean()
        opt.zero_grad()
        (loss + penalty).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        if (it + 1) % 100 == 0:
            print("iter %5d  loss %.4f  %.1f images/s" % (it + 1, loss.item(),
                  (it + 1) * a.batch / (time.time() - t0)), flush=True)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.time() - t0
    model.eval()
    imgs = torch.from_numpy(va["images"].astype(np.float32) * 0.00390625).to(dev)
    with open(a.out, "w") as f:
        for s in range(0, len(imgs), 50):
            for k, ws in enumerate(greedy(model, imgs[s:s + 50], a.max_len, V)):
                f.write("%d\t%s\n" % (s + k, " ".join(tr["vocab"][w] for w in ws)))
    bleu = subprocess.run([a.eval, "--bleu", "--hyp", a.out, "--data", a.val], capture_output=True,
                          text=True, check=True).stdout
    where = "%d threads" % a.threads if dev.type == "cpu" else torch.cuda.get_device_name(dev)
    print("pytorch %s, %s: %d iterations x batch %d in %.1f s: %.1f images/s" % (
        torch.__version__, where, a.iters, a.batch, train_s, a.iters * a.batch / train_s))
    print("".join(l + "\n" for l in bleu.splitlines() if l.startswith(("BLEU", "brevity"))), end="")


if __name__ == "__main__":
    main()
