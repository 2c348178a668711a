"""``python -m geomstats_density.demo.experiments.dcgan --train``: train and save the networks."""

from geomstats_density.demo.experiments.dcgan.training import main

if __name__ == "__main__":
    raise SystemExit(main())
