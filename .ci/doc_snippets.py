"""Run the Python code blocks of the documentation, so that the docs stay true.

Usage: ``python .ci/doc_snippets.py``, under each geomstats backend (``.ci/run``
does both). The ```python blocks of each group of pages below run in order in one
namespace (the solvers page continues the quickstart's session). A geodesic
solver that misses its tolerance fails the run, as in the test suite.
"""

import pathlib
import re
import sys
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent
GROUPS = [
    ["README.md"],
    ["docs/quickstart.md", "docs/solvers.md"],
    ["docs/latent.md"],
    ["docs/recipes.md"],
]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def main():
    import geomstats_density

    warnings.simplefilter("error", geomstats_density.GeodesicConvergenceWarning)
    failures = 0
    for group in GROUPS:
        namespace = {"__name__": "__doc_snippets__"}
        for page in group:
            text = (ROOT / page).read_text()
            for match in BLOCK.finditer(text):
                line = text.count("\n", 0, match.start()) + 2
                start = time.perf_counter()
                try:
                    code = compile(match.group(1), f"{page}:{line}", "exec")
                    exec(code, namespace)
                except Exception as error:  # noqa: BLE001 - report every failure
                    failures += 1
                    print(f"FAILED {page}:{line}: {type(error).__name__}: {error}")
                    break  # later blocks of this group depend on this one
                print(f"ok     {page}:{line} ({time.perf_counter() - start:.1f} s)")
            else:
                continue
            break
    if failures:
        print(f"{failures} documentation snippet group(s) failed.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
