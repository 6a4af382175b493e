"""Figure defaults for the book, including a CJK font for Chinese labels.

The font comes from the ``mplfonts`` package (it ships Noto Sans CJK SC), so
Chinese characters render offline.  Used by chapters 02, 04, 05 and 06.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["CJK_FONT_FILE", "cjk_font_path", "setup"]

#: the font file inside ``mplfonts``
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"


def cjk_font_path() -> Path:
    """Path of the Noto Sans CJK SC font shipped inside ``mplfonts`` (chapters 02, 04-06).

    Returns
    -------
    pathlib.Path
        The font file, found without importing ``mplfonts``.

    Raises
    ------
    ImportError
        If ``mplfonts`` is not installed or lacks the font, with the command that installs it.
    """
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the CJK font package is missing; install it with: pip install mplfonts")
    path = Path(list(spec.submodule_search_locations)[0], "fonts", CJK_FONT_FILE)
    if not path.is_file():
        raise ImportError(f"{path} not found; reinstall with: pip install --force-reinstall mplfonts")
    return path


def setup(cjk: bool = False) -> None:
    """Set the book's matplotlib defaults; call once per chapter (every chapter).

    Parameters
    ----------
    cjk : bool, default False
        Also make the Noto Sans CJK SC font the sans-serif font, for Chinese labels.

    Raises
    ------
    ImportError
        If ``cjk`` is true and the font package is missing (see :func:`cjk_font_path`).
    """
    import matplotlib as mpl
    from matplotlib import font_manager

    mpl.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7.0, 3.6),
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "font.size": 10, "svg.hashsalt": "kexue",
    })
    if cjk:
        path = cjk_font_path()
        font_manager.fontManager.addfont(str(path))
        name = font_manager.FontProperties(fname=str(path)).get_name()
        mpl.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
        mpl.rcParams["font.family"] = "sans-serif"
        mpl.rcParams["axes.unicode_minus"] = False
