#!/usr/bin/env bash
# Hands a finished recording to the document management system's import folder.
# $1 = absolute path of the audio file, $2 = absolute path of its JSON journal.
set -euo pipefail
audio=$1
journal=$2
inbox=${MITSCHNITT_DMS_INBOX:-/srv/dms/inbox}
install -d -m 0750 "$inbox"
cp -- "$audio" "$journal" "$inbox/"
