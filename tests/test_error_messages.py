"""Each error message is written once: a message raised in two modules comes from ``kexue._validate``.

The numpy reference and its PyTorch and Keras twins must refuse bad input with the *same*
message; spelling the text out in each module lets the copies drift.  This test reads every
``raise SomeError("...")`` in ``src/kexue`` (plain strings and f-strings, whose ``{...}`` fields
are blanked) and fails when one text appears in more than one module.
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import kexue

SRC = Path(kexue.__file__).parent


def _template(node: ast.expr) -> str | None:
    """The literal text of a message: a string, or an f-string with its fields replaced by ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):     # "a " + "b"
        left, right = _template(node.left), _template(node.right)
        return None if left is None or right is None else left + right
    return None


def raised_messages(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, text)`` of every literal message passed to a raised exception in ``tree``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            text = _template(node.exc.args[0])
            if text is not None and len(text.replace("{}", "").strip()) >= 12:   # not "{}" or "bad"
                out.append((node.lineno, text))
    return out


def test_no_message_is_spelled_out_in_two_modules():
    where = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        for line, text in raised_messages(ast.parse(path.read_text(), str(path))):
            where[text].add(f"{path.relative_to(SRC)}:{line}")
    repeated = {text: sorted(places) for text, places in where.items()
                if len({p.split(":")[0] for p in places}) > 1}
    assert not repeated, f"{len(repeated)} messages written in several modules (move them to kexue/_validate.py):\n" + \
        "\n".join(f"  {text!r}: {places}" for text, places in sorted(repeated.items()))


def validate_constants() -> dict[str, str]:
    """``text -> NAME`` of the message constants of ``kexue._validate`` (fields such as ``{!r}`` as ``{}``)."""
    tree = ast.parse((SRC / "_validate.py").read_text())
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper() and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            out[re.sub(r"\{[^{}]*\}", "{}", node.value.value)] = node.targets[0].id
    return out


def test_no_module_spells_out_a_message_that_validate_holds():
    constants = validate_constants()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "_validate.py":
            continue
        for line, text in raised_messages(ast.parse(path.read_text(), str(path))):
            if text in constants:
                found.append(f"{path.relative_to(SRC)}:{line} spells out _validate.{constants[text]}")
    assert not found, "\n".join(found)


def test_the_scan_finds_plain_and_formatted_messages():
    code = ('def f(x):\n'
            '    raise ValueError(f"x must be positive, got {x}")\n'
            'def g(y):\n'
            '    raise TypeError("y must be a tensor, not a list")\n'
            'def h():\n'
            '    raise ValueError(MESSAGE.format(1))\n')
    assert raised_messages(ast.parse(code)) == [(2, "x must be positive, got {}"),
                                                (4, "y must be a tensor, not a list")]
