"""The post's experiment: train on single MNIST digits, test on pairs of digits (chapter 07, ``chapters/07-capsule.md``).

Shared by the chapter (live, reduced scale), ``experiments/capsule_two_digits.py``
(full scale) and chapter 08 (which reruns it with another routing)::

    from kexue.capsule.experiment import Config, load_data, run
    cfg = Config(n_train=20000, width=0.5, epochs_cnn=4, epochs_caps=3, routing="kmeans")
    results = run(cfg, kinds=("caps",))          # {"caps": {"mnist_acc": ..., "acc1": ..., ...}}

The steps one by one: :func:`build_model` (seeds and builds), :func:`train_capsule_net`
(trains with :func:`kexue.train.fit`), :func:`capsule_lengths` (the ten scores per image)
and :func:`evaluate_two_digits` (``mnist_acc``, ``acc1``, ``acc2``).

Set-up (https://kexue.fm/archives/4819 and the author's ``capsule_test.py``):

* trunk: Conv(64)→Conv(64)→AvgPool(2)→Conv(128)→Conv(128), 3×3 valid, ReLU
  (channel counts times ``Config.width``);
* ``"cnn"`` head: global average pooling → Dense(128, ReLU) → Dense(10, sigmoid);
* ``"caps"`` head: every position of the feature map is one input capsule
  (64 for 28×28, 176 for 56×28) → shared-weight ``Capsule(10, 16, 3)`` →
  capsule lengths as the 10 scores;
* margin loss 0.9 / 0.1 / 0.25, Adam, batch 128;
* two-digit test set: each test image stacked above a randomly chosen other
  test image of a *different* label (56×28); the answer is the set of the two
  labels.  ``acc1``: the two top scores are the right pair; ``acc2``: ``acc1``
  and the second score > 0.5.

Weights are Glorot-uniform with zero biases (the Keras defaults of the post).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from kexue import _validate
from kexue.capsule.numpy_ref import check_routing
from kexue.capsule.torch import Capsule, margin_loss
from kexue.data import load_mnist
from kexue.seed import seed_everything
from kexue.train import fit, in_order, model_device, place_model, predict, shuffled

__all__ = ["KINDS", "Config", "LIVE", "two_digit_set", "two_digit_metrics", "pair_diagnostics", "load_data",
           "Trunk", "TwoDigitNet", "build_model", "n_params", "capsule_lengths", "train_capsule_net",
           "evaluate_two_digits", "run_model", "run", "config_dict"]

KINDS = ("cnn", "caps")
"""The two models: ``"cnn"`` (global pooling head) and ``"caps"`` (capsule head)."""


@dataclass
class Config:
    """One configuration of the two-digit experiment (chapter 07); the defaults are the post's full scale.

    Parameters
    ----------
    n_train, n_test : int, optional
        Seeded MNIST subsets (``None`` = all 60,000 / 10,000).
    width : float, optional
        Multiplier of the trunk's channel counts (1.0 = 64/128).
    epochs_cnn, epochs_caps : int, optional
        The post trains the CNN 20 and the capsule model 10 epochs.
    batch_size : int, optional
        Training batch size (128 in the post).
    lr : float, optional
        Adam's learning rate.
    routing, routings : str and int, optional
        The capsule head's routing variant and number of passes.
    seed : int, optional
        Data subset, pairing, initialisation and batch order.
    threads : int, optional
        ``torch.set_num_threads`` while building and training (results depend on it).
    lr_decay : float, optional
        The learning rate is multiplied by this after every epoch (1.0, constant, is the
        post's recipe: its script compiles with Keras' default Adam and no schedule).

    Raises
    ------
    ValueError
        If a setting is out of range.
    """

    n_train: int | None = None
    n_test: int | None = None
    width: float = 1.0
    epochs_cnn: int = 20
    epochs_caps: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    routing: str = "post"
    routings: int = 3
    seed: int = 0
    threads: int = 2
    lr_decay: float = 1.0

    def __post_init__(self) -> None:
        check_routing(self.routing, self.routings)
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1] (1.0 = constant learning rate), got {self.lr_decay}")
        if self.width <= 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"width, batch_size and lr must be positive, got {self.width}, {self.batch_size}, {self.lr}")
        if self.epochs_cnn < 0 or self.epochs_caps < 0:
            raise ValueError("epochs must be >= 0")

    def epochs(self, kind: str) -> int:
        """The number of epochs of model ``kind`` (chapter 07).

        Parameters
        ----------
        kind : str
            ``"cnn"`` or ``"caps"``.

        Returns
        -------
        int
            ``epochs_cnn`` or ``epochs_caps``.
        """
        return self.epochs_cnn if kind == "cnn" else self.epochs_caps


LIVE = Config(n_train=20000, n_test=2000, width=0.5, epochs_cnn=4, epochs_caps=4, batch_size=64, lr=2e-3,
              routing="post", seed=0, threads=1)
"""The reduced scale that chapters 07 and 08 train live (and ``experiments/routing_seeds.py``
repeats over seeds): a third of the training images, half the trunk's width, 4 epochs,
one thread (the numbers depend on the thread count; with one thread each, the chapter's two
models train side by side)."""


# ----------------------------------------------------------------------------- data and metrics
def two_digit_set(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack each image above a random partner of another label: the two-digit test set (chapter 07).

    Pairs with equal labels are dropped, as in the post, so N is about 90% of len(x).

    Parameters
    ----------
    x : ndarray, shape (M, H, W)
        Images.
    y : ndarray, shape (M,)
        Their labels.
    seed : int
        Seeds the choice of partners.

    Returns
    -------
    images : ndarray, shape (N, 2H, W)
        Each kept image above its partner.
    pairs : ndarray, shape (N, 2)
        The two labels, sorted.
    index : ndarray, shape (N, 2)
        Indices into ``x`` of the top and bottom image.

    Raises
    ------
    ValueError
        If the shapes do not fit.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or len(x) != len(y):
        raise ValueError(f"need images (N, H, W) and N labels, got {x.shape} and {y.shape}")
    partner = np.random.default_rng(seed).permutation(len(x))
    keep = y != y[partner]
    top, bottom = np.nonzero(keep)[0], partner[keep]
    images = np.concatenate([x[top], x[bottom]], axis=1)
    pairs = np.sort(np.stack([y[top], y[bottom]], axis=1), axis=1)
    return images, pairs, np.stack([top, bottom], axis=1)


def two_digit_metrics(scores: np.ndarray, pairs: np.ndarray, threshold: float = 0.5) -> tuple[float, float]:
    """The two metrics of the two-digit test (chapter 07): ``(acc1, acc2)``.

    ``acc1``: the two highest scores are the pair's classes; ``acc2``: in addition the
    second score exceeds ``threshold``.

    Parameters
    ----------
    scores : ndarray, shape (N, K)
        Scores per class.
    pairs : ndarray, shape (N, 2)
        The two true classes per image.
    threshold : float, optional
        The confidence that ``acc2`` asks of the second score.

    Returns
    -------
    tuple of float
        ``(acc1, acc2)``.

    Raises
    ------
    ValueError
        If the shapes do not fit.
    """
    scores, pairs = np.asarray(scores), np.asarray(pairs)
    if scores.ndim != 2 or pairs.shape != (len(scores), 2):
        raise ValueError(f"need scores (N, K) and pairs (N, 2), got {scores.shape} and {pairs.shape}")
    order = np.argsort(-scores, axis=1, kind="stable")[:, :2]
    hit = np.all(np.sort(order, axis=1) == np.sort(pairs, axis=1), axis=1)
    second = np.take_along_axis(scores, order[:, 1:2], axis=1)[:, 0]
    return float(hit.mean()), float((hit & (second > threshold)).mean())


def pair_diagnostics(scores: np.ndarray, pairs: np.ndarray) -> dict[str, Any]:
    """What the scores on the two-digit set look like (chapter 07).

    One class that lights up on many pairs shows as one large ``false_top2`` count.

    Parameters
    ----------
    scores : ndarray, shape (N, K), K >= 3
        Scores per class.
    pairs : ndarray, shape (N, 2)
        The two true classes per image.

    Returns
    -------
    dict
        ``top3_mean``: the means of the 1st, 2nd and 3rd highest scores (3 floats);
        ``second_above_half``: the fraction of pairs whose 2nd score exceeds 0.5;
        ``false_top2``: for each class, how often it is among the top two although it is
        not in the pair (K counts).

    Raises
    ------
    ValueError
        If the shapes do not fit.
    """
    scores, pairs = np.asarray(scores), np.asarray(pairs)
    if scores.ndim != 2 or scores.shape[1] < 3 or pairs.shape != (len(scores), 2):
        raise ValueError(f"need scores (N, K>=3) and pairs (N, 2), got {scores.shape} and {pairs.shape}")
    top = -np.sort(-scores, axis=1)[:, :3]
    order = np.argsort(-scores, axis=1, kind="stable")[:, :2]
    wrong = (order[:, :, None] != pairs[:, None, :]).all(axis=2)          # (N, 2): a top-2 class not in the pair
    false_top2 = np.bincount(order[wrong], minlength=scores.shape[1])
    return dict(top3_mean=[round(float(v), 4) for v in top.mean(axis=0)],
                second_above_half=round(float((top[:, 1] > 0.5).mean()), 4),
                false_top2=[int(c) for c in false_top2])


def load_data(cfg: Config) -> dict[str, np.ndarray]:
    """MNIST (float32 in [0, 1]) and its two-digit test set for ``cfg`` (chapter 07).

    Parameters
    ----------
    cfg : Config
        Uses ``n_train``, ``n_test`` and ``seed`` (the pairs use ``seed + 1``).

    Returns
    -------
    dict of ndarray
        ``x_train`` (N, 28, 28), ``y_train`` (N,), ``x_test`` (M, 28, 28), ``y_test`` (M,),
        ``x_pair`` (P, 56, 28), ``pairs`` (P, 2) and ``pair_index`` (P, 2); see
        :func:`two_digit_set`.
    """
    x_tr, y_tr, x_te, y_te = load_mnist(cfg.n_train, cfg.n_test, seed=cfg.seed)
    x_tr = x_tr.astype(np.float32) / 255.0
    x_te = x_te.astype(np.float32) / 255.0
    x2, pairs, index = two_digit_set(x_te, y_te, seed=cfg.seed + 1)
    return dict(x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te, x_pair=x2, pairs=pairs, pair_index=index)


# ----------------------------------------------------------------------------- models
class Trunk(nn.Module):
    """The shared trunk (chapter 07): Conv(c1)→Conv(c1)→AvgPool(2)→Conv(c2)→Conv(c2), 3×3 valid, ReLU.

    Parameters
    ----------
    width : float, optional
        c1 = 64·width, c2 = 128·width channels (at least 1).
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2 = max(1, round(64 * width)), max(1, round(128 * width))
        self.channels = c2
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3), nn.ReLU(), nn.Conv2d(c1, c1, 3), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.Conv2d(c2, c2, 3), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feature maps of images (chapter 07).

        Parameters
        ----------
        x : Tensor, shape (batch, 1, H, W)
            Images.

        Returns
        -------
        Tensor, shape (batch, c2, (H - 4)/2 - 4, (W - 4)/2 - 4)
            The feature maps (8×8 for 28×28 images, 22×8 for 56×28).
        """
        return self.net(x)


class TwoDigitNet(nn.Module):
    """The trunk plus a ``"cnn"`` (pooling) or ``"caps"`` (capsule) head: images → ten scores (chapter 07).

    Parameters
    ----------
    kind : str
        ``"cnn"`` or ``"caps"``.
    width : float, optional
        The trunk's width multiplier.
    routing : str, optional
        The capsule head's routing variant.
    routings : int, optional
        The capsule head's number of routing passes.

    Raises
    ------
    ValueError
        If ``kind`` is unknown.
    """

    def __init__(self, kind: str, width: float = 1.0, routing: str = "post", routings: int = 3) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown model kind {kind!r}; choose one of {KINDS}")
        self.kind = kind
        self.trunk = Trunk(width)
        c = self.trunk.channels
        if kind == "cnn":
            self.head = nn.Sequential(nn.Linear(c, 128), nn.ReLU(), nn.Linear(128, 10), nn.Sigmoid())
        else:
            self.head = Capsule(c, 10, 16, routings=routings, share_weights=True, routing=routing)
        for m in self.modules():                      # Keras defaults: Glorot-uniform, zero bias
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        # channels-last convolutions: about 1.2x faster training and 1.7x faster evaluation on one CPU thread
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores of images: sigmoid outputs (``"cnn"``) or capsule lengths (``"caps"``) (chapter 07).

        Parameters
        ----------
        x : Tensor, shape (batch, H, W) or (batch, 1, H, W)
            Images (28×28 single digits or 56×28 pairs).

        Returns
        -------
        Tensor, shape (batch, 10)
            One score in [0, 1) per class.
        """
        if x.dim() == 3:
            x = x[:, None]
        f = self.trunk(x.contiguous(memory_format=torch.channels_last))   # (B, C, H', W')
        if self.kind == "cnn":
            return self.head(f.mean(dim=(2, 3)))
        u = f.flatten(2).transpose(1, 2)              # (B, H'·W', C): one capsule per position
        return self.head(u).norm(dim=-1)               # capsule lengths


def build_model(kind: str, cfg: Config) -> TwoDigitNet:
    """A freshly initialised model, seeded with ``cfg.seed`` right before it is built (chapter 07).

    The builder seeds (the book's seeding rule, :mod:`kexue.train`): callers do not seed again.

    Parameters
    ----------
    kind : str
        ``"cnn"`` or ``"caps"``.
    cfg : Config
        Uses ``width``, ``routing``, ``routings``, ``seed`` and ``threads``.

    Returns
    -------
    TwoDigitNet
        On the CPU, in channels-last memory format.
    """
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed, frameworks=["torch"])
    with torch.device("cpu"):            # the initial weights come from the CPU generator (kexue.train)
        return TwoDigitNet(kind, cfg.width, cfg.routing, cfg.routings)


def n_params(model: nn.Module) -> int:
    """The number of parameters of ``model`` (chapter 07).

    Parameters
    ----------
    model : torch.nn.Module
        Any module.

    Returns
    -------
    int
        The total number of parameter entries.
    """
    return sum(p.numel() for p in model.parameters())


def capsule_lengths(model: nn.Module, x: np.ndarray, batch_size: int = 250) -> np.ndarray:
    """The model's ten scores per image (for ``"caps"``: the capsule lengths), in batches (chapter 07).

    ``batch_size`` only bounds memory (250 two-digit images keep the feature maps under
    0.1 GB; 1000 took 0.4 GB); each image's scores do not depend on it.  The images go to
    the model's device.

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`TwoDigitNet` (or any module mapping images to scores).
    x : ndarray, shape (N, H, W), float32
        Images.
    batch_size : int, optional
        Images per forward pass.

    Returns
    -------
    ndarray, shape (N, 10), float64
        The scores, in the order of ``x``.
    """
    device = model_device(model)
    return predict(model, lambda idx: torch.from_numpy(x[idx]).to(device), in_order(len(x), batch_size))


def train_capsule_net(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, cfg: Config, *,
                      desc: str | None = None,
                      evaluate: Callable[[nn.Module, int], Mapping[str, float] | None] | None = None,
                      device: str | torch.device | None = None) -> list[float]:
    """Train a two-digit model with Adam on the margin loss, through :func:`kexue.train.fit` (chapter 07).

    Batches: a fresh permutation per epoch from ``np.random.default_rng(cfg.seed)``, in
    consecutive batches of ``cfg.batch_size``.  The learning rate starts at ``cfg.lr`` and is
    multiplied by ``cfg.lr_decay`` after every epoch (``fit``'s ``on_epoch_end`` hook).  The
    model's weights are not reseeded (it was seeded when built).

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`TwoDigitNet`; moved to ``device`` if one is given.
    x : ndarray, shape (N, 28, 28), float32
        Training images.
    y : ndarray, shape (N,)
        Their labels 0-9.
    epochs : int
        Number of epochs.
    cfg : Config
        Uses ``lr``, ``lr_decay``, ``batch_size``, ``seed`` and ``threads``.
    desc : str, optional
        The progress bar's label.
    evaluate : callable, optional
        ``evaluate(model, epoch)`` after every epoch (0-based), passed to :func:`kexue.train.fit`;
        it cannot change the training.
    device : str or torch.device, optional
        Where to train (``None``: where the model is, see :func:`kexue.train.place_model`).

    Returns
    -------
    list of float
        The mean training loss of every epoch.

    Raises
    ------
    ValueError
        If a label is not an integer in [0, 10) or ``x`` and ``y`` differ in length.
    """
    torch.set_num_threads(cfg.threads)
    targets = np.eye(10, dtype=np.float32)[_validate.class_labels(y, 10, batch=len(x))]
    device = place_model(model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)

    def loss_fn(idx: np.ndarray) -> torch.Tensor:
        scores = model(torch.from_numpy(x[idx]).to(device))                 # (b, 10)
        return margin_loss(torch.from_numpy(targets[idx]).to(device), scores, reduction="mean")

    def decay(_model: nn.Module, _epoch: int, _row: dict[str, float]) -> None:
        schedule.step()

    hist = fit(model, loss_fn, shuffled(len(x), cfg.batch_size), epochs=epochs, seed=cfg.seed,
               optimizer=optimizer, desc=desc, evaluate=evaluate, on_epoch_end=decay, device=device)
    return hist.column("loss")


def evaluate_two_digits(model: nn.Module, data: dict[str, np.ndarray]) -> dict[str, Any]:
    """Single-digit accuracy and the two-digit metrics of a model (chapter 07).

    Parameters
    ----------
    model : torch.nn.Module
        A trained :class:`TwoDigitNet`.
    data : dict of ndarray
        As returned by :func:`load_data`.

    Returns
    -------
    dict
        ``mnist_acc``, ``acc1``, ``acc2`` (floats; see :func:`two_digit_metrics`) and
        ``scores_pair``, ndarray of shape (P, 10).
    """
    s_single = capsule_lengths(model, data["x_test"])
    s_pair = capsule_lengths(model, data["x_pair"])
    acc1, acc2 = two_digit_metrics(s_pair, data["pairs"])
    return dict(mnist_acc=float((s_single.argmax(1) == data["y_test"]).mean()), acc1=acc1, acc2=acc2,
                scores_pair=s_pair)


def run_model(kind: str, cfg: Config, data: dict[str, np.ndarray], per_epoch: bool = False, *,
              device: str | torch.device = "cpu") -> dict[str, Any]:
    """Build (seeded), train and evaluate one model (chapter 07).

    With ``per_epoch=True`` the model is also evaluated after every epoch (the time it
    takes is not in ``seconds_train``); the training itself, and so the final numbers, are
    the same as without it.

    Parameters
    ----------
    kind : str
        ``"cnn"`` or ``"caps"``.
    cfg : Config
        The configuration.
    data : dict of ndarray
        As returned by :func:`load_data`.
    per_epoch : bool, optional
        Evaluate after every epoch as well.
    device : str or torch.device, optional
        Where to train and evaluate.

    Returns
    -------
    dict
        ``params``, ``mnist_acc``, ``acc1``, ``acc2``, ``loss`` (per epoch), ``scores_pair``
        (P, 10), ``seconds_train``, ``seconds_eval``, ``model``; with ``per_epoch=True``
        also ``per_epoch``, a list of ``{mnist_acc, acc1, acc2}`` plus :func:`pair_diagnostics`.
    """
    model = build_model(kind, cfg)
    curve: list[dict] = []
    spent = 0.0                                   # seconds of per-epoch evaluation

    def after_epoch(_model: nn.Module, _epoch: int) -> None:
        nonlocal spent
        t = time.perf_counter()
        m = evaluate_two_digits(model, data)
        curve.append({**{k: m[k] for k in ("mnist_acc", "acc1", "acc2")},
                      **pair_diagnostics(m["scores_pair"], data["pairs"])})
        spent += time.perf_counter() - t

    t0 = time.perf_counter()
    label = kind if kind == "cnn" else f"caps/{cfg.routing}"
    loss = train_capsule_net(model, data["x_train"], data["y_train"], cfg.epochs(kind), cfg, desc=label,
                             evaluate=after_epoch if per_epoch else None, device=device)
    t1 = time.perf_counter()
    final = evaluate_two_digits(model, data)
    t2 = time.perf_counter()
    out = dict(params=n_params(model), **final, loss=loss, seconds_train=t1 - t0 - spent,
               seconds_eval=t2 - t1, model=model)
    if per_epoch:
        out["per_epoch"] = curve
    return out


def run(cfg: Config, kinds: tuple[str, ...] = KINDS, data: dict[str, np.ndarray] | None = None,
        per_epoch: bool = False, *, device: str | torch.device = "cpu") -> dict[str, dict[str, Any]]:
    """:func:`run_model` for each kind on the same data (chapter 07).

    Parameters
    ----------
    cfg : Config
        The configuration.
    kinds : tuple of str, optional
        Models to train, from :data:`KINDS`.
    data : dict of ndarray, optional
        As returned by :func:`load_data`; loaded from ``cfg`` if not given.
    per_epoch : bool, optional
        Evaluate after every epoch as well.
    device : str or torch.device, optional
        Where to train and evaluate.

    Returns
    -------
    dict
        ``{kind: result of run_model}``.

    Raises
    ------
    ValueError
        If a kind is unknown.
    """
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown model kind {k!r}; choose one of {KINDS}")
    data = load_data(cfg) if data is None else data
    return {k: run_model(k, cfg, data, per_epoch=per_epoch, device=device) for k in kinds}


def config_dict(cfg: Config) -> dict[str, Any]:
    """``cfg`` as a plain dict (for the JSON record of a run) (chapter 07).

    Parameters
    ----------
    cfg : Config
        The configuration.

    Returns
    -------
    dict
        Field name -> value.
    """
    return asdict(cfg)
