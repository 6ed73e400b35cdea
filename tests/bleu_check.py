#!/usr/bin/python3
"""bleu_check.py - dltrain-eval --bleu against NLTK's corpus_bleu (the
independent reference) on the same tokens: random corpora (small
vocabularies, so n-grams match; hypotheses of 0..3 words, repeated words,
1..5 references), NLTK's own docstring example, and the references of a
real caption set (h5py reads its /captions, /caption_image and /vocab).
Prints "ok ..." / "not ok ..." lines for tests/test_bleu.sh.

usage: bleu_check.py EVAL WORKDIR [CAPTIONS.h5]
"""
import random
import subprocess
import sys
import warnings

from nltk.translate.bleu_score import corpus_bleu

WEIGHTS = [(1.0,), (0.5, 0.5), (1 / 3, 1 / 3, 1 / 3), (0.25, 0.25, 0.25, 0.25)]
TOL = 1e-6


def nltk_bleu(refs, hyps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NLTK warns on orders with no match
        got = corpus_bleu(refs, hyps, weights=WEIGHTS)
    return [float(g) for g in (got if isinstance(got, list) else [got] * 4)]


def dltrain_bleu(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    vals = [float(l.split()[1]) for l in p.stdout.splitlines() if l.startswith("BLEU-")]
    return vals, p.stdout


def compare(name, want, got, out):
    if got is None or len(got) != 4:
        print("not ok %s: dltrain-eval failed: %s" % (name, out))
        return
    diff = max(abs(a - b) for a, b in zip(want, got))
    if diff <= TOL:
        print("ok %s: BLEU-1..4 %s equal NLTK's (max |diff| %.1e)"
              % (name, " ".join("%.4f" % g for g in got), diff))
    else:
        print("not ok %s: dltrain %s, NLTK %s (max |diff| %.2e > %g)"
              % (name, got, want, diff, TOL))


def write(path, keyed):
    with open(path, "w") as f:
        for key, words in keyed:
            f.write(" ".join([str(key)] + list(words)) + "\n")


def files_case(ev, work, name, refs, hyps):
    write(work + "/%s.hyp" % name, [(i, h) for i, h in enumerate(hyps)])
    # references in a shuffled order: dltrain groups them by key
    rl = [(i, r) for i, rs in enumerate(refs) for r in rs]
    random.Random(7).shuffle(rl)
    write(work + "/%s.refs" % name, rl)
    got, out = dltrain_bleu([ev, "--bleu", "--hyp", work + "/%s.hyp" % name,
                             "--refs", work + "/%s.refs" % name])
    compare(name, nltk_bleu(refs, hyps), got, out)


def random_corpus(seed):
    rng = random.Random(seed)
    vocab = ["w%d" % i for i in range(rng.choice([3, 6, 12]))]
    refs, hyps = [], []
    for _ in range(rng.randint(1, 60)):
        rs = [[rng.choice(vocab) for _ in range(rng.randint(1, 14))]
              for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.5:  # a hypothesis near a reference: long n-grams match
            h = list(rng.choice(rs))
            for _ in range(rng.randint(0, 3)):
                if h:
                    h[rng.randrange(len(h))] = rng.choice(vocab)
        else:
            h = [rng.choice(vocab) for _ in range(rng.choice([0, 1, 2, 3, 5, 9, 16]))]
        refs.append(rs)
        hyps.append(h)
    if not any(hyps):
        hyps[0] = ["w0"]
    return refs, hyps


def main():
    ev, work = sys.argv[1], sys.argv[2]
    # NLTK's docstring example: corpus_bleu = 0.5920...
    hyp1 = "It is a guide to action which ensures that the military always obeys the commands of the party".split()
    ref1a = "It is a guide to action that ensures that the military will forever heed Party commands".split()
    ref1b = "It is the guiding principle which guarantees the military forces always being under the command of the Party".split()
    ref1c = "It is the practical guide for the army always to heed the directions of the party".split()
    hyp2 = "he read the book because he was interested in world history".split()
    ref2a = "he was interested in world history because he read the book".split()
    files_case(ev, work, "nltk-example", [[ref1a, ref1b, ref1c], [ref2a]], [hyp1, hyp2])
    for seed in range(1, 21):
        refs, hyps = random_corpus(seed)
        files_case(ev, work, "random-%d" % seed, refs, hyps)
    if len(sys.argv) > 3:
        import h5py
        with h5py.File(sys.argv[3], "r") as f:
            vocab = [w.decode() if isinstance(w, bytes) else w for w in f["vocab"][:]]
            caps, lens, imgs = f["captions"][:], f["caption_length"][:], f["caption_image"][:]
            nimg = f.attrs["num_samples"]
        refs = [[] for _ in range(nimg)]
        for c, n, i in zip(caps, lens, imgs):
            refs[i].append([vocab[w] for w in c[:n]])
        rng = random.Random(5)
        keys, hyps, rsel = [], [], []
        for i in range(nimg):
            if rng.random() < 0.2:
                continue  # images without a hypothesis are left out
            r = rng.choice(refs[i]) if rng.random() < 0.5 else rng.choice(refs[rng.randrange(nimg)])
            h = list(r)
            if h and rng.random() < 0.5:
                h[rng.randrange(len(h))] = rng.choice(["a", "zebra", "<unk>", "bag"])
            keys.append(i)
            hyps.append(h)
            rsel.append(refs[i])
        write(work + "/set.hyp", zip(keys, hyps))
        got, out = dltrain_bleu([ev, "--bleu", "--hyp", work + "/set.hyp", "--data", sys.argv[3]])
        compare("caption set %s (%d images scored)" % (sys.argv[3].split("/")[-1], len(keys)),
                nltk_bleu(rsel, hyps), got, out)


if __name__ == "__main__":
    main()
