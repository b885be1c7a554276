"""Writes the (ε, δ) that Google's dp-accounting RdpAccountant gives a fixed-size cohort of m of
n clients sampled without replacement each round (REPLACE_ONE neighbours,
SampledWithoutReplacementDpEvent of a GaussianDpEvent), on a grid of cohort fractions q, noise
multipliers and rounds at δ = 1e-5. The C++ accountant's test reads the committed output.
Usage: dp_epsilon_grid.py OUT_JSON   (default tests/data/dp/rdp_wor_epsilon.json)"""
import importlib.metadata
import json
import sys

import dp_accounting

CLIENTS = 1000
DELTA = 1e-5


def epsilon(q, noise_multiplier, rounds):
    accountant = dp_accounting.rdp.RdpAccountant(
        neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_ONE)
    event = dp_accounting.SampledWithoutReplacementDpEvent(
        CLIENTS, round(q * CLIENTS), dp_accounting.GaussianDpEvent(noise_multiplier))
    accountant.compose(event, rounds)
    return accountant.get_epsilon(DELTA)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/dp/rdp_wor_epsilon.json"
    cases = [{"q": q, "noise_multiplier": sigma, "rounds": rounds, "delta": DELTA,
              "epsilon": epsilon(q, sigma, rounds)}
             for q in (0.01, 0.05, 0.2) for sigma in (0.5, 1.0, 2.0) for rounds in (10, 100, 1000)]
    with open(out, "w") as f:
        json.dump({"dp_accounting": importlib.metadata.version("dp-accounting"), "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
