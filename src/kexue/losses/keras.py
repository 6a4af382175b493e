"""Keras 3 versions of chapter 01's losses and models (``keras.ops`` only, no backend ``K.*``).

See ``chapters/01-keras-custom-loss.md`` (post: <https://kexue.fm/archives/4493>).
:func:`mixed_cross_entropy` and :func:`center_loss` are the twins of the numpy reference
(same arguments, ``reduction="none"`` default and messages; integer input is cast to
Keras' float type); :func:`make_mixed_crossentropy` is a different contract, a loss for
``model.compile`` taking one-hot targets.

Three ways to train with center loss are built here on the *same* layers:

1. the post's trick: the label is a second input, the loss is a layer and a
   model output, compiled with a loss that returns ``y_pred`` and fed dummy
   targets (:func:`build_center_loss_models`, :func:`compile_center_loss`);
2. ``add_loss`` inside a layer's ``call`` (:class:`CenterLossPenalty`);
3. overriding ``keras.Model.compute_loss`` (:class:`CenterLossModel`).

Every layer and model class here is registered (package ``"kexue"``) and saves to
``.keras``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from kexue import _validate
from kexue.losses.numpy_ref import check_eps
from kexue.seed import seed_everything

#: a Keras tensor, a backend tensor or a numpy array
Tensor = Any

__all__ = [
    "mixed_cross_entropy", "make_mixed_crossentropy", "center_loss", "identity_loss", "CenterDistance",
    "CenterLossModels", "build_center_loss_models", "compile_center_loss", "CenterLossPenalty",
    "build_add_loss_model", "CenterLossModel", "TripletHinge", "TripletModels", "build_triplet_models",
]


def _not_retracing_notice(record: logging.LogRecord) -> bool:
    return "triggered tf.function retracing" not in record.getMessage()


# Chapter 01 compiles and fits several small models in one process on purpose (triplet, center
# loss three ways); TensorFlow's frequent-retracing heuristic then logs a notice naming a memory
# address. Only that notice is dropped; every other TensorFlow log record passes.
logging.getLogger("tensorflow").addFilter(_not_retracing_notice)


# ----------------------------------------------------------------------------- checks
def _dtype(x: Tensor) -> str:
    return keras.backend.standardize_dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)


def _matrix(x: Tensor, name: str, shape: str) -> Tensor:
    """The numpy reference's ``_matrix`` checks: real numbers (integers cast), 2-D, finite when concrete."""
    dtype = _dtype(x)
    if dtype == "bool" or not ("float" in dtype or "int" in dtype):
        raise TypeError(_validate.REAL_DTYPE.format(name, dtype))
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    if len(x.shape) != 2:
        raise ValueError(_validate.MATRIX_SHAPE.format(name, shape, tuple(x.shape)))
    if "float" not in dtype:
        x = ops.cast(x, keras.backend.floatx())
    value = _validate.keras_concrete(x)
    if value is not None:
        _validate.finite(value, name)
    return x


def _class_labels(labels: Tensor, n_classes: int, batch: int | None) -> Tensor:
    """:func:`kexue._validate.class_labels` on concrete labels; shape and dtype checks on symbolic ones."""
    dtype = _dtype(labels)
    y = _validate.keras_concrete(labels) if hasattr(labels, "shape") else np.asarray(labels)
    if y is not None:
        labels = _validate.class_labels(y, n_classes, batch)
    else:
        shape = tuple(labels.shape)
        if dtype == "bool" or "float" in dtype:
            raise ValueError(_validate.LABELS_INT)
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise ValueError(_validate.LABELS_VECTOR.format(shape))
        if shape[0] is not None and batch is not None and shape[0] != batch:
            raise ValueError(_validate.LABELS_BATCH.format(shape[0], batch))
    return ops.reshape(ops.cast(labels, "int32"), (-1,))


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """Per-sample ``loss`` (batch,) as it is (``"none"``) or its mean (``"mean"``, non-empty only)."""
    if reduction == "none":
        return loss
    if loss.shape[0] == 0:
        raise ValueError(_validate.EMPTY_MEAN)
    return ops.mean(loss)


# ----------------------------------------------------------------------------- mixed cross-entropy
def mixed_cross_entropy(logits: Tensor, labels: Tensor, eps: float = 0.1, reduction: str = "none") -> Tensor:
    """The post's mixed loss ``(1 - eps) CE(onehot, p) + eps CE(uniform, p)`` (chapter 01, eq. mixed).

    Written as the mixture of two cross-entropies with ``p = softmax(logits)``.

    Parameters
    ----------
    logits : Tensor, shape (batch, n_classes)
        Finite scores; integer input is cast to Keras' float type.
    labels : Tensor of int, shape (batch,)
        Class indices in ``[0, n_classes)`` (checked whenever they are concrete).
    eps : float, optional
        Weight of the uniform target, ``0 <= eps < 1``.
    reduction : {"none", "mean"}, optional
        ``"none"``: one loss per sample; ``"mean"``: their average.

    Returns
    -------
    Tensor, shape (batch,) or ()
        Per-sample losses in the dtype of ``logits`` (``"none"``), or their mean (``"mean"``).

    Raises
    ------
    TypeError
        If ``logits`` does not hold real numbers.
    ValueError
        For a bad ``eps``, label, shape or reduction, non-finite logits, or
        ``reduction="mean"`` on an empty batch.
    """
    eps = check_eps(eps)
    _validate.reduction(reduction)
    logits = _matrix(logits, "logits", "(batch, n_classes)")
    if logits.shape[1] == 0:
        raise ValueError(_validate.NONEMPTY.format("logits", tuple(logits.shape), "class column"))
    labels = _class_labels(labels, int(logits.shape[1]), logits.shape[0])
    logp = ops.log_softmax(logits, axis=-1)                              # shape (batch, n_classes)
    ce_true = -ops.take_along_axis(logp, labels[:, None], axis=1)[:, 0]  # shape (batch,)
    ce_uniform = -ops.mean(logp, axis=1)                                  # shape (batch,)
    return _reduce((1.0 - eps) * ce_true + eps * ce_uniform, reduction)


def make_mixed_crossentropy(eps: float = 0.1, from_logits: bool = False) -> Callable[[Tensor, Tensor], Tensor]:
    """A Keras loss for ``model.compile``: the mixed cross-entropy on one-hot targets (chapter 01).

    Not the twin of :func:`mixed_cross_entropy`: it follows Keras' loss contract
    ``loss(y_true, y_pred)`` with one-hot ``y_true``, and Keras averages its per-sample
    values.  The uniform target is built from ``y_pred``'s shape, as the post does with
    ``ones_like(y_pred) / n``.

    Parameters
    ----------
    eps : float, optional
        Weight of the uniform target, ``0 <= eps < 1``.
    from_logits : bool, optional
        ``y_pred`` holds logits (``True``) or probabilities (``False``, the post's softmax
        output).

    Returns
    -------
    callable
        ``mixed_crossentropy(y_true, y_pred)``, both of shape (batch, n_classes), returning
        the per-sample losses, shape (batch,).

    Raises
    ------
    ValueError
        For a bad ``eps``.
    """
    eps = check_eps(eps)

    def mixed_crossentropy(y_true: Tensor, y_pred: Tensor) -> Tensor:
        y_true = ops.cast(y_true, y_pred.dtype)
        uniform = ops.ones_like(y_pred) / ops.cast(ops.shape(y_pred)[-1], y_pred.dtype)
        ce_true = ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)
        ce_uniform = ops.categorical_crossentropy(uniform, y_pred, from_logits=from_logits)
        return (1.0 - eps) * ce_true + eps * ce_uniform

    return mixed_crossentropy


# ----------------------------------------------------------------------------- center loss
def center_loss(features: Tensor, labels: Tensor, centres: Tensor, reduction: str = "none") -> Tensor:
    """Center loss ``||x_i - c_{y_i}||^2``, a plain sum of squares with no 1/2 (chapter 01, eq. center).

    The numpy reference's checks run with its messages: shapes always, values whenever
    they are concrete (eager); symbolic float labels are refused.

    Parameters
    ----------
    features : Tensor, shape (batch, dim)
        The feature vectors (finite; integer input is cast to Keras' float type).
    labels : Tensor of int, shape (batch,) or (batch, 1)
        Class indices in ``[0, n_classes)``.
    centres : Tensor, shape (n_classes, dim)
        One centre per class (e.g. an ``Embedding``'s ``embeddings``).
    reduction : {"none", "mean"}, optional
        ``"none"``: one loss per sample; ``"mean"``: their average.

    Returns
    -------
    Tensor, shape (batch,) or ()
        Per-sample losses (``"none"``), or their mean (``"mean"``).

    Raises
    ------
    TypeError
        If ``features`` or ``centres`` does not hold real numbers.
    ValueError
        For a bad shape, label or reduction, non-finite input, or ``reduction="mean"`` on an
        empty batch.
    """
    _validate.reduction(reduction)
    features = _matrix(features, "features", "(batch, dim)")
    centres = _matrix(centres, "centres", "(n_classes, dim)")
    if features.shape[1] is not None and centres.shape[1] is not None and features.shape[1] != centres.shape[1]:
        raise ValueError(_validate.FEATURES_DIM.format(features.shape[1], centres.shape[1]))
    labels = _class_labels(labels, int(centres.shape[0]), features.shape[0])
    diff = features - ops.take(centres, labels, axis=0)                  # shape (batch, dim)
    return _reduce(ops.sum(ops.square(diff), axis=-1), reduction)


# ----------------------------------------------------------------------------- the post's trick
@keras.saving.register_keras_serializable(package="kexue")
def identity_loss(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """The loss of an output that already *is* a loss: ignore ``y_true``, return ``y_pred`` (chapter 01).

    Parameters
    ----------
    y_true : Tensor
        The dummy target (ignored).
    y_pred : Tensor, shape (batch, 1)
        The model's loss output.

    Returns
    -------
    Tensor, shape (batch, 1)
        ``y_pred``.
    """
    return y_pred


@keras.saving.register_keras_serializable(package="kexue")
class CenterDistance(keras.layers.Layer):
    """``||x - c_y||^2`` per sample from ``[features, centres]``: the post's loss layer (chapter 01).

    ``centres`` is the output of an ``Embedding`` fed with the label.  Takes the usual
    ``keras.layers.Layer`` keyword arguments (``name``, ``dtype``, ...).
    """

    def call(self, inputs: list[Tensor]) -> Tensor:
        """Squared distance of each feature to its looked-up centre.

        Parameters
        ----------
        inputs : list of two Tensors
            ``features`` of shape (batch, dim) and ``centres`` of shape (batch, 1, dim).

        Returns
        -------
        Tensor, shape (batch, 1)
            ``||x_i - c_{y_i}||^2``.
        """
        features, centres = inputs
        return ops.sum(ops.square(features - centres[:, 0]), axis=1, keepdims=True)


class CenterLossModels(NamedTuple):
    """The models of :func:`build_center_loss_models`; all share one set of weights (chapter 01).

    Fields: ``train`` (keras.Model, ``[image, label] -> [softmax, l2_loss]``), ``inference``
    (``image -> softmax``), ``features`` (``image -> [feature, softmax]``) and ``centres``
    (the ``Embedding`` of the class centres, ``embeddings`` of shape (n_classes, feat_dim)).
    """

    train: keras.Model
    inference: keras.Model
    features: keras.Model
    centres: keras.layers.Embedding


def build_center_loss_models(input_shape: tuple[int, ...] = (28, 28), n_classes: int = 10,
                             feat_dim: int = 2, hidden: int = 128, *,
                             seed: int | None = None) -> CenterLossModels:
    """The post's center-loss set-up on an MLP with a ``feat_dim``-dimensional feature layer (chapter 01).

    The label enters as a second input and selects its centre from an
    ``Embedding(n_classes, feat_dim)``; the centres are ordinary weights, learned by
    gradient descent.  The training model outputs ``[softmax, l2_loss]``;
    ``inference`` and ``features`` are separate models on the same layers.

    Parameters
    ----------
    input_shape : tuple of int, optional
        Shape of one image.
    n_classes : int, optional
        Number of classes (>= 2).
    feat_dim : int, optional
        Dimension of the feature layer (>= 1).
    hidden : int, optional
        Width of the first hidden layer (>= 1).
    seed : int, optional
        If given, ``kexue.seed_everything(seed)`` runs right before the layers are built.

    Returns
    -------
    CenterLossModels
        The three models and the centre layer.

    Raises
    ------
    ValueError
        If a size is out of range.
    """
    n_classes = _validate.int_at_least(n_classes, "n_classes", 2)
    feat_dim = _validate.int_at_least(feat_dim, "feat_dim", 1)
    hidden = _validate.int_at_least(hidden, "hidden", 1)
    if seed is not None:
        seed_everything(seed)
    image = keras.Input(shape=input_shape, name="image")
    label = keras.Input(shape=(1,), dtype="int32", name="label")
    h = keras.layers.Flatten()(image)
    h = keras.layers.Dense(hidden, activation="relu")(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    feature = keras.layers.Dense(feat_dim, name="feature")(h)
    predict = keras.layers.Dense(n_classes, activation="softmax", name="softmax")(feature)
    centres = keras.layers.Embedding(n_classes, feat_dim, name="centres")
    l2_loss = CenterDistance(name="l2_loss")([feature, centres(label)])
    return CenterLossModels(
        train=keras.Model([image, label], [predict, l2_loss], name="center_train"),
        inference=keras.Model(image, predict, name="center_inference"),
        features=keras.Model(image, [feature, predict], name="center_features"),
        centres=centres,
    )


def compile_center_loss(train: keras.Model, lam: float = 0.2, lr: float = 1e-3) -> keras.Model:
    """Compile the two-output model: sparse CE on ``softmax``, ``y_pred`` as the loss of ``l2_loss`` (chapter 01).

    ``loss_weights = {softmax: 1, l2_loss: lam}``.  Keras 3 no longer logs each output's
    loss, so explicit per-output metrics bring them back: accuracy and cross-entropy of
    ``softmax`` and the mean of ``l2_loss`` (the center loss).

    Parameters
    ----------
    train : keras.Model
        The ``train`` model of :func:`build_center_loss_models`.
    lam : float, optional
        Weight of the center loss (>= 0).
    lr : float, optional
        Adam's learning rate.

    Returns
    -------
    keras.Model
        ``train``, compiled.

    Raises
    ------
    ValueError
        For a negative or non-finite ``lam``.
    """
    lam = _validate.nonneg_number(lam, _validate.CENTER_LAM)
    train.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss={"softmax": "sparse_categorical_crossentropy", "l2_loss": identity_loss},
        loss_weights={"softmax": 1.0, "l2_loss": lam},
        metrics={"softmax": [keras.metrics.SparseCategoricalAccuracy(name="acc"),
                             keras.metrics.SparseCategoricalCrossentropy(name="ce")],
                 "l2_loss": [keras.metrics.MeanMetricWrapper(identity_loss, name="center")]},
    )
    return train


# ----------------------------------------------------------------------------- Keras 3 idioms
@keras.saving.register_keras_serializable(package="kexue")
class CenterLossPenalty(keras.layers.Layer):
    """Pass ``features`` through and ``add_loss(lam * mean ||x - c_y||^2)``: the ``add_loss`` idiom (chapter 01).

    Parameters
    ----------
    centres : keras.layers.Embedding
        The class centres (may be shared with other models).
    lam : float, optional
        Weight of the center loss (>= 0).
    **kwargs
        ``keras.layers.Layer`` arguments (``name``, ...).

    Raises
    ------
    ValueError
        For a negative or non-finite ``lam``.
    """

    def __init__(self, centres: keras.layers.Embedding, lam: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lam = _validate.nonneg_number(lam, _validate.CENTER_LAM)
        self.centres = centres

    def build(self, input_shape: Any) -> None:
        """Build the centre layer if it is not built yet (after loading from a file)."""
        if not self.centres.built:
            self.centres.build((None, 1))
        super().build(input_shape)

    def call(self, inputs: list[Tensor]) -> Tensor:
        """Add the weighted mean center loss of the batch; return the features unchanged.

        Parameters
        ----------
        inputs : list of two Tensors
            ``features`` of shape (batch, feat_dim) and ``label`` of shape (batch, 1), int.

        Returns
        -------
        Tensor, shape (batch, feat_dim)
            ``features``.
        """
        features, label = inputs
        self.add_loss(self.lam * ops.mean(center_loss(features, label, self.centres.embeddings)))
        return features

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, with the centre layer serialised."""
        return {**super().get_config(), "lam": self.lam,
                "centres": keras.saving.serialize_keras_object(self.centres)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CenterLossPenalty:
        """Rebuild the layer (and a new centre layer) from :meth:`get_config`."""
        config = dict(config)
        config["centres"] = keras.saving.deserialize_keras_object(config["centres"])
        return cls(**config)


def build_add_loss_model(models: CenterLossModels, lam: float = 0.2) -> keras.Model:
    """``[image, label] -> softmax`` with the center loss added inside a layer, on ``models``' weights (chapter 01).

    Parameters
    ----------
    models : CenterLossModels
        From :func:`build_center_loss_models`; its layers are reused, not copied.
    lam : float, optional
        Weight of the center loss (>= 0).

    Returns
    -------
    keras.Model
        The model; compile it with ``sparse_categorical_crossentropy``.
    """
    image = keras.Input(shape=models.train.inputs[0].shape[1:], name="image")
    label = keras.Input(shape=(1,), dtype="int32", name="label")
    feature_layer = models.train.get_layer("feature")
    softmax_layer = models.train.get_layer("softmax")
    # rebuild the path image -> feature from the shared layers
    h = image
    for layer in models.train.layers:
        if layer.name in ("image", "label", "centres", "l2_loss", "softmax"):
            continue
        h = layer(h)
        if layer is feature_layer:
            break
    h = CenterLossPenalty(models.centres, lam, name="center_penalty")([h, label])
    return keras.Model([image, label], softmax_layer(h), name="center_add_loss")


@keras.saving.register_keras_serializable(package="kexue")
class CenterLossModel(keras.Model):
    """Center loss by overriding ``compute_loss``: the backend-agnostic Keras 3 idiom (chapter 01).

    Inputs are images only; the labels arrive as ``y`` and select the centres inside
    ``compute_loss``.  Both ``backbone`` and ``centres`` may be shared with the models of
    :func:`build_center_loss_models`.

    Parameters
    ----------
    backbone : keras.Model
        Maps an image to ``[feature (batch, feat_dim), softmax (batch, n_classes)]``.
    centres : keras.layers.Embedding
        ``Embedding(n_classes, feat_dim)``: the class centres.
    lam : float, optional
        Weight of the center loss (>= 0).
    **kwargs
        ``keras.Model`` arguments (``name``, ...).

    Raises
    ------
    ValueError
        For a negative or non-finite ``lam``.
    """

    def __init__(self, backbone: keras.Model, centres: keras.layers.Embedding, lam: float = 0.2,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lam = _validate.nonneg_number(lam, _validate.CENTER_LAM)
        self.backbone = backbone
        self.centres = centres
        self.ce_tracker = keras.metrics.Mean(name="ce")
        self.center_tracker = keras.metrics.Mean(name="center")
        self.acc_tracker = keras.metrics.SparseCategoricalAccuracy(name="acc")

    def build(self, input_shape: Any) -> None:
        """Build the centre layer if it is not built yet (after loading from a file)."""
        if not self.centres.built:
            self.centres.build((None, 1))
        super().build(input_shape)

    def call(self, inputs: Tensor, training: bool = False) -> tuple[Tensor, Tensor]:
        """Probabilities and features of a batch of images.

        Parameters
        ----------
        inputs : Tensor, shape (batch, height, width)
            Images.
        training : bool, optional
            Passed to the backbone.

        Returns
        -------
        probs : Tensor, shape (batch, n_classes)
            The softmax output.
        feature : Tensor, shape (batch, feat_dim)
            The feature layer's output.
        """
        feature, probs = self.backbone(inputs, training=training)
        return probs, feature

    def compute_loss(self, x: Tensor = None, y: Tensor = None, y_pred: tuple[Tensor, Tensor] | None = None,
                     sample_weight: Tensor = None, training: bool = True) -> Tensor:
        """Mean sparse cross-entropy + ``lam`` * mean center loss of the batch.

        Parameters
        ----------
        x : Tensor, shape (batch, height, width)
            The images (unused: ``y_pred`` holds what is needed).
        y : Tensor of int, shape (batch,) or (batch, 1)
            Class indices.
        y_pred : tuple of two Tensors
            ``(probs (batch, n_classes), feature (batch, feat_dim))`` from :meth:`call`.
        sample_weight : Tensor, optional
            Not supported (ignored).
        training : bool, optional
            Unused.

        Returns
        -------
        Tensor, shape ()
            The loss; the trackers ``ce``, ``center`` and ``acc`` are updated.
        """
        probs, feature = y_pred
        labels = ops.reshape(ops.cast(y, "int32"), (-1,))
        ce = ops.mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
        center = ops.mean(center_loss(feature, labels, self.centres.embeddings))
        self.ce_tracker.update_state(ce)
        self.center_tracker.update_state(center)
        self.acc_tracker.update_state(labels, probs)
        return ce + self.lam * center

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, with the backbone and the centre layer serialised."""
        return {"name": self.name, "lam": self.lam,
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "centres": keras.saving.serialize_keras_object(self.centres)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CenterLossModel:
        """Rebuild the model (with a new backbone and centre layer) from :meth:`get_config`."""
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["centres"] = keras.saving.deserialize_keras_object(config["centres"])
        return cls(**config)


# ----------------------------------------------------------------------------- the triplet loss
@keras.saving.register_keras_serializable(package="kexue")
class TripletHinge(keras.layers.Layer):
    """``max(0, margin + cos(q, a_wrong) - cos(q, a_right))`` from ``[q, a_right, a_wrong]`` (chapter 01, eq. triplet).

    The cosines are ``Dot(axes=-1, normalize=True)``, as in the post.  Concrete (eager)
    input gets the numpy reference's checks (shapes, finite values, no zero row); symbolic
    input gets the shape checks.

    Parameters
    ----------
    margin : float, optional
        The margin ``m >= 0``.
    **kwargs
        ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Raises
    ------
    ValueError
        For a negative or non-finite margin.
    """

    def __init__(self, margin: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.margin = _validate.nonneg_number(margin, _validate.HINGE_MARGIN)
        self.cosine = keras.layers.Dot(axes=-1, normalize=True)

    @staticmethod
    def _check_shapes(shapes: Any) -> None:
        """Three 2-D inputs of one shape, or the numpy reference's messages."""
        names = ("question", "right", "wrong")
        if len(shapes) != 3:
            raise ValueError(f"TripletHinge takes [question, right, wrong], got {len(shapes)} inputs")
        for shape, name in zip(shapes, names):
            if len(shape) != 2:
                raise ValueError(_validate.MATRIX_SHAPE.format(name, "(batch, dim)", tuple(shape)))
        for shape, name in zip(shapes[1:], names[1:]):
            if tuple(shape) != tuple(shapes[0]):
                raise ValueError(_validate.SAME_SHAPE.format(f"question and {name}",
                                                             f"{tuple(shapes[0])} and {tuple(shape)}"))

    def build(self, input_shape: Any) -> None:
        """Check the three input shapes and build the cosine layer for ``[question, answer]`` pairs."""
        self._check_shapes(input_shape)
        self.cosine.build([input_shape[0], input_shape[1]])
        super().build(input_shape)

    def call(self, inputs: list[Tensor]) -> Tensor:
        """The hinge loss of each triplet.

        Parameters
        ----------
        inputs : list of three Tensors, each of shape (batch, dim)
            Encoder outputs of the question, the right answer and the wrong answer.

        Returns
        -------
        Tensor, shape (batch, 1)
            Per-triplet losses, exactly 0 past the margin.

        Raises
        ------
        ValueError
            For inputs of different shapes or not 2-D; for concrete input also a
            non-finite value or a zero row.
        """
        self._check_shapes([tuple(v.shape) for v in inputs])
        for v, name in zip(inputs, ("question", "right", "wrong")):
            value = _validate.keras_concrete(v)
            if value is not None:
                _validate.finite(value, name)
                if value.shape[1] == 0 or np.any(np.abs(value).max(axis=1) == 0):
                    raise ValueError(_validate.ZERO_VECTOR.format(name))
        question, right, wrong = inputs
        return ops.relu(self.margin + self.cosine([question, wrong]) - self.cosine([question, right]))

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        return {**super().get_config(), "margin": self.margin}


class TripletModels(NamedTuple):
    """The models of :func:`build_triplet_models`; all share the two encoders' weights (chapter 01).

    Fields: ``train`` (``[question, right, wrong]`` token ids, each (batch, length) -> triplet
    loss (batch, 1)), ``score`` (``[question, answer]`` token ids -> ``cos(question, answer)``,
    shape (batch, 1)), ``question_encoder`` and ``answer_encoder`` (ids (batch, length) ->
    vector (batch, dim)).
    """

    train: keras.Model
    score: keras.Model
    question_encoder: keras.Model
    answer_encoder: keras.Model


def build_triplet_models(vocab_size: int, length: int, dim: int = 32, margin: float = 0.1, *,
                         seed: int | None = None) -> TripletModels:
    """The post's question-answer model: the loss is a layer, the training model's output (chapter 01).

    Each encoder is ``Embedding(vocab_size, dim, mask_zero=True)`` -> mean over the tokens
    -> ``Dense(dim, tanh)``; the question and the answers have their own encoder, and both
    answers go through the same one.  Compile ``train`` with :func:`identity_loss` and fit
    it on dummy targets; ``score`` is the inference model, built on the same encoder
    objects, so it uses the trained weights.

    Parameters
    ----------
    vocab_size : int
        Number of token ids, 0 = padding (>= 2).
    length : int
        Tokens per sentence (>= 1).
    dim : int, optional
        Size of the embeddings and of the encoder outputs (>= 1).
    margin : float, optional
        The hinge margin (>= 0).
    seed : int, optional
        If given, ``kexue.seed_everything(seed)`` runs right before the layers are built.

    Returns
    -------
    TripletModels
        The training and scoring models and the two encoders.

    Raises
    ------
    ValueError
        If a size or the margin is out of range.
    """
    vocab_size = _validate.int_at_least(vocab_size, "vocab_size", 2)
    length = _validate.int_at_least(length, "length", 1)
    dim = _validate.int_at_least(dim, "dim", 1)
    margin = _validate.nonneg_number(margin, _validate.HINGE_MARGIN)
    if seed is not None:
        seed_everything(seed)

    def encoder(name: str) -> keras.Model:
        ids = keras.Input(shape=(length,), dtype="int32")
        h = keras.layers.Embedding(vocab_size, dim, mask_zero=True)(ids)
        h = keras.layers.GlobalAveragePooling1D()(h)
        return keras.Model(ids, keras.layers.Dense(dim, activation="tanh")(h), name=name)

    q_enc, a_enc = encoder("question_encoder"), encoder("answer_encoder")
    q = keras.Input(shape=(length,), dtype="int32", name="question")
    right = keras.Input(shape=(length,), dtype="int32", name="right")
    wrong = keras.Input(shape=(length,), dtype="int32", name="wrong")
    loss = TripletHinge(margin, name="triplet_loss")([q_enc(q), a_enc(right), a_enc(wrong)])
    answer = keras.Input(shape=(length,), dtype="int32", name="answer")
    cos = keras.layers.Dot(axes=-1, normalize=True, name="cosine")([q_enc(q), a_enc(answer)])
    return TripletModels(
        train=keras.Model([q, right, wrong], loss, name="triplet_train"),
        score=keras.Model([q, answer], cos, name="triplet_score"),
        question_encoder=q_enc,
        answer_encoder=a_enc,
    )
