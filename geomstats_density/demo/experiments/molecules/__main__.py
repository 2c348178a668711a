"""The molecule experiment's command line.

``python -m geomstats_density.demo.experiments.molecules [--train] [--out DIR]``.
"""

from geomstats_density.demo.experiments.molecules.experiment import main

if __name__ == "__main__":
    main()
