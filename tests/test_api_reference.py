"""The API reference (``book/api``): every public object of ``kexue`` documented in numpydoc, typed, and listed.

The book renders the reference with Sphinx autodoc + napoleon and ``-W``; these tests check what the
build cannot: that every public function, class and method has a docstring with a one-line summary,
a ``Parameters`` section naming each of its parameters, a ``Returns`` (or ``Yields``) section when it
returns a value, type hints on every parameter and on the return, and that every module has its
``automodule`` on the API page of its topic.

Public: a module whose dotted name has no part starting with ``_``; in it, the names in ``__all__``
(where the module has one) or else the names without a leading underscore, defined in that module
(re-exports are checked where they are defined); in a public class, the methods and properties of
its own body whose name has no leading underscore (Keras ``get_config``/``build``/
``compute_output_shape`` need only a docstring).
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import inspect
import pkgutil
import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest

import kexue

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "book" / "api"
#: framework hooks documented by their base class's contract: a docstring is enough
HOOKS = {"get_config", "build", "compute_output_shape", "compute_mask", "from_config", "extra_repr"}
#: modules outside the API (test tooling)
NOT_API: set[str] = set()
SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n(?P<rule>-{3,})$", re.M)


# ----------------------------------------------------------------------------- what is public
@functools.cache
def public_modules() -> list[str]:
    names = ["kexue"]
    for info in pkgutil.walk_packages(kexue.__path__, "kexue."):
        if not any(part.startswith("_") for part in info.name.split(".")) and info.name not in NOT_API:
            names.append(info.name)
    return sorted(names)


def _module(name: str):
    return importlib.import_module(name)


def _public_names(mod) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
    return list(names)


def _unwrap(obj):
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    return inspect.unwrap(obj)


@functools.cache
def public_objects() -> list[tuple[str, str, object]]:
    """(qualified name, kind, object) for every public function, class, method and property."""
    out = []
    for modname in public_modules():
        mod = _module(modname)
        for name in _public_names(mod):
            obj = getattr(mod, name, None)
            if obj is None or getattr(obj, "__module__", None) != modname:
                continue
            if inspect.isclass(obj):
                out.append((f"{modname}.{name}", "class", obj))
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, property):
                        out.append((f"{modname}.{name}.{attr}", "property", member))
                    elif inspect.isfunction(_unwrap(member)):
                        kind = "hook" if attr in HOOKS else "method"
                        out.append((f"{modname}.{name}.{attr}", kind, _unwrap(member)))
                init = vars(obj).get("__init__")
                if init is not None and _handwritten_init(obj):
                    out.append((f"{modname}.{name}.__init__", "init", _unwrap(init)))
            elif inspect.isfunction(_unwrap(obj)):
                out.append((f"{modname}.{name}", "function", _unwrap(obj)))
    return out


def _handwritten_init(cls) -> bool:
    """An ``__init__`` of the class body, not one that ``dataclass``/``NamedTuple`` generated."""
    if dataclasses.is_dataclass(cls) or issubclass(cls, tuple):
        return False
    init = _unwrap(vars(cls)["__init__"])
    return inspect.isfunction(init) and init.__code__.co_filename.endswith(".py")


def _named_params(func) -> list[inspect.Parameter]:
    params = list(inspect.signature(func).parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    return [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


# ----------------------------------------------------------------------------- numpydoc, parsed
def sections(doc: str) -> dict[str, str]:
    """The numpydoc sections of a cleaned docstring: title -> body (``Summary`` is the text before the first).

    A heading counts only with an underline of dashes exactly as long as the title.
    """
    found = {}
    matches = [m for m in SECTION.finditer(doc) if len(m["rule"]) == len(m["title"])]
    found["Summary"] = doc[:matches[0].start()] if matches else doc
    for m, nxt in zip(matches, matches[1:] + [None]):
        found[m["title"]] = doc[m.end():nxt.start() if nxt else len(doc)]
    return found


def bad_underlines(doc: str) -> list[str]:
    """Titles whose dashed underline is not exactly as long as the title."""
    return [m["title"] for m in SECTION.finditer(doc) if len(m["rule"]) != len(m["title"])]


def documented_params(body: str) -> set[str]:
    """Parameter names of a numpydoc ``Parameters`` body: ``a, b : type`` lines at the section's indent."""
    names = set()
    for line in body.splitlines():
        if line and not line[0].isspace():
            head = line.split(" : ", 1)[0].rstrip(":").strip()
            names |= {n.strip().lstrip("*") for n in head.split(",")}
    return names


def returns_a_value(func) -> bool | None:
    """``True`` if ``func`` returns something other than None, ``False`` if not, from its annotation or, without one, its code."""
    ann = inspect.signature(func).return_annotation
    if ann is not inspect.Signature.empty:
        return ann not in (None, "None", "NoReturn", "Never")
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None
    body = tree.body[0]

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            yield child
            yield from walk(child)

    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) or (isinstance(n, ast.Return) and n.value is not None
               and not (isinstance(n.value, ast.Constant) and n.value.value is None)) for n in walk(body))


def docstring_problems(qualname: str, kind: str, obj) -> list[str]:
    """What is missing from one object's docstring (an empty list: nothing)."""
    raw = obj.__doc__ if kind != "init" else (obj.__doc__ or "")
    if kind == "init":
        return []          # the constructor's parameters are checked in the class docstring
    if not raw or not raw.strip():
        return ["no docstring"]
    doc = inspect.cleandoc(raw)
    problems = [f"underline length of {t!r}" for t in bad_underlines(doc)]
    lines = doc.splitlines()
    if len(lines) > 1 and lines[1].strip():
        problems.append("summary is not one line followed by a blank line")
    if kind in ("hook", "property"):
        return problems
    found = sections(doc)
    if kind == "class":
        cls = obj
        init = vars(cls).get("__init__")
        if init is None or not _handwritten_init(cls):
            return problems
        func = _unwrap(init)
        if not _named_params(func):
            return problems
        # numpydoc: the constructor's parameters are documented in the class docstring (or in __init__'s)
        init_doc = inspect.cleandoc(func.__doc__ or "")
        found = {**sections(init_doc), **found} if "Parameters" not in found else found
    else:
        func = obj
    params = [p.name for p in _named_params(func)]
    if params:
        if "Parameters" not in found:
            problems.append("no Parameters section")
        else:
            missing = [p for p in params if p not in documented_params(found["Parameters"])]
            if missing:
                problems.append(f"Parameters does not describe {missing}")
    if kind != "class" and returns_a_value(func) and not ({"Returns", "Yields"} & set(found)):
        problems.append("no Returns section")
    return problems


def hint_problems(qualname: str, kind: str, obj) -> list[str]:
    """Parameters (other than self/cls/*args/**kwargs) and returns without a type hint."""
    if kind == "class":
        return []
    func = obj.fget if kind == "property" else obj
    sig = inspect.signature(func)
    problems = [f"parameter {p.name!r}" for p in _named_params(func) if p.annotation is inspect.Parameter.empty]
    if kind != "init" and sig.return_annotation is inspect.Signature.empty:
        problems.append("return")
    return problems


def _report(offenders: dict[str, list[str]], what: str) -> str:
    per_module = Counter(name.rsplit(".", 1)[0] if name.rsplit(".", 1)[0] in public_modules()
                         else name.rsplit(".", 2)[0] for name in offenders)
    lines = [f"{len(offenders)} public objects {what}; per module:"]
    lines += [f"  {m}: {n}" for m, n in sorted(per_module.items())]
    lines += ["offenders:"] + [f"  {name}: {'; '.join(p)}" for name, p in sorted(offenders.items())]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the tests
def test_the_walk_finds_every_topic_and_framework_module():
    mods = set(public_modules())
    topics = {p.parent.name for p in (ROOT / "src" / "kexue").glob("*/__init__.py")}
    for topic in topics:
        files = {p.stem for p in (ROOT / "src" / "kexue" / topic).glob("*.py") if not p.stem.startswith("_")}
        assert {f"kexue.{topic}.{f}" for f in files} <= mods
    assert "kexue.train" in mods and "kexue.crf.keras" in mods and "kexue.crf.torch" in mods
    kinds = Counter(kind for _, kind, _ in public_objects())
    assert kinds["function"] > 100 and kinds["class"] > 10 and kinds["method"] > 10


def test_every_public_module_has_a_docstring_naming_what_it_is():
    bad = [m for m in public_modules() if not (_module(m).__doc__ or "").strip()]
    assert not bad, f"modules without a docstring: {bad}"


def test_every_public_object_has_a_numpydoc_docstring():
    offenders = {q: p for q, k, o in public_objects() if (p := docstring_problems(q, k, o))}
    assert not offenders, _report(offenders, "with an incomplete numpydoc docstring")


def test_every_public_function_and_method_has_type_hints():
    offenders = {q: p for q, k, o in public_objects() if (p := hint_problems(q, k, o))}
    assert not offenders, _report(offenders, "without a type hint on " + "every parameter and the return")


# the checks themselves, on small examples (a check that cannot fail checks nothing)
def test_the_section_parser_reads_numpydoc_and_rejects_short_underlines():
    doc = inspect.cleandoc('''Summary (chapter 05).

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        Inputs.
    mask : ndarray of bool, shape (n,), optional
        True = keep.

    Returns
    -------
    float
        The answer.
    ''')
    found = sections(doc)
    assert set(found) == {"Summary", "Parameters", "Returns"}
    assert documented_params(found["Parameters"]) == {"x", "y", "mask"}
    assert bad_underlines(doc.replace("-------\nfloat", "----\nfloat")) == ["Returns"]


def test_the_docstring_check_finds_what_is_missing():
    def f(x: int, y: int) -> int:
        """Add (chapter 00).

        Parameters
        ----------
        x : int
            One.

        Returns
        -------
        int
            The sum.
        """
        return x + y

    def g(x):
        """Two lines
        of summary."""
        return x

    def h() -> None:
        """Nothing to return (chapter 00)."""

    assert docstring_problems("f", "function", f) == ["Parameters does not describe ['y']"]
    assert docstring_problems("g", "function", g) == [
        "summary is not one line followed by a blank line", "no Parameters section", "no Returns section"]
    assert docstring_problems("h", "function", h) == []
    assert hint_problems("g", "function", g) == ["parameter 'x'", "return"]
    assert hint_problems("f", "function", f) == []


# ----------------------------------------------------------------------------- the pages
def _automodules(page: Path) -> dict[str, bool]:
    """module -> whether its automodule lists ``:members:``, for every automodule on ``page``."""
    text = page.read_text(encoding="utf-8")
    found = {}
    for m in re.finditer(r"^\.\. automodule:: (\S+)\n((?:   :[\w-]+:.*\n)*)", text, re.M):
        found[m[1]] = ":members:" in m[2]
    for m in re.finditer(r"^```\{automodule\} (\S+)\n((?::[\w-]+:.*\n)*)", text, re.M):
        found[m[1]] = ":members:" in m[2]
    return found


TOPICS = sorted(p.parent.name for p in (ROOT / "src" / "kexue").glob("*/__init__.py"))


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_module_is_on_its_api_page(topic):
    page = API / f"{topic}.md"
    assert page.is_file(), f"no API page {page.relative_to(ROOT)}"
    listed = _automodules(page)
    wanted = {m for m in public_modules() if m.startswith(f"kexue.{topic}.")}
    missing = sorted(m for m in wanted if not listed.get(m))
    assert not missing, f"{page.name} lacks '.. automodule:: <module>' with :members: for {missing}"
    assert f"kexue.{topic}" in listed


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_page_links_to_its_chapter(topic):
    doc = _module(f"kexue.{topic}").__doc__ or ""
    chapters = set(re.findall(r"chapters/(\d\d-[\w-]+)\.md", doc))
    assert chapters, f"kexue.{topic}'s docstring names no chapter file"
    text = (API / f"{topic}.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\{doc\}`[^`<]*<\.\./\.\./chapters/(\d\d-[\w-]+)>`", text))
    assert chapters <= linked, f"{topic}.md links {sorted(linked)}, the module names {sorted(chapters)}"
    assert all((ROOT / "chapters" / f"{c}.md").is_file() for c in linked)


def test_every_shared_module_is_on_the_shared_page():
    listed = _automodules(API / "shared.md")
    wanted = {m for m in public_modules() if m.count(".") == 1 and m.split(".")[1] not in TOPICS}
    missing = sorted(m for m in wanted if not listed.get(m))
    assert not missing, f"shared.md lacks an automodule with :members: for {missing}"


def test_every_api_page_is_in_the_table_of_contents():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    pages = sorted(f"book/api/{p.stem}" for p in API.glob("*.md"))
    assert [f for f in files if f.startswith("book/api/")] == ["book/api/index"] + [
        f"book/api/{t}" for t in ("losses", "saliency", "activations", "pmi", "crf", "attention", "capsule",
                                  "kmeans", "shared")]
    assert sorted(f for f in files if f.startswith("book/api/")) == pages
    assert toc["parts"][-1]["caption"] == "API"


def test_the_book_config_loads_autodoc_napoleon_and_viewcode():
    import yaml

    sphinx = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    assert {"sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"} <= set(sphinx["extra_extensions"])
    assert "sphinx.ext.intersphinx" not in sphinx["extra_extensions"]     # the build is offline
    cfg = sphinx["config"]
    assert cfg["napoleon_numpy_docstring"] is True and cfg["napoleon_google_docstring"] is False
    assert cfg["autodoc_member_order"] == "bysource"
