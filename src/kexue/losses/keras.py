"""Keras 3 versions of chapter 01's losses and models (``keras.ops`` only, no backend ``K.*``).

See ``chapters/01-keras-custom-loss.md`` (post: <https://kexue.fm/archives/4493>).

Three ways to train with center loss are built here on the *same* layers:

1. the post's trick: the label is a second input, the loss is a layer and a
   model output, compiled with a loss that returns ``y_pred`` and fed dummy
   targets (:func:`build_center_loss_models`, :func:`compile_center_loss`);
2. ``add_loss`` inside a layer's ``call`` (:class:`CenterLossPenalty`);
3. overriding ``keras.Model.compute_loss`` (:class:`CenterLossModel`).
"""
from __future__ import annotations

import logging
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from kexue import _validate
from kexue.losses.numpy_ref import check_eps


def _not_retracing_notice(record: logging.LogRecord) -> bool:
    return "triggered tf.function retracing" not in record.getMessage()


# Chapter 01 compiles and fits several small models in one process on purpose (triplet, center
# loss three ways); TensorFlow's frequent-retracing heuristic then logs a notice naming a memory
# address. Only that notice is dropped; every other TensorFlow log record passes.
logging.getLogger("tensorflow").addFilter(_not_retracing_notice)


# ----------------------------------------------------------------------------- mixed cross-entropy
def make_mixed_crossentropy(eps: float = 0.1, from_logits: bool = False):
    """A Keras loss ``(y_true, y_pred) -> (1 - eps) CE(y_true, p) + eps CE(uniform, p)`` per sample.

    ``y_true`` is one-hot; ``y_pred`` holds probabilities (the post's softmax
    output) or logits with ``from_logits=True``.  The uniform target is built
    from ``y_pred``'s shape, as the post does with ``ones_like(y_pred) / n``.
    """
    eps = check_eps(eps)

    def mixed_crossentropy(y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        uniform = ops.ones_like(y_pred) / ops.cast(ops.shape(y_pred)[-1], y_pred.dtype)
        ce_true = ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)
        ce_uniform = ops.categorical_crossentropy(uniform, y_pred, from_logits=from_logits)
        return (1.0 - eps) * ce_true + eps * ce_uniform

    return mixed_crossentropy


def center_loss(features, labels, centres):
    """Per-sample ``||x_i - c_{y_i}||^2`` with ``keras.ops``; ``centres`` is the ``(n_classes, d)`` matrix.

    ``features`` (batch, d), ``labels`` (batch,) or (batch, 1) integer class indices.  The
    numpy reference's checks run with its messages: shapes always, label values whenever
    they are concrete (eager); symbolic float labels are refused.
    """
    if len(features.shape) != 2 or len(centres.shape) != 2:
        raise ValueError(f"features and centers must be 2-D, got {tuple(features.shape)} and {tuple(centres.shape)}")
    if features.shape[1] is not None and centres.shape[1] is not None and features.shape[1] != centres.shape[1]:
        raise ValueError(_validate.FEATURES_DIM.format(features.shape[1], centres.shape[1]))
    dtype = keras.backend.standardize_dtype(getattr(labels, "dtype", None) or np.asarray(labels).dtype)
    y = _validate.keras_concrete(labels)
    if y is not None:
        batch = _validate.keras_concrete(features)
        batch = None if batch is None else batch.shape[0]
        labels = _validate.class_labels(y, int(centres.shape[0]), batch)
    else:
        shape = tuple(labels.shape)
        if dtype == "bool" or "float" in dtype:
            raise ValueError(_validate.LABELS_INT)
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise ValueError(_validate.LABELS_VECTOR.format(shape))
        if shape[0] is not None and features.shape[0] is not None and shape[0] != features.shape[0]:
            raise ValueError(_validate.LABELS_BATCH.format(shape[0], features.shape[0]))
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    return ops.sum(ops.square(features - ops.take(centres, labels, axis=0)), axis=-1)


# ----------------------------------------------------------------------------- the post's trick
def identity_loss(y_true, y_pred):
    """The loss of an output that already *is* a loss: ignore ``y_true``, return ``y_pred``."""
    return y_pred


class CenterDistance(keras.layers.Layer):
    """``||x - c_y||^2`` per sample, shape ``(batch, 1)``, from ``[features, centres]``.

    ``centres`` is the output of an ``Embedding`` fed with the label, shape ``(batch, 1, d)``.
    """

    def call(self, inputs):
        features, centres = inputs
        return ops.sum(ops.square(features - centres[:, 0]), axis=1, keepdims=True)


class CenterLossModels(NamedTuple):
    """The models of :func:`build_center_loss_models`; all share one set of weights."""

    train: keras.Model      # [image, label] -> [softmax, l2_loss]
    inference: keras.Model  # image -> softmax (inference)
    features: keras.Model   # image -> [feature, softmax]
    centres: keras.layers.Embedding


def build_center_loss_models(input_shape: tuple[int, ...] = (28, 28), n_classes: int = 10,
                             feat_dim: int = 2, hidden: int = 128) -> CenterLossModels:
    """The post's center-loss set-up on an MLP with a ``feat_dim``-dimensional feature layer.

    The label enters as a second input and selects its centre from an
    ``Embedding(n_classes, feat_dim)``; the centres are ordinary weights, learned
    by gradient descent.  The training model outputs ``[softmax, l2_loss]``;
    ``inference`` and ``features`` are separate models on the same layers.
    """
    if n_classes < 2 or feat_dim < 1 or hidden < 1:
        raise ValueError(f"need n_classes >= 2, feat_dim >= 1, hidden >= 1; "
                         f"got {n_classes}, {feat_dim}, {hidden}")
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
    """Compile the two-output model: sparse CE on ``softmax``, ``y_pred`` as the loss of ``l2_loss``.

    ``loss_weights = {softmax: 1, l2_loss: lam}``.  Keras 3 no longer logs each
    output's loss, so explicit per-output metrics bring them back: accuracy and
    cross-entropy of ``softmax`` and the mean of ``l2_loss`` (the center loss).
    """
    if lam < 0:
        raise ValueError(f"the center-loss weight lam must be >= 0, got {lam}")
    train.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss={"softmax": "sparse_categorical_crossentropy", "l2_loss": identity_loss},
        loss_weights={"softmax": 1.0, "l2_loss": float(lam)},
        metrics={"softmax": [keras.metrics.SparseCategoricalAccuracy(name="acc"),
                             keras.metrics.SparseCategoricalCrossentropy(name="ce")],
                 "l2_loss": [keras.metrics.MeanMetricWrapper(identity_loss, name="center")]},
    )
    return train


# ----------------------------------------------------------------------------- Keras 3 idioms
class CenterLossPenalty(keras.layers.Layer):
    """Pass ``features`` through and ``add_loss(lam * mean ||x - c_y||^2)`` (the ``add_loss`` idiom)."""

    def __init__(self, centres: keras.layers.Embedding, lam: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        if lam < 0:
            raise ValueError(f"the center-loss weight lam must be >= 0, got {lam}")
        self.centres = centres
        self.lam = float(lam)

    def call(self, inputs):
        features, label = inputs
        self.add_loss(self.lam * ops.mean(center_loss(features, label, self.centres.embeddings)))
        return features


def build_add_loss_model(models: CenterLossModels, lam: float = 0.2) -> keras.Model:
    """``[image, label] -> softmax`` with the center loss added inside a layer, on ``models``' weights."""
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


class CenterLossModel(keras.Model):
    """Center loss by overriding ``compute_loss`` (the backend-agnostic Keras 3 idiom).

    Inputs are images only; the labels arrive as ``y`` and select the centres
    inside ``compute_loss``.  ``backbone`` maps an image to ``[feature, softmax]``
    and ``centres`` is an ``Embedding(n_classes, feat_dim)``; both may be shared
    with the models of :func:`build_center_loss_models`.
    """

    def __init__(self, backbone: keras.Model, centres: keras.layers.Embedding, lam: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        if lam < 0:
            raise ValueError(f"the center-loss weight lam must be >= 0, got {lam}")
        self.backbone = backbone
        self.centres = centres
        self.lam = float(lam)
        self.ce_tracker = keras.metrics.Mean(name="ce")
        self.center_tracker = keras.metrics.Mean(name="center")
        self.acc_tracker = keras.metrics.SparseCategoricalAccuracy(name="acc")

    def call(self, inputs, training=False):
        feature, probs = self.backbone(inputs, training=training)
        return probs, feature

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        probs, feature = y_pred
        labels = ops.reshape(ops.cast(y, "int32"), (-1,))
        ce = ops.mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
        center = ops.mean(center_loss(feature, labels, self.centres.embeddings))
        self.ce_tracker.update_state(ce)
        self.center_tracker.update_state(center)
        self.acc_tracker.update_state(labels, probs)
        return ce + self.lam * center


# ----------------------------------------------------------------------------- the triplet loss
class TripletHinge(keras.layers.Layer):
    """``max(0, margin + cos(q, a_wrong) - cos(q, a_right))``, shape ``(batch, 1)``, from ``[q, a_right, a_wrong]``.

    The cosines are ``Dot(axes=-1, normalize=True)``, as in the post.
    """

    def __init__(self, margin: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if not margin >= 0:
            raise ValueError(f"the margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.cosine = keras.layers.Dot(axes=-1, normalize=True)

    def call(self, inputs):
        question, right, wrong = inputs
        return ops.relu(self.margin + self.cosine([question, wrong]) - self.cosine([question, right]))

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


class TripletModels(NamedTuple):
    """The models of :func:`build_triplet_models`; all share the two encoders' weights."""

    train: keras.Model             # [question, right, wrong] token ids -> triplet loss (batch, 1)
    score: keras.Model             # [question, answer] token ids -> cos(question, answer) (batch, 1)
    question_encoder: keras.Model  # question ids (batch, length) -> vector (batch, dim)
    answer_encoder: keras.Model    # answer ids (batch, length) -> vector (batch, dim)


def build_triplet_models(vocab_size: int, length: int, dim: int = 32, margin: float = 0.1) -> TripletModels:
    """The post's question-answer model: the loss is a layer, the training model's output.

    Each encoder is ``Embedding(vocab_size, dim, mask_zero=True)`` → mean over the
    tokens → ``Dense(dim, tanh)``; the question and the answers have their own
    encoder, and both answers go through the same one. Compile ``train`` with
    :func:`identity_loss` and fit it on dummy targets; ``score`` is the inference
    model, built on the same encoder objects, so it uses the trained weights.
    """
    if vocab_size < 2 or length < 1 or dim < 1:
        raise ValueError(f"need vocab_size >= 2, length >= 1, dim >= 1; got {vocab_size}, {length}, {dim}")

    def encoder(name):
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
