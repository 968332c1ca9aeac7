"""The desktop integration files: launcher, metainfo, icons, and the Linux install script."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from nsfw_desktop.files.resources import APP_ID, ICON_NAME, icon_files, resources_dir

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
DESKTOP_FILE = RESOURCES / f"{APP_ID}.desktop"
METAINFO = RESOURCES / f"{APP_ID}.metainfo.xml"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate is not installed (Debian: desktop-file-utils)")
def test_desktop_file_validates():
    run = subprocess.run(["desktop-file-validate", str(DESKTOP_FILE)], capture_output=True, text=True)
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli is not installed (Debian: appstream)")
def test_metainfo_validates():
    run = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_launcher_metainfo_and_icon_agree():
    entry = desktop_entry(DESKTOP_FILE)
    assert entry["Icon"] == ICON_NAME
    assert entry["Exec"].split()[0] == "nsfw-desktop"
    component = ET.parse(METAINFO).getroot()
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable") == DESKTOP_FILE.name
    assert component.findtext("provides/binary") == "nsfw-desktop"
    import nsfw_desktop

    assert component.find("releases/release").get("version") == nsfw_desktop.__version__


def test_every_icon_size_is_there_and_square():
    assert resources_dir() == RESOURCES
    ET.parse(RESOURCES / f"{ICON_NAME}.svg")  # well-formed
    files = icon_files()
    assert [int(path.parent.name.partition("x")[0]) for path in files] == list(SIZES)
    for path in files:
        size = int(path.parent.name.partition("x")[0])
        with Image.open(path) as image:
            assert image.size == (size, size) and image.mode == "RGBA", path


def fake_release(folder: Path) -> Path:
    """An unpacked release archive as build-linux.sh lays it out, with a stand-in executable."""
    folder.mkdir()
    bundle = folder / "nsfw-desktop"
    bundle.mkdir()
    (bundle / "nsfw-desktop").write_text("#!/bin/sh\necho nsfw-desktop 0.1.0\n")
    (bundle / "nsfw-desktop").chmod(0o755)
    shutil.copytree(RESOURCES / "icons", folder / "icons")
    for path in (RESOURCES / f"{ICON_NAME}.svg", DESKTOP_FILE, METAINFO, ROOT / "packaging/linux/install.sh"):
        shutil.copy(path, folder)
    return folder


@pytest.mark.skipif(sys.platform != "linux", reason="install.sh is for Linux desktops")
def test_install_script_installs_and_uninstalls(tmp_path):
    release = fake_release(tmp_path / "release")
    prefix = tmp_path / "prefix"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFIX": str(prefix)}
    subprocess.run(["bash", str(release / "install.sh")], env=env, check=True, capture_output=True)

    launcher = prefix / "share/applications" / DESKTOP_FILE.name
    assert desktop_entry(launcher)["Exec"] == f"{prefix}/bin/nsfw-desktop gui %F"
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(launcher)], check=True)
    assert subprocess.run([str(prefix / "bin/nsfw-desktop")], capture_output=True, text=True,
                          check=True).stdout.strip() == "nsfw-desktop 0.1.0"
    for size in SIZES:
        assert (prefix / f"share/icons/hicolor/{size}x{size}/apps/{ICON_NAME}.png").is_file()
    assert (prefix / f"share/icons/hicolor/scalable/apps/{ICON_NAME}.svg").is_file()
    assert (prefix / "share/metainfo" / METAINFO.name).is_file()

    # Installing again over an installed copy replaces it.
    subprocess.run(["bash", str(release / "install.sh")], env=env, check=True, capture_output=True)
    subprocess.run(["bash", str(release / "install.sh"), "--uninstall"], env=env, check=True,
                   capture_output=True)
    assert not (prefix / "bin/nsfw-desktop").exists() and not (prefix / "bin/nsfw-desktop").is_symlink()
    assert not launcher.exists() and not (prefix / "lib/nsfw-desktop").exists()
    assert not any(prefix.glob("share/icons/hicolor/*/apps/*"))


def test_desktop_modules_import_neither_torch_nor_transformers():
    # The window must appear before torch is imported (in well under 2 s).
    code = ("import sys; import nsfw_desktop.files.logs, nsfw_desktop.gui.about, nsfw_desktop.gui.first_run, "
            "nsfw_desktop.gui.help_menu, nsfw_desktop.gui.theme, nsfw_desktop.gui.icon; "
            "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules); "
            "print(heavy); sys.exit(1 if heavy else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
