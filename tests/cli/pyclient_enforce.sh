#!/bin/sh
# pyclient.sh through the gate in enforce mode (see there).
PY_MODE=enforce
. tests/cli/pyclient.sh
