#!/usr/bin/env bash
# Install LiteLLM's proxy into its own virtualenv (bench/.venv-litellm), pinned.
# `pip install 'litellm[proxy]==X'` fails here (the extra wants a `litellm-proxy` version the
# registry lacks), so install litellm, then the proxy extra's own requirements minus that one.
set -euo pipefail
cd "$(dirname "$0")"
VERSION="${LITELLM_VERSION:-1.110.2}"
VENV=.venv-litellm
if [ -x "$VENV/bin/litellm" ] && "$VENV/bin/python" -c "import litellm, importlib.metadata as m; assert m.version('litellm') == '$VERSION'" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "litellm==$VERSION"
"$VENV/bin/python" - <<'PY' > "$VENV/proxy-requirements.txt"
# The "proxy" extra's requirements for this interpreter, minus the litellm-* packages.
import importlib.metadata as m
from pip._vendor.packaging.requirements import Requirement
for line in m.requires("litellm") or []:
    req = Requirement(line)
    # litellm-proxy and its pinned siblings are not all on the registry; the proxy runs without.
    if req.name.replace("_", "-").startswith("litellm-") or req.marker is None:
        continue
    if req.marker.evaluate({"extra": "proxy"}) and not req.marker.evaluate({"extra": ""}):
        print(f"{req.name}{req.specifier}")
PY
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$VENV/proxy-requirements.txt"
"$VENV/bin/litellm" --help >/dev/null
