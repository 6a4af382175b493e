# Sourced by the build and test scripts: the environment every kernel starts with.
export TF_CPP_MIN_LOG_LEVEL=2
export TF_ENABLE_ONEDNN_OPTS=0
export KERAS_BACKEND=tensorflow
export PYTHONHASHSEED=0
# progress bars print only their final state in the rendered pages (see kexue.progress)
export KEXUE_PROGRESS=final
# no run-time downloads: hubs are switched off
export HF_HUB_OFFLINE=1
. .venv/bin/activate
