# Two entry points; both create or reuse .venv with the pinned environment.
.PHONY: book test pdf clean

book:  ## build the HTML book into _build/html (executes every chapter)
	bash scripts/build-book.sh

test:  ## unit tests + book build + every chapter under nbval + built-HTML checks
	bash scripts/test.sh

pdf:   ## optional: the whole book as one PDF, _build/latex/kexue-book.pdf (after make book; needs XeLaTeX)
	bash scripts/build-pdf.sh

clean:
	rm -rf _build book/_static/mathjax
