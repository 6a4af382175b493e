"""Every Keras layer and model of ``kexue`` is a registered, serialisable object.

``model.save("x.keras")`` followed by ``keras.models.load_model`` finds a custom class only when it is
registered (``@keras.saving.register_keras_serializable(package="kexue")``), and rebuilds it only from
what its ``get_config`` returns.  Each topic's test file round-trips its classes through ``.keras``;
this test walks every ``kexue.*.keras`` module so that a class added later cannot be forgotten.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

keras = pytest.importorskip("keras")

import kexue  # noqa: E402

MODULES = sorted(info.name for info in pkgutil.walk_packages(kexue.__path__, "kexue.")
                 if info.name.rsplit(".", 1)[-1] == "keras")


def keras_classes() -> list[tuple[str, type]]:
    """(qualified name, class) of every Layer/Model subclass defined at the top level of a ``kexue.*.keras`` module."""
    found = []
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name, obj in vars(mod).items():
            if (inspect.isclass(obj) and obj.__module__ == modname
                    and issubclass(obj, (keras.layers.Layer, keras.Model))):
                found.append((f"{modname}.{name}", obj))
    return found


CLASSES = keras_classes()


def _own_init_params(cls: type) -> list[str]:
    """Constructor arguments the class adds to its base's (``**kwargs`` goes to the base)."""
    init = vars(cls).get("__init__")
    if init is None:
        return []
    params = list(inspect.signature(init).parameters.values())[1:]
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def test_the_walk_finds_the_keras_modules_and_classes():
    assert {"kexue.crf.keras", "kexue.losses.keras", "kexue.capsule.keras", "kexue.attention.keras"} <= set(MODULES)
    assert len(CLASSES) >= 5


@pytest.mark.parametrize("qualname,cls", CLASSES, ids=[q for q, _ in CLASSES])
def test_registered_under_the_kexue_package(qualname, cls):
    key = f"kexue>{cls.__name__}"
    assert keras.saving.get_registered_object(key) is cls, (
        f"{qualname} is not registered as {key!r}: decorate it with "
        "@keras.saving.register_keras_serializable(package=\"kexue\")")
    assert keras.saving.get_registered_name(cls) == key


@pytest.mark.parametrize("qualname,cls", CLASSES, ids=[q for q, _ in CLASSES])
def test_get_config_names_every_constructor_argument(qualname, cls):
    params = _own_init_params(cls)
    if not params:
        return                     # the base's get_config already covers the constructor
    assert "get_config" in vars(cls), f"{qualname} takes {params} but defines no get_config of its own"
    source = inspect.getsource(vars(cls)["get_config"])
    missing = [p for p in params if not re.search(rf"['\"]{p}['\"]|\b{p}\s*=", source)]
    assert not missing, f"{qualname}.get_config does not store {missing}"


def test_the_checks_can_fail():
    class Unregistered(keras.layers.Layer):
        def __init__(self, units: int, **kwargs):
            super().__init__(**kwargs)
            self.units = units

    assert keras.saving.get_registered_object(f"kexue>{Unregistered.__name__}") is None
    assert _own_init_params(Unregistered) == ["units"] and "get_config" not in vars(Unregistered)
