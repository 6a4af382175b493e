"""Checks and error messages shared by the numpy, PyTorch and Keras versions of a topic.

Every check a numpy reference makes, its framework twins make with the *same*
message; the message text lives here once.  The functions that look at values
take numpy arrays (the framework modules convert concrete tensors first);
:func:`torch_tensor` is the one entry check of the PyTorch functions.
Importing this module imports neither PyTorch nor TensorFlow.
"""
from __future__ import annotations

import numbers

import numpy as np

# ----------------------------------------------------------------------------- messages
SQUASH_C = "the squash constant c must be a finite number > 0, got {!r}"
LABELS_INT = "labels must be integer class indices"
LABELS_VECTOR = "labels must be a vector of class indices, got shape {}"
LABELS_BATCH = "shape mismatch: {} labels for a batch of {}"
LABELS_RANGE = "label out of range: labels must lie in [0, {}), got min {} and max {}"
FEATURES_DIM = "shape mismatch: features have dimension {} but the centres have dimension {}"
TAGS_INT = "tags must be integers, got dtype {}"
TAGS_SHAPE = "tags must have shape {} to match emissions, got {}"
TAGS_RANGE = "tag out of range: tags must lie in [0, {}), got min {}, max {}"
NONFINITE = "{} contains NaN or infinite values"
MASK_BOOL = "{} must be a boolean array (True = keep), got dtype {}"
MASK_SHAPE = "{} has shape {}, which does not broadcast to {}"
MARGIN_SHAPE = "y_true and p must be matrices of the same shape, got {} and {}"
ACT_FLOAT = "activations take floating-point input, got {}"
ACT_NAME = "unknown activation {!r}; choose from {}"
QKV_NDIM = "q, k, v need at least 2 dimensions (..., T, d)"
QK_DIM = "q and k must share the last dimension, got {} and {}"
KV_LEN = "k and v must have the same length, got {} and {}"
CONSTRAINT_SHAPE = "{} must be a boolean array of shape {}, got shape {}"


def squash_constant(c) -> float:
    """Return the squash constant ``c`` as a float after checking that it is finite and positive."""
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not np.isfinite(c) or not c > 0:
        raise ValueError(SQUASH_C.format(c))
    return float(c)


def class_labels(y: np.ndarray, n_classes: int, batch: int | None = None) -> np.ndarray:
    """Integer class indices ``(batch,)`` (a ``(batch, 1)`` column is accepted) as int64.

    Integer-valued floats are accepted; any other float, a wrong length or a label
    outside ``[0, n_classes)`` raises ``ValueError``.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(LABELS_VECTOR.format(y.shape))
    if y.dtype == np.bool_:
        raise ValueError(LABELS_INT)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.all(np.isfinite(y)) or not np.all(np.mod(y, 1) == 0):
            raise ValueError(LABELS_INT)
    y = y.astype(np.int64)
    if batch is not None and len(y) != batch:
        raise ValueError(LABELS_BATCH.format(len(y), batch))
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(LABELS_RANGE.format(n_classes, y.min(), y.max()))
    return y


SPLIT_SIZES = "shape mismatch: {} training images for {} labels, {} test images for {} labels"


def labelled_split(x_train, y_train, x_test, y_test) -> tuple[np.ndarray, np.ndarray, int]:
    """Check a train/test split of images and labels; return both label vectors and the class count.

    The class count is one more than the largest label of either set; the labels are checked
    with :func:`class_labels` (int64, in range).
    """
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(SPLIT_SIZES.format(len(x_train), len(y_train), len(x_test), len(y_test)))
    n_classes = int(max(np.max(y_train), np.max(y_test))) + 1
    return class_labels(y_train, n_classes), class_labels(y_test, n_classes), n_classes


def constraint(a, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A boolean hard-constraint mask (``True`` = allowed) of exactly ``shape``."""
    m = np.asarray(a)
    if m.dtype != np.bool_:
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"{name} must contain only booleans (or 0/1)")
        m = m.astype(bool)
    if m.shape != tuple(shape):
        raise ValueError(CONSTRAINT_SHAPE.format(name, tuple(shape), m.shape))
    return m


def torch_tensor(x, name: str, *, floating: bool = False):
    """Reject what is not a ``torch.Tensor`` (lists, numpy arrays, numbers) with a ``TypeError``.

    ``floating=True`` also requires a floating-point dtype.  Converting silently
    would put the data on the CPU in a default dtype, whatever the caller meant.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__} "
                        f"(convert it with torch.as_tensor(...) on the device you want)")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def keras_concrete(x):
    """``x`` as a numpy array when it has a value (eager); ``None`` for symbolic or traced tensors."""
    import warnings

    if isinstance(x, np.ndarray):
        return x
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():      # inside a traced train step: nothing to check
            return None
    if hasattr(x, "numpy"):                 # eager tensors and variables
        return np.asarray(x.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return np.asarray(keras.ops.convert_to_numpy(x))
        except Exception:  # symbolic tensor of another backend
            return None


REDUCTION = "reduction must be 'none' or 'mean', got {!r}"


# ---- losses and activations (chapters 01 and 03)
SMOOTHING_EPS = "the smoothing weight eps must lie in [0, 1), got {!r}"
HINGE_MARGIN = "the margin must be a finite number >= 0, got {!r}"
CENTER_LAM = "the center-loss weight lam must be a finite number >= 0, got {!r}"
MATRIX_SHAPE = "{} must be a matrix of shape {}, got shape {}"
SAME_SHAPE = "shape mismatch: {} must have the same shape, got {}"
ZERO_VECTOR = "cosine is undefined for a zero vector (a zero row in {})"
REAL_DTYPE = "{} must hold real numbers (integers are cast to floating point), got dtype {}"
EMPTY_MEAN = "reduction='mean' of an empty batch is undefined: pass at least one sample or use reduction='none'"
INT_AT_LEAST = "{} must be an integer >= {}, got {!r}"
INT_ANY = "{} must be an integer, got {!r}"
INDEX_RANGE = "{} out of range: indices must lie in [0, {}), got min {} and max {}"
MLP_WEIGHTS = "weights must be a non-empty sequence of matrices, got {}"
MLP_CHAIN = "shape mismatch: {} has {} columns but {} has {} rows"
NONEMPTY = "{} is empty (shape {}); it needs at least one {}"


def real_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array; integers are cast, booleans, complex numbers and text refused.

    The losses of chapter 01 take integer input as numbers (their PyTorch and Keras twins
    cast it to floating point too).
    """
    a = np.asarray(x)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(REAL_DTYPE.format(name, a.dtype))
    return a.astype(np.float64)


def finite(a: np.ndarray, name: str) -> np.ndarray:
    """Raise ``ValueError`` (:data:`NONFINITE`) unless every value of the numpy array ``a`` is finite."""
    if not np.all(np.isfinite(a)):
        raise ValueError(NONFINITE.format(name))
    return a


def int_at_least(value, name: str, minimum: int | None = None) -> int:
    """``value`` as an ``int`` after checking it is an integer (not a bool, not ``2.0``) ``>= minimum``.

    The one integer check of the package: every count, size, index bound and seed goes through
    it, so a bad one always reads "<name> must be an integer >= <minimum>, got <value>".
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (
            minimum is not None and value < minimum):
        if minimum is None:
            raise ValueError(INT_ANY.format(name, value))
        raise ValueError(INT_AT_LEAST.format(name, minimum, value))
    return int(value)


def nonneg_number(value, message: str) -> float:
    """``value`` as a float after checking it is a finite real number ``>= 0`` (else ``message``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(message.format(value))
    return float(value)


def reduction(value) -> str:
    """Check a loss's ``reduction`` argument: ``"none"`` (per sample) or ``"mean"``."""
    if not (isinstance(value, str) and value in ("none", "mean")):
        raise ValueError(REDUCTION.format(value))
    return value


# ---- CRF (chapter 05), kexue.data and kexue.text
CRF_NUM_TAGS = "num_tags must be an integer >= 1, got {!r}"
CRF_K = "emissions have K = {} labels but the CRF has num_tags = {}"
CRF_EM_BATCH = "emissions must have shape (B, T, K), got {}"
CRF_EM_SINGLE = "emissions must have shape (T, K), got {}"
CRF_EM_FLOAT = "emissions must be a floating-point tensor, got dtype {}"
CRF_ZERO_LENGTH = "zero-length sequence: emissions have T = 0 steps"
CRF_NONFINITE = "{} contain non-finite values (nan or inf)"
CRF_TRANS_SHAPE = "trans must have shape {} to match emissions, got {}"
CRF_START_END_SHAPE = "start/end must have shape {}, got {} and {}"
CRF_MASK_SHAPE = "mask must have shape {} to match emissions, got {}"
CRF_MASK_01 = "mask must contain only 0/1 (or booleans)"
CRF_MASK_START = ("every sequence needs at least one step and the mask must start with 1 "
                  "(zero-length sequence or left padding)")
CRF_MASK_GAP = "mask has a gap (a 0 followed by a 1): only right padding is supported"
CRF_NO_PATH = ("no tag path of length {} satisfies the hard constraints (allowed, allowed_start, "
               "allowed_end): every path scores -inf")
CRF_EMPTY_BATCH = "reduction='mean' of an empty batch: there is no sequence to average over"
CONSTRAINT_BOOL = "{} must contain only booleans (or 0/1)"
SBME_TAGS = "tags may only contain s/b/m/e, got {!r}"
TAGS_CHARS_LENGTH = "chars and tags must have the same length, got {} characters and {} tags"
VOCAB_ID = ("vocabulary ids must be integers >= 1 (0 is padding): {!r} has id {!r}")
UNKNOWN_ID = "unknown must be an integer id >= 0 (0 = padding), got {!r}"
UNKNOWN_COLLIDES = ("unknown id {} is also the id of {!r} in the vocabulary: unknown tokens would read as "
                    "that token (build the vocabulary with reserve_unknown=True, or pass unknown=0)")


def crf_num_tags(num_tags) -> int:
    """The number of tags of a CRF layer, checked: an integer >= 1 (chapter 05)."""
    if isinstance(num_tags, bool) or not isinstance(num_tags, numbers.Integral) or num_tags < 1:
        raise ValueError(CRF_NUM_TAGS.format(num_tags))
    return int(num_tags)


def crf_params(trans: np.ndarray, start: np.ndarray | None = None, end: np.ndarray | None = None) -> None:
    """Refuse NaN or infinite transition / start / end scores of a CRF (chapter 05)."""
    for name, a in (("transition scores trans", trans), ("start scores", start), ("end scores", end)):
        if a is not None and not np.all(np.isfinite(a)):
            raise ValueError(CRF_NONFINITE.format(name))


# ---- saliency and PMI (chapters 02 and 04)
IDS_NDIM = "{} must be a 1-d sequence of token ids, got shape {}"
IDS_EMPTY = "{} is empty: a sentence needs at least one token to be scored"
IDS_INT = "{} must be integer token ids, got dtype {}"
IDS_RANGE = "token id out of range: {} must lie in [0, {}) (the embedding's rows), got min {} and max {}"
IDS_ALL_PAD = "every token is padding / unknown (id 0): nothing to score"
SEQS_LABELS = "need one label per sequence, got {} sequences and {} labels"
SEQS_EMPTY_TRAIN = "drop empty sequences (no known word) before training"
ONE_SCORE_PER_TOKEN = "need one score per token: {} tokens, scores of shape {}"
WORD_INDEX = "word index out of range: {} must lie in [0, {}), got min {} and max {}"
WORD_INDEX_INT = "{} must be integer word indices, got dtype {}"
TOPN = "topn must be an integer >= 1, got {!r}"
VOCAB_SIZE = "vocab_size must count id 0 and at least one word, got {}"
DROPOUT = "dropout must lie in [0, 1), got {!r}"
REAL_ARRAY = "{} must be a real-valued array, got dtype {}"


def token_ids(ids, vocab_size: int, *, name: str = "ids", allow_empty: bool = False) -> np.ndarray:
    """One sentence's token ids ``(n,)`` as int64, each in ``[0, vocab_size)``.

    Integer-valued floats are refused like other floats (a ``TypeError`` naming the dtype),
    negative ids too (they would wrap to the last rows of an embedding).
    """
    a = np.asarray(ids)
    if a.ndim != 1:
        raise ValueError(IDS_NDIM.format(name, a.shape))
    if a.size == 0:
        if not allow_empty:
            raise ValueError(IDS_EMPTY.format(name))
        return np.zeros(0, dtype=np.int64)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(IDS_INT.format(name, a.dtype))
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(IDS_RANGE.format(name, vocab_size, lo, hi))
    return a.astype(np.int64)


def word_indices(idx, n_words: int, name: str) -> np.ndarray:
    """Word indices (any shape) as int64, each in ``[0, n_words)``; negative ones raise."""
    a = np.asarray(idx)
    if a.size == 0:
        return a.astype(np.int64)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(WORD_INDEX_INT.format(name, a.dtype))
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= n_words:
        raise ValueError(WORD_INDEX.format(name, n_words, lo, hi))
    return a.astype(np.int64)


# ---- attention (chapter 06)
ATT_FLOAT = "{} must be floating-point, got dtype {}"
ATT_LAYOUT = "layout must be one of {}, got {!r}"
ATT_DIM = "dim must be a positive even integer, got {!r}"
ATT_LENGTH = "length must be an integer >= 0, got {!r}"
ATT_START = "start must be an integer, got {!r}"
ATT_BASE = "base must be a finite number > 0, got {!r}"
ATT_SCALE = "scale must be True, False or a finite number > 0, got {!r}"
ATT_MODE = "mode must be 'sum' or 'concat', got {!r}"
ATT_CONCAT_SIZE = "mode='concat' needs a size (a positive even integer), got {!r}"
ATT_SUM_SIZE = "mode='sum' needs size == input features ({}), got {}"
ATT_X3D = "{} must have shape (batch, time, features), got shape {}"
ATT_FEATURES = "{} has {} features, but the layer expects {}"
ATT_BATCH = "q, k and v must have the same batch size, got {}, {} and {}"
ATT_LENGTHS = "lengths must be a 1-D integer array, got shape {}, dtype {}"
ATT_LENGTHS_RANGE = "lengths must lie in [0, {}], got min {} and max {}"
ATT_WEIGHT_SHAPE = "{} has shape {}, expected {}"
ATT_NO_WO = "wo was given, but the layer has no output projection (out_dim=None)"
ATT_IDS = "tokens must be integer ids of shape (batch, time), got dtype {} and shape {}"
ATT_IDS_RANGE = "token ids must lie in [0, {}), got min {} and max {}"


def att_scale(scale) -> bool | float:
    """The ``scale`` of the attention logits: ``True``, ``False`` or a finite number > 0."""
    if isinstance(scale, (bool, np.bool_)):
        return bool(scale)
    if not isinstance(scale, numbers.Real) or not np.isfinite(scale) or not scale > 0:
        raise ValueError(ATT_SCALE.format(scale))
    return float(scale)


def att_float_dtype(name: str, dtype) -> None:
    """Refuse a non-floating dtype (given as a string such as ``"int64"``) with a ``TypeError``."""
    if not str(dtype).startswith(("float", "bfloat")):
        raise TypeError(ATT_FLOAT.format(name, dtype))


def att_position_args(length, dim, layout: str, base, start, layouts: tuple[str, ...]) -> None:
    """Check the arguments of ``sinusoidal_position_embedding`` (``length=None``: a dynamic length)."""
    if layout not in layouts:
        raise ValueError(ATT_LAYOUT.format(layouts, layout))
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 2 or dim % 2:
        raise ValueError(ATT_DIM.format(dim))
    if length is not None and (isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0):
        raise ValueError(ATT_LENGTH.format(length))
    if isinstance(base, bool) or not isinstance(base, numbers.Real) or not np.isfinite(base) or not base > 0:
        raise ValueError(ATT_BASE.format(base))
    if isinstance(start, bool) or not isinstance(start, numbers.Integral):
        raise ValueError(ATT_START.format(start))


def att_lengths(lengths: np.ndarray, max_len: int) -> None:
    """Check true lengths ``(batch,)`` against ``max_len`` (values read from a numpy array)."""
    if lengths.ndim != 1 or lengths.dtype == np.bool_ or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(ATT_LENGTHS.format(lengths.shape, lengths.dtype))
    if lengths.size and (lengths.min() < 0 or lengths.max() > max_len):
        raise ValueError(ATT_LENGTHS_RANGE.format(max_len, lengths.min(), lengths.max()))


# ---- capsule and kmeans (chapters 07 and 08)
ROUTING_NAME = "unknown routing {!r}; choose one of {}"
ROUTINGS_INT = "routings must be an integer >= 1, got {!r}"
ROUTING_ITERATIONS = "the number of routing iterations r must be an integer >= 0, got {!r}"
SHARPNESS = "the sharpness K must be a finite positive number, got {!r}"
U_HAT_SHAPE = "u_hat must have shape (batch, k, n, d), got shape {}"
CAPS_INPUT_SHAPE = "input capsules must have shape (batch, n, d_in), got shape {}"
CAPS_INPUT_DIM = "expected input capsules of dimension {}, got {}"
CAPS_UNSHARED_N = "unshared weights are for {} input capsules, got {}"
CAPS_UNSHARED_NEEDS_N = ("unshared weights need a fixed number of input capsules: pass input_num_capsule "
                         "to the PyTorch layer or give the Keras layer a known n "
                         "(or use share_weights=True for a variable number of inputs)")
CAPS_D_IN_UNKNOWN = "the input capsule dimension d_in must be known"
FLOAT_DTYPE = "{} needs a floating-point dtype (float16, bfloat16, float32 or float64), got {!r}"
NDIM_EXACT = "{} must have {} dimensions, got shape {}"
NDIM_AT_LEAST = "{} must have at least {} dimensions, got shape {}"
EMPTY = "{} is empty (shape {})"
SAME_DIM = "u and v must have the same dimension, got {} and {}"
IP_SHAPES = "shapes do not fit: v {}, u {}, c {}"
CENTRE_ZERO = "the centre v must be non-zero (its direction is undefined)"
CENTRES_SHAPE = "{} must have shape (..., k, d) = {}, got {}"
L2_EPS = "eps must be a finite number >= 0, got {!r}"

#: largest finite value per floating dtype name (``squash_scale`` and ``l2_normalize`` use it)
FLOAT_MAX = {"float16": 65504.0, "bfloat16": 3.38e38, "float32": 3.4028e38, "float64": 1.7976e308}


def routing_iterations(r) -> int:
    """``r`` as an int after checking that it is an integer >= 0 (float 2.0 is accepted)."""
    if isinstance(r, bool) or not isinstance(r, numbers.Real) or not np.isfinite(r) or int(r) != r or r < 0:
        raise ValueError(ROUTING_ITERATIONS.format(r))
    return int(r)


def sharpness(K) -> float:
    """The sharpness ``K`` of a soft assignment as a float after checking that it is finite and > 0."""
    if isinstance(K, bool) or not isinstance(K, numbers.Real) or not np.isfinite(K) or not K > 0:
        raise ValueError(SHARPNESS.format(K))
    return float(K)


def positive_int(value, name: str) -> int:
    """``value`` as an int after checking that it is an integer >= 1: :func:`int_at_least` with 1."""
    return int_at_least(value, name, 1)


def float_dtype_max(dtype, name: str = "x") -> float:
    """The largest finite value of a floating dtype given by name (``"float32"``); ``TypeError`` otherwise."""
    key = str(dtype).removeprefix("torch.")
    if key not in FLOAT_MAX:
        raise TypeError(FLOAT_DTYPE.format(name, key))
    return FLOAT_MAX[key]


def l2_eps(eps) -> float:
    """The ``eps`` of ``l2_normalize`` / ``squash`` as a float after checking that it is finite and >= 0."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps < 0:
        raise ValueError(L2_EPS.format(eps))
    return float(eps)
