"""Word saliency for RNN classifiers from the hidden-state trajectory (numpy reference).

Chapter 02 of kexue-book (``chapters/02-rnn-saliency.md``), after Su Jianlin,
《RNN模型中输入的重要性的评估》, https://kexue.fm/archives/4582.

The classifier reads only the last hidden state :math:`h_n`.  Word :math:`w_i`
scores how much closer to :math:`h_n` the state gets when it is read,

.. math:: s_i = (\\lVert h_n - h_{i-1}\\rVert - \\lVert h_n - h_i\\rVert) / \\lVert h_n\\rVert,
   \\qquad h_0 = 0,

so the scores telescope to exactly 1.  This module is the specification: the
score itself, a reference LSTM (Keras weight layout) to produce the states, the
nine listings the post printed (test fixtures), a rank correlation, the word
segmenter and the coloured-text HTML (the vocabulary comes from
:func:`kexue.text.build_vocab` with ``reserve_unknown=False``).  It imports neither PyTorch nor
TensorFlow; :mod:`kexue.saliency.torch` and :mod:`kexue.saliency.keras` do.
"""
from __future__ import annotations

import html
import logging
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kexue import _validate

__all__ = [
    "trajectory_scores", "lstm_states", "rank_words", "spearman",
    "segmenter", "colored_html", "post_listings", "PostListing", "occurrences",
]


# ----------------------------------------------------------------------------- the score
def _as_states(states, name: str = "states") -> np.ndarray:
    h = np.asarray(states)
    if h.dtype == np.bool_ or not (np.issubdtype(h.dtype, np.number) and not np.iscomplexobj(h)):
        raise TypeError(_validate.REAL_ARRAY.format(name, h.dtype))
    h = h.astype(np.float64)
    if h.ndim != 2:
        raise ValueError(f"{name} must have shape (n_steps, hidden_dim), got an array of rank {h.ndim}")
    if h.shape[0] == 0:
        raise ValueError(f"{name} is empty: a sequence needs at least one step to be scored")
    if h.shape[1] == 0:
        raise ValueError(f"{name} has hidden_dim 0")
    if not np.all(np.isfinite(h)):
        raise ValueError(_validate.NONFINITE.format(name))
    return h


def _as_mask(mask, n: int, name: str = "mask") -> np.ndarray:
    """A keep-mask ``(n,)``: booleans, or integers / floats that are all 0 or 1."""
    if mask is None:
        return np.ones(n, dtype=bool)
    m = np.asarray(mask)
    if m.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {m.shape}")
    if m.dtype != np.bool_:
        if not np.issubdtype(m.dtype, np.number) or not np.all((m == 0) | (m == 1)):
            raise ValueError(_validate.MASK_BOOL.format(name, m.dtype))
        m = m.astype(bool)
    return m


def _power_of_two_scale(a: np.ndarray) -> float:
    """A power of two near ``max |a|`` (0 if ``a`` is all zero): dividing by it is exact."""
    top = float(np.max(np.abs(a)))
    if top == 0.0:
        return 0.0
    return float(np.ldexp(1.0, int(np.frexp(top)[1])))


def trajectory_scores(states: np.ndarray, mask: np.ndarray | None = None, *,
                      normalize: bool = True) -> np.ndarray:
    """Score of each step from the hidden-state trajectory ``h_1..h_n``, ``h_0 = 0`` (chapter 02).

    ``score[i] = (|h_n - h_{i-1}| - |h_n - h_i|) / |h_n|`` for the 0-based step ``i``
    (``h_{-1}`` meaning the zero initial state); with ``normalize=False`` the division by
    ``|h_n|`` is left out and the scores sum to ``|h_n|``.  The states are divided by a
    power of two near their largest entry before any norm is taken (an exact rescaling), so
    the scores do not overflow or underflow for finite states of any magnitude.

    Parameters
    ----------
    states : numpy.ndarray, shape (n_steps, hidden_dim)
        The RNN's output state after each step (any real dtype; computed in float64).
    mask : numpy.ndarray of bool, shape (n_steps,), optional
        ``True`` = a real token (0/1 integers are accepted).  The RNN carries its state over
        masked steps, so they score exactly 0, and ``h_n`` is the state at the last real step
        (post-padding needs no special care).  The values stored at masked rows are ignored.
    normalize : bool, optional
        Divide by ``|h_n|`` (default), so that the scores sum to 1.

    Returns
    -------
    numpy.ndarray of float64, shape (n_steps,)
        One score per step; 0 at masked steps.

    Raises
    ------
    TypeError
        If ``states`` is not a real-valued array.
    ValueError
        If ``states`` is not a non-empty finite matrix, the mask has the wrong shape or
        values, every step is masked, or (with ``normalize``) ``h_n`` is zero.
    """
    h = _as_states(states)
    n = h.shape[0]
    keep = _as_mask(mask, n)
    if not keep.any():
        raise ValueError("every step is masked: there is no final state to score against")
    real = h[keep]                                        # the states the RNN actually moved through
    scale = _power_of_two_scale(real)
    if scale == 0.0:                                      # every real state is exactly zero
        if normalize:
            raise ValueError("the final hidden state h_n is zero, so the normalised score is undefined")
        return np.zeros(n, dtype=np.float64)
    real = real / scale                                   # exact: entries now in [-1, 1], max >= 1/2
    target = real[-1]
    norm = float(np.linalg.norm(target))
    if normalize and norm == 0.0:
        raise ValueError("the final hidden state h_n is zero, so the normalised score is undefined")
    path = np.vstack([np.zeros((1, h.shape[1])), real])  # h_0 = 0, then the real states: (m + 1, d)
    dist = np.linalg.norm(target[None, :] - path, axis=1)  # d_0 .. d_m, with d_m = 0: (m + 1,)
    step = dist[:-1] - dist[1:]                           # (m,)
    step = step / norm if normalize else step * scale
    out = np.zeros(n, dtype=np.float64)
    out[keep] = step
    return out


# ----------------------------------------------------------------------------- a reference LSTM
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def lstm_states(x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray,
                mask: np.ndarray | None = None) -> np.ndarray:
    """All output states ``h_1..h_n`` of an LSTM run on ``x``, ``h_0 = c_0 = 0`` (chapter 02).

    Weights in the Keras layout, gates ordered (input, forget, cell, output); PyTorch's
    ``weight_ih_l0.T``, ``weight_hh_l0.T`` and ``bias_ih_l0 + bias_hh_l0`` are the same
    numbers.  At a masked step both states are carried over unchanged, as Keras does with
    ``mask_zero=True``.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_steps, input_dim)
        The inputs (e.g. the embedded tokens).
    kernel : numpy.ndarray, shape (input_dim, 4 * units)
        Input weights.
    recurrent_kernel : numpy.ndarray, shape (units, 4 * units)
        Recurrent weights.
    bias : numpy.ndarray, shape (4 * units,)
        One bias per gate unit.
    mask : numpy.ndarray of bool, shape (n_steps,), optional
        ``True`` = a real step; masked steps repeat the previous state.

    Returns
    -------
    numpy.ndarray of float64, shape (n_steps, units)
        The output state after each step.

    Raises
    ------
    ValueError
        If a shape does not fit, the mask is not boolean (or 0/1), or an input is not finite.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n_steps, input_dim), got rank {x.ndim}")
    W, U, b = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias))
    if U.ndim != 2:
        raise ValueError(f"recurrent_kernel must have shape (units, 4 * units), got {U.shape}")
    u = U.shape[0]
    if W.shape != (x.shape[1], 4 * u) or U.shape != (u, 4 * u) or b.shape != (4 * u,):
        raise ValueError(f"weight shapes {W.shape}, {U.shape}, {b.shape} do not fit input_dim "
                         f"{x.shape[1]} and {u} units")
    for name, a in (("x", x), ("kernel", W), ("recurrent_kernel", U), ("bias", b)):
        if not np.all(np.isfinite(a)):
            raise ValueError(_validate.NONFINITE.format(name))
    keep = _as_mask(mask, len(x))
    h = np.zeros(u)
    c = np.zeros(u)
    out = np.zeros((len(x), u))
    for t in range(len(x)):
        if keep[t]:
            z = x[t] @ W + h @ U + b                                      # (4u,)
            i, f, g, o = _sigmoid(z[:u]), _sigmoid(z[u:2 * u]), np.tanh(z[2 * u:3 * u]), _sigmoid(z[3 * u:])
            c = f * c + i * g
            h = o * np.tanh(c)
        out[t] = h
    return out


# ----------------------------------------------------------------------------- ranking and correlation
def _scores_for(tokens: Sequence[str], scores, *, finite: bool = True) -> np.ndarray:
    if isinstance(tokens, str):
        raise TypeError("tokens must be a sequence of words, not one string")
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) != len(tokens):
        raise ValueError(_validate.ONE_SCORE_PER_TOKEN.format(len(tokens), s.shape))
    if finite and not np.all(np.isfinite(s)):
        raise ValueError(_validate.NONFINITE.format("scores"))
    return s


def rank_words(tokens: Sequence[str], scores: np.ndarray) -> list[tuple[int, str, float]]:
    """The words ranked by score, highest first, in the post's format (chapter 02).

    Parameters
    ----------
    tokens : sequence of str, length n
        The sentence's words in reading order.
    scores : numpy.ndarray, shape (n,)
        One finite score per word.

    Returns
    -------
    list of (int, str, float)
        ``(position, word, score)`` sorted by score, highest first; ties keep reading order.

    Raises
    ------
    TypeError
        If ``tokens`` is one string.
    ValueError
        If there is not exactly one finite score per token.
    """
    s = _scores_for(tokens, scores)
    order = sorted(range(len(s)), key=lambda i: -s[i])
    return [(i, tokens[i], float(s[i])) for i in order]


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(a, kind="stable")
    sorted_a = a[order]
    ranks = np.empty(len(a), dtype=np.float64)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation, ties given their average rank (chapter 02).

    Parameters
    ----------
    a, b : numpy.ndarray, shape (n,)
        Two finite score vectors, ``n >= 2``.

    Returns
    -------
    float
        The correlation in [-1, 1]; ``nan`` if either input is constant (undefined).

    Raises
    ------
    ValueError
        If the inputs are not 1-d of equal length >= 2, or not finite.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"need two 1-d arrays of equal length, got shapes {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("a rank correlation needs at least 2 values")
    for name, v in (("a", x), ("b", y)):
        if not np.all(np.isfinite(v)):
            raise ValueError(_validate.NONFINITE.format(name))
    rx, ry = _ranks(x) - 0.5 * (len(x) + 1), _ranks(y) - 0.5 * (len(y) + 1)
    den = float(np.sqrt((rx @ rx) * (ry @ ry)))
    return float(rx @ ry / den) if den > 0 else float("nan")


# ----------------------------------------------------------------------------- text
def segmenter() -> Callable[[str], list[str]]:
    """jieba's word segmentation (default mode, with HMM), quiet and without a cache file (chapter 02).

    jieba normally writes a prefix-dictionary cache to the system temp folder; here the
    dictionary is built in memory (about a second), so nothing is written.

    Returns
    -------
    callable
        ``segment(text) -> list of str``, the words of ``text`` in order.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.FREQ, tok.total = tok.gen_pfdict(tok.get_dict_file())
    tok.initialized = True
    return tok.lcut


def occurrences(tokens: Sequence[str], scores: np.ndarray, word: str) -> list[tuple[int, float]]:
    """Position and score of every occurrence of ``word``, in reading order (chapter 02).

    Parameters
    ----------
    tokens : sequence of str, length n
        The sentence's words.
    scores : numpy.ndarray, shape (n,)
        One score per word.
    word : str
        The word to look up.

    Returns
    -------
    list of (int, float)
        ``(position, score)`` per occurrence; empty if ``word`` does not occur.

    Raises
    ------
    ValueError
        If there is not exactly one finite score per token.
    """
    s = _scores_for(tokens, scores)
    return [(i, float(s[i])) for i, t in enumerate(tokens) if t == word]


def colored_html(tokens: Sequence[str], scores: np.ndarray, *, scale: float | None = None,
                 label: str = "") -> str:
    """The tokens as inline HTML, each on a background coloured by its score (chapter 02).

    Green for positive, red for negative scores; the colour's opacity is
    ``min(|score| / scale, 1)``; the exact score is in the tooltip.  The string is deterministic.

    Parameters
    ----------
    tokens : sequence of str, length n
        The words (HTML-escaped in the output).
    scores : numpy.ndarray, shape (n,)
        One finite score per word.
    scale : float, optional
        The score of full opacity, > 0; default the largest ``|score|`` (1 if all are 0).
    label : str, optional
        A grey caption in front of the sentence.

    Returns
    -------
    str
        One ``<div>`` of ``<span>`` elements.

    Raises
    ------
    ValueError
        If there is not exactly one finite score per token, or ``scale`` is not a finite number > 0.
    """
    s = _scores_for(tokens, scores)
    if scale is None:
        top = float(np.max(np.abs(s), initial=0.0))
        if not top > 0:
            top = 1.0
    else:
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        top = float(scale)
    parts = []
    for t, v in zip(tokens, s):
        a = min(abs(v) / top, 1.0)
        rgb = "0,150,60" if v >= 0 else "210,40,40"
        parts.append(f'<span title="{v:+.4f}" style="background:rgba({rgb},{a:.3f});'
                     f'padding:1px 1px;border-radius:3px">{html.escape(t)}</span>')
    head = f'<span style="font-size:85%;color:#555;margin-right:6px">{html.escape(label)}</span>' if label else ""
    return f'<div style="line-height:1.9;margin:2px 0">{head}{"".join(parts)}</div>'


# ----------------------------------------------------------------------------- the post's listings
@dataclass(frozen=True)
class PostListing:
    """One of the nine listings printed in the post (chapter 02).

    Attributes
    ----------
    text : str
        The review as printed.
    tokens : tuple of str, length n
        Its words in reading order (they join to ``text``).
    scores : numpy.ndarray of float64, shape (n,)
        The post's score of each word, by position.
    ranking : tuple of (int, str, float)
        ``(position, word, score)`` as the post lists them, highest score first.
    """

    text: str
    tokens: tuple[str, ...]
    scores: np.ndarray
    ranking: tuple[tuple[int, str, float], ...]


# Copied from the post (position word score, sorted by score).
_RAW = [
    ("发货很快，物流也及时，热水器包装很好，已经打电话找师傅安装好了，用了加热挺快的，非常好的热水器",
     "1 很快 0.27192765 · 23 挺快 0.24280858 · 5 及时 0.212547 · 17 好 0.20004171 · 10 好 0.18096809 · 6 ， 0.091015637 · 27 好 0.089454532 · 29 热水器 0.075981312 · 9 很 0.073918283 · 19 ， 0.056054845 · 2 ， 0.054350078 · 25 ， 0.05254671 · 16 安装 0.047204345 · 4 也 0.032162607 · 20 用 0.032066017 · 7 热水器 0.020733953 · 28 的 0.015783943 · 11 ， 0.0068980753 · 24 的 0.0040297061 · 21 了 -0.0028512329 · 8 包装 -0.0061192214 · 12 已经 -0.0071464926 · 26 非常 -0.016652927 · 3 物流 -0.034254551 · 18 了 -0.041289926 · 13 打电话 -0.067411274 · 14 找 -0.076897413 · 0 发货 -0.12187159 · 15 师傅 -0.13093886 · 22 加热 -0.25505972"),
    ("用过了才来评价，挺好用的和我在商场买的一样，应该是正品，烧水也快。五分。",
     "13 商场 0.18483591 · 20 正品 0.18375245 · 7 好 0.10582721 · 6 挺 0.091109157 · 27 。 0.078018099 · 17 ， 0.068635911 · 21 ， 0.060936138 · 8 用 0.05191648 · 16 一样 0.045136154 · 18 应该 0.038288802 · 25 。 0.036342919 · 12 在 0.033013284 · 26 五分 0.032422632 · 23 也 0.030365154 · 15 的 0.028619051 · 10 和 0.026087582 · 9 的 0.02335906 · 22 烧水 0.021587744 · 5 ， 0.020465493 · 11 我 0.012083113 · 3 来 0.011826038 · 1 了 0.010910749 · 24 快 0.0078535229 · 4 评价 0.0051870346 · 19 是 -0.0072228611 · 14 买 -0.045606673 · 0 用过 -0.048195302 · 2 才 -0.10755491"),
    ("新购入好吃的噻...左边的是光明酸奶保质期很贴心的是150天哦..盒子也很心水.味道超级棒哦...当然价钱也贵一点...",
     "9 光明 0.23620945 · 2 好吃 0.20977235 · 0 新 0.098622561 · 19 .. 0.082070053 · 24 . 0.051661924 · 10 酸奶 0.051210225 · 26 超级 0.050095648 · 33 贵 0.045776516 · 34 一点 0.043491587 · 5 ... 0.042084634 · 28 哦 0.041375414 · 12 很 0.039076477 · 17 天 0.036537394 · 3 的 0.035894275 · 13 贴心 0.035299033 · 14 的 0.034476012 · 32 也 0.034225687 · 35 ... 0.03399314 · 29 ... 0.030394047 · 31 价钱 0.022595212 · 22 很 0.017542139 · 15 是 0.017276704 · 30 当然 0.016185507 · 11 保质期 0.015443504 · 7 的 0.013372183 · 16 150 0.0039001554 · 4 噻 -0.0 · 23 心水 -0.0 · 1 购入 -0.0 · 8 是 -0.0022000074 · 21 也 -0.0026017427 · 20 盒子 -0.019797415 · 6 左边 -0.026007473 · 25 味道 -0.088489026 · 18 哦 -0.092244744 · 27 棒 -0.10724148"),
    ("安装我自己花了500多，美的够黑心的，真的是烦心，安装的售后叼的要死！差评！！！！！",
     "10 黑心 0.42798662 · 22 要死 0.27835941 · 3 花 0.19574976 · 23 ！ 0.1150609 · 25 ！ 0.099666387 · 26 ！ 0.086483672 · 27 ！ 0.075068578 · 28 ！ 0.065046221 · 5 500 0.064557791 · 29 ！ 0.056182593 · 19 售后 0.053749442 · 8 美的 0.033454597 · 4 了 0.011106014 · 24 差评 -0.0 · 15 烦心 -0.0 · 20 叼 -0.0 · 21 的 -0.0019193888 · 12 ， -0.007355392 · 14 是 -0.0092425346 · 11 的 -0.010129571 · 13 真的 -0.018997073 · 18 的 -0.023140371 · 16 ， -0.025478244 · 6 多 -0.028243661 · 1 我 -0.028675437 · 7 ， -0.032953143 · 2 自己 -0.040592432 · 0 安装 -0.086136341 · 17 安装 -0.11075348 · 9 够 -0.1388548"),
    ("作者的文笔一般，观点也是和市面上的同类书大同小异，不推荐读者购买。",
     "12 书 0.21486527 · 3 一般 0.21002132 · 2 文笔 0.1983965 · 15 不 0.13881186 · 5 观点 0.10552621 · 19 。 0.10454651 · 17 读者 0.1005006 · 11 同类 0.067096055 · 16 推荐 0.034221202 · 8 和 0.0024021864 · 4 ， 0.0023730397 · 9 市面上 6.4194202e-05 · 13 大同小异 -0.0 · 0 作者 -0.0029646158 · 18 购买 -0.0097944811 · 7 是 -0.018220723 · 14 ， -0.029574722 · 1 的 -0.031183362 · 6 也 -0.03150624 · 10 的 -0.055580795"),
    ("总的来说有点乱七八糟的感觉。重复又重复。",
     "2 乱七八糟 0.48706663 · 1 有点 0.25306857 · 5 。 0.22749269 · 9 。 0.1819987 · 4 感觉 0.091413289 · 6 重复 0.042275667 · 3 的 0.035568655 · 8 重复 0.035231754 · 7 又 0.0035995394 · 0 总的来说 -0.35771555"),
    ("太离谱了，现在什么年代了，都不能下载铃声！我几乎找遍了都不支持！有时还会突然、死机，真是后悔了！",
     "19 不 0.24356699 · 1 离谱 0.22871125 · 11 下载 0.20161489 · 0 太 0.14231563 · 27 死机 0.12861626 · 10 不能 0.1119701 · 5 什么 0.095636666 · 13 ！ 0.092601627 · 21 ！ 0.078016117 · 32 ！ 0.070392698 · 6 年代 0.048469543 · 22 有时 0.046845198 · 30 后悔 0.044225916 · 31 了 0.041907579 · 25 突然 0.024277031 · 28 ， 0.019716278 · 24 会 0.0099375397 · 12 铃声 0.002569586 · 16 找遍 -0.0 · 9 都 -0.0023496151 · 2 了 -0.0070439577 · 4 现在 -0.013223112 · 7 了 -0.014739335 · 18 都 -0.018258482 · 3 ， -0.020016789 · 8 ， -0.025391042 · 17 了 -0.032811344 · 29 真是 -0.053523436 · 23 还 -0.072828561 · 15 几乎 -0.073504835 · 26 、 -0.081194341 · 14 我 -0.089508265 · 20 支持 -0.12699783"),
    ("很糟糕，没有比这更加糟糕的了，真是太糟糕了",
     "1 糟糕 0.35864168 · 3 没有 0.20132971 · 7 糟糕 0.20045981 · 11 真是太 0.18850464 · 13 了 0.15443647 · 6 更加 0.087445587 · 4 比 0.086736709 · 5 这 0.033832848 · 2 ， -0.013917089 · 8 的 -0.021302044 · 9 了 -0.04099898 · 12 糟糕 -0.051040836 · 10 ， -0.055929884 · 0 很 -0.12819862"),
    ("在快乐的地方做着快乐的事情，拥有快乐的心情",
     "1 快乐 0.27486306 · 6 快乐 0.20637855 · 10 拥有 0.11172111 · 11 快乐 0.092637397 · 12 的 0.065387651 · 9 ， 0.062397212 · 5 着 0.059462607 · 7 的 0.053004891 · 2 的 0.04632777 · 13 心情 0.044671077 · 0 在 0.023381054 · 4 做 0.014107406 · 8 事情 -0.014113277 · 3 地方 -0.040226519"),]


def _parse(text: str, listing: str) -> PostListing:
    ranking = []
    for item in listing.split(" · "):
        pos, word, score = item.split(" ")
        ranking.append((int(pos), word, float(score)))
    n = max(p for p, _, _ in ranking) + 1
    tokens = [""] * n
    scores = np.zeros(n)
    for p, w, s in ranking:
        tokens[p] = w
        scores[p] = s
    return PostListing(text, tuple(tokens), scores, tuple(ranking))


def post_listings() -> list[PostListing]:
    """The nine (sentence, ranking) listings printed in the post, parsed (chapter 02).

    Returns
    -------
    list of PostListing
        In the post's order; the test fixtures of the chapter.
    """
    return [_parse(t, l) for t, l in _RAW]
