#!/usr/bin/env bash
# Build the Linux bundle: dist/nsfw-desktop/ (run ./dist/nsfw-desktop/nsfw-desktop) and
# dist/nsfw-desktop-<version>-linux-<arch>.tar.gz, which holds the bundle, its icons,
# launcher and metainfo, and install.sh.
#
#   packaging/build-linux.sh            # uses .venv; needs: pip install -e '.[packaging]'
#   PYTHON=/path/to/python packaging/build-linux.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "PyInstaller is missing: run  $PYTHON -m pip install -e '.[packaging]'" >&2
    exit 1
fi
if "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.version.cuda is None else 1)"; then
    :
else
    echo "warning: this torch is a CUDA build; the bundle leaves CUDA libraries out, so install" >&2
    echo "         the CPU wheel (--index-url https://download.pytorch.org/whl/cpu) for a working bundle" >&2
fi

"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/nsfw-desktop.spec

version=$("$PYTHON" -c "import nsfw_desktop; print(nsfw_desktop.__version__)")
name="nsfw-desktop-${version}-linux-$(uname -m)"
stage="build/${name}"
rm -rf "$stage"
mkdir -p "$stage"
cp -a dist/nsfw-desktop "$stage/nsfw-desktop"
cp -a resources/icons resources/nsfw-desktop.svg resources/*.desktop resources/*.metainfo.xml "$stage/"
cp packaging/linux/install.sh "$stage/install.sh"
tar -C build -czf "dist/${name}.tar.gz" "$name"
rm -rf "$stage"

echo "bundle:  dist/nsfw-desktop/ ($(du -sh dist/nsfw-desktop | cut -f1))"
echo "archive: dist/${name}.tar.gz ($(du -sh "dist/${name}.tar.gz" | cut -f1))"
