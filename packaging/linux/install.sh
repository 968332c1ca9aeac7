#!/usr/bin/env bash
# Install the unpacked nsfw-desktop bundle for this user (or system-wide with PREFIX=/usr/local
# as root), so it shows up in the desktop's app menu with its icon.
#
#   ./install.sh              # into ~/.local
#   ./install.sh --uninstall  # remove what install.sh put there
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${PREFIX:-$HOME/.local}"
app_id="io.github.nsfw_desktop.NsfwDesktop"
sizes="16 22 24 32 48 64 128 256 512"

remove() {
    rm -rf "$prefix/lib/nsfw-desktop"
    rm -f "$prefix/bin/nsfw-desktop" "$prefix/share/applications/$app_id.desktop" \
          "$prefix/share/metainfo/$app_id.metainfo.xml" \
          "$prefix/share/icons/hicolor/scalable/apps/nsfw-desktop.svg"
    for size in $sizes; do
        rm -f "$prefix/share/icons/hicolor/${size}x${size}/apps/nsfw-desktop.png"
    done
}

refresh() {
    # Optional on most desktops; missing tools only mean the menu updates at next login.
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$prefix/share/applications" || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" || true
}

if [ "${1:-}" = "--uninstall" ]; then
    remove
    refresh
    echo "nsfw-desktop removed from $prefix (your settings, results and the model cache are kept)"
    exit 0
fi

remove
mkdir -p "$prefix/lib" "$prefix/bin" "$prefix/share/applications" "$prefix/share/metainfo" \
         "$prefix/share/icons/hicolor/scalable/apps"
cp -a "$here/nsfw-desktop" "$prefix/lib/nsfw-desktop"
ln -s "$prefix/lib/nsfw-desktop/nsfw-desktop" "$prefix/bin/nsfw-desktop"
# The launcher names the installed executable, so it works without ~/.local/bin on PATH.
sed "s|^Exec=nsfw-desktop |Exec=$prefix/bin/nsfw-desktop |" "$here/$app_id.desktop" \
    > "$prefix/share/applications/$app_id.desktop"
cp "$here/$app_id.metainfo.xml" "$prefix/share/metainfo/"
cp "$here/nsfw-desktop.svg" "$prefix/share/icons/hicolor/scalable/apps/nsfw-desktop.svg"
for size in $sizes; do
    mkdir -p "$prefix/share/icons/hicolor/${size}x${size}/apps"
    cp "$here/icons/${size}x${size}/nsfw-desktop.png" "$prefix/share/icons/hicolor/${size}x${size}/apps/"
done
refresh
echo "nsfw-desktop installed in $prefix: start it from the app menu, or run $prefix/bin/nsfw-desktop"
