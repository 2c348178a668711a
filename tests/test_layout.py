"""The library never imports the demo (docs/layout.md): its modules load without it."""

import subprocess
import sys

IMPORT_EVERY_LIBRARY_MODULE = """
import importlib, pathlib, sys
import geomstats_density

root = pathlib.Path(geomstats_density.__file__).parent
names = [
    ".".join(("geomstats_density",) + path.relative_to(root).with_suffix("").parts)
    for path in sorted(root.rglob("*.py"))
    if "demo" not in path.relative_to(root).parts
]
for name in names:
    importlib.import_module(name.removesuffix(".__init__"))
loaded = sorted(name for name in sys.modules if name.startswith("geomstats_density.demo"))
print(len(names), loaded)
"""


def test_library_modules_import_nothing_from_the_demo():
    output = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_LIBRARY_MODULE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(maxsplit=1)
    n_modules, loaded = int(output[0]), output[1].strip()
    assert n_modules > 30
    assert loaded == "[]"
