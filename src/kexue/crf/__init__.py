"""The linear-chain CRF of chapter 05 (``chapters/05-crf.md``).

``kexue.crf`` exposes only the numpy reference; the framework layers live in
:mod:`kexue.crf.torch` and :mod:`kexue.crf.keras`, imported on demand.
"""
from kexue.crf.numpy_ref import (  # noqa: F401
    SBME, brute_force_best_path, brute_force_log_z, brute_force_marginals, count_illegal,
    log_partition, marginals, path_score, sbme_constraints, viterbi,
)
