# Sourced by the build and test scripts: the environment every kernel starts with.
export TF_CPP_MIN_LOG_LEVEL=2
export TF_ENABLE_ONEDNN_OPTS=0
export KERAS_BACKEND=tensorflow
export PYTHONHASHSEED=0
# one thread per kernel: the build and the tests run two chapters at a time instead, and a
# chapter's numbers depend on the thread count, so every execution uses the same one
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
# progress bars print only their final state in the rendered pages (see kexue.progress)
export KEXUE_PROGRESS=final
# no run-time downloads: hubs are switched off
export HF_HUB_OFFLINE=1
. .venv/bin/activate
