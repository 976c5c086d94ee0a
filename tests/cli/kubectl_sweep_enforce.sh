#!/bin/sh
# kubectl_sweep.sh through the gate in enforce mode: the same commands, in
# front of a production that is a second gate in twin mode (see there).
SWEEP_MODE=enforce
. tests/cli/kubectl_sweep.sh
