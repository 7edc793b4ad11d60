#!/usr/bin/env bash
# iexec_sdk_roundtrip.sh, the same body, with the iExec SDK 9 (npm iexec@9 and
# its CLI, installed once into ${CELLA_NPM_CACHE:-~/.cache/cella-npm}9).
CELLA_SDK_VERSION=9 exec bash "$(dirname "$0")/iexec_sdk_roundtrip.sh"
