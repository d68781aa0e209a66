"""Compile every locale/*/LC_MESSAGES/*.po to .mo with polib (pure Python).

Django's `compilemessages` needs GNU gettext's msgfmt, which a machine with only
Python lacks; polib writes the same .mo files.
"""

from __future__ import annotations

from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    count = 0
    for po_path in sorted(ROOT.glob("*/locale/*/LC_MESSAGES/*.po")) + sorted(ROOT.glob("locale/*/LC_MESSAGES/*.po")):
        if ".venv" in po_path.parts:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(po_path.with_suffix(".mo")))
        count += 1
    print(f"compiled {count} message catalogue(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
