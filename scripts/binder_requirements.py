"""binder/requirements.txt as scripts/binder-check.sh installs it.

PyTorch's own index (the ``--extra-index-url`` line) cannot be reached from every machine, so
the check installs the same CPU wheel from disk first and then ``pip install -r`` a copy of the
file without the index line and the ``torch==...+cpu`` line. Everything else is kept verbatim.

    python scripts/binder_requirements.py binder/requirements.txt OUT   # writes the filtered copy
    python scripts/binder_requirements.py --torch binder/requirements.txt  # prints the torch pin
"""
import re
import sys
from pathlib import Path

TORCH_INDEX = "https://download.pytorch.org/whl/"
_TORCH = re.compile(r"torch\s*==\s*(\S+)", re.IGNORECASE)


def _is_index_option(line: str) -> bool:
    s = line.split("#", 1)[0].strip()
    return s.startswith(("--extra-index-url", "--index-url", "-i ", "--find-links", "-f ")) and TORCH_INDEX in s


def torch_pin(text: str) -> str | None:
    """The version of the ``torch==`` line (``"2.13.0+cpu"``), or None."""
    for line in text.splitlines():
        m = _TORCH.fullmatch(line.split("#", 1)[0].strip())
        if m:
            return m.group(1)
    return None


def filter_requirements(text: str) -> list[str]:
    """The lines of ``text`` minus PyTorch's index option and the ``torch==`` pin."""
    out = []
    for line in text.splitlines():
        if _is_index_option(line) or _TORCH.fullmatch(line.split("#", 1)[0].strip()):
            continue
        out.append(line)
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--torch"]:
        pin = torch_pin(Path(argv[1]).read_text())
        if pin is None:
            print(f"no torch== line in {argv[1]}", file=sys.stderr)
            return 1
        print(pin)
        return 0
    src, dst = argv
    Path(dst).write_text("\n".join(filter_requirements(Path(src).read_text())) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
