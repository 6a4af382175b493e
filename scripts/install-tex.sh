#!/usr/bin/env bash
# Install what `make pdf` (scripts/build-pdf.sh) needs: XeLaTeX with Chinese support, latexmk, the
# Noto CJK, GNU FreeFont and DejaVu fonts, and poppler-utils (pdffonts/pdftotext/pdftoppm, used by the
# PDF tests). Debian/Ubuntu only (apt-get); runs as root, or through sudo otherwise.
# Idempotent: when everything is present it prints one line and exits.
set -euo pipefail
pkgs=(texlive-xetex texlive-fonts-recommended texlive-lang-chinese texlive-latex-extra latexmk fonts-noto-cjk fonts-freefont-otf fonts-dejavu-core poppler-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-tex: TeX Live, fonts and poppler-utils already installed"
  exit 0
fi
command -v apt-get >/dev/null || { echo "install-tex: apt-get not found; install: ${pkgs[*]}" >&2; exit 2; }
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-tex: not root and no sudo; run as root: apt-get install ${pkgs[*]}" >&2; exit 2; }
  sudo="sudo"
fi
echo "install-tex: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-tex: done"
