"""One name, one contract: every public name defined in two or more modules of ``kexue`` has one signature.

Twins (the same name in ``kexue.<topic>.numpy_ref``, ``.torch`` and ``.keras``) and any other
name defined in several modules must agree on parameter names, order, kinds and defaults, and
on the return annotation once the array type is set aside.  The differences a framework needs
are allowed by rule, not case by case:

* ``axis`` (numpy, Keras) and ``dim`` (PyTorch) are one parameter;
* a PyTorch or Keras twin may add keyword-only ``device`` / ``dtype`` arguments at the end;
* a Keras layer's constructor takes ``**kwargs`` (``name``, ``trainable``, ...) for the base class;
* the array type in annotations (``np.ndarray``, ``torch.Tensor``, a Keras tensor, ``Any``).

Anything else that differs must be listed in :data:`ALLOWED` with its reason; an entry that
no longer matches a difference fails too, so the list cannot go stale.  Classes are compared
by their constructors, and methods of same-named classes with each other (framework hooks such
as ``forward``/``call`` excepted).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import defaultdict

import pytest

pytest.importorskip("torch")
pytest.importorskip("keras")

import kexue  # noqa: E402

# (qualified name, module that differs) -> why the difference is part of the contract
ALLOWED: dict[tuple[str, str], str] = {
    ("Capsule", "kexue.capsule.torch"):
        "PyTorch creates the weights in __init__, so it needs input_dim_capsule first (and, for unshared "
        "weights, keyword-only input_num_capsule), as nn.Linear needs in_features; Keras reads both in build",
    ("MultiHeadAttention", "kexue.attention.torch"):
        "PyTorch sizes its weights in __init__ (in_dim; Keras reads it in build); keyword-only fused picks "
        "PyTorch's F.scaled_dot_product_attention kernel, which Keras does not have",
    ("normalized_ip_loss", "kexue.kmeans.torch"):
        "a scalar objective: numpy returns a Python float, PyTorch a 0-d tensor that autograd differentiates",
    ("soft_kmeans_loss", "kexue.kmeans.torch"):
        "a scalar objective: numpy returns a Python float, PyTorch a 0-d tensor that autograd differentiates",
    ("train_simpler_glove", "kexue.pmi.torch"):
        "numpy's keyword update= compares hand-written update rules; PyTorch trains with torch.optim.Adagrad "
        "through kexue.train.fit",
}

HOOKS = {"forward", "call", "build", "get_config", "from_config", "compute_output_shape", "extra_repr",
         "compute_loss", "train_step", "test_step", "reset_parameters"}
ARRAY_TYPES = re.compile(r"\b(np\.ndarray|numpy\.ndarray|torch\.Tensor|Tensor|KerasTensor|keras\.KerasTensor|"
                         r"ArrayLike|npt\.ArrayLike|Any|Array)\b")
SKIP_MODULES: set[str] = set()


def _modules():
    out = []
    for info in pkgutil.walk_packages(kexue.__path__, "kexue."):
        if info.name in SKIP_MODULES or info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        out.append(importlib.import_module(info.name))
    return out


def _framework(module_name: str) -> str:
    last = module_name.rsplit(".", 1)[-1]
    return last if last in ("torch", "keras") else "numpy"


def _public_definitions():
    """``qualified name -> {module name: object}`` for functions, classes and methods defined in kexue."""
    defs: dict[str, dict[str, object]] = defaultdict(dict)
    for mod in _modules():
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                defs[name][mod.__name__] = obj
            elif inspect.isclass(obj):
                defs[name][mod.__name__] = obj
                for meth_name, meth in vars(obj).items():
                    if meth_name.startswith("_") or meth_name in HOOKS:
                        continue
                    if isinstance(meth, (staticmethod, classmethod)):
                        meth = meth.__func__
                    if inspect.isfunction(meth):
                        defs[f"{name}.{meth_name}"][mod.__name__] = meth
    return {k: v for k, v in defs.items() if len(v) > 1}


def _params(obj, module_name: str):
    """The comparable parameter list: ``[(name, kind, default repr)]`` and the return annotation."""
    fw = _framework(module_name)
    func = obj.__init__ if inspect.isclass(obj) else obj
    sig = inspect.signature(func)
    params = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        if p.kind is p.VAR_KEYWORD and inspect.isclass(obj) and fw == "keras":
            continue                                   # the base Layer's name=, trainable=, dtype=...
        if p.kind is p.KEYWORD_ONLY and fw in ("torch", "keras") and p.name in ("device", "dtype"):
            continue
        name = "axis" if p.name == "dim" else p.name
        default = "<required>" if p.default is p.empty else repr(p.default)
        params.append((name, p.kind.name, default))
    ret = sig.return_annotation
    ret = None if ret is sig.empty or inspect.isclass(obj) else ARRAY_TYPES.sub("Array", str(ret))
    return params, ret


def _differences():
    """``(qualified name, module) -> description`` for every module that differs from the first one."""
    found = {}
    for qual, where in sorted(_public_definitions().items()):
        mods = sorted(where, key=lambda m: (_framework(m) != "numpy", m))   # the numpy reference first
        ref_mod = mods[0]
        ref_params, ref_ret = _params(where[ref_mod], ref_mod)
        for mod in mods[1:]:
            params, ret = _params(where[mod], mod)
            problems = []
            if params != ref_params:
                problems.append(f"parameters {params} != {ref_params} of {ref_mod}")
            if ret is not None and ref_ret is not None and ret != ref_ret:
                problems.append(f"returns {ret!r} != {ref_ret!r} of {ref_mod}")
            if problems:
                found[(qual, mod)] = "; ".join(problems)
    return found


def test_every_name_defined_twice_has_one_signature():
    diffs = _differences()
    unexplained = {k: v for k, v in diffs.items() if k not in ALLOWED}
    assert not unexplained, "names with two contracts:\n" + "\n".join(
        f"  {qual} in {mod}: {why}" for (qual, mod), why in sorted(unexplained.items()))


def test_allow_list_is_not_stale():
    diffs = _differences()
    stale = sorted(k for k in ALLOWED if k not in diffs)
    assert not stale, f"these allow-list entries no longer differ; remove them: {stale}"


def test_the_comparison_can_fail():
    """The comparison itself: a renamed parameter, a changed default and a new kind are all caught."""
    def ref(x, mask=None, *, reduction="none"):
        return x

    def renamed(x, keep=None, *, reduction="none"):
        return x

    def default(x, mask=None, *, reduction="mean"):
        return x

    def kind(x, mask=None, reduction="none"):
        return x

    def torch_extra(x, dim=None, *, reduction="none", device=None):
        return x

    base = _params(ref, "kexue.t.numpy_ref")
    for other in (renamed, default, kind):
        assert _params(other, "kexue.t.torch") != base
    assert _params(lambda x, axis=None, *, reduction="none": x, "kexue.t.numpy_ref") == \
        _params(torch_extra, "kexue.t.torch")


def test_no_module_imports_the_training_module_under_another_name():
    """``kexue.train`` is imported by its own name or its functions are imported: no ``train_lib`` alias."""
    import pathlib

    src = pathlib.Path(kexue.__file__).parent
    offenders = [str(p.relative_to(src)) for p in src.rglob("*.py") if "train as " in p.read_text()]
    assert not offenders, offenders
