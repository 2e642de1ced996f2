# ruff: noqa: S603, S607, S108
"""`make simulate` (``python -m simulate``): the fault simulation on its own database.

    make simulate                       # 10,000 steps, seed 1
    make simulate SEED=7 STEPS=2000

Drops and recreates the ``marketplace_sim`` PostgreSQL database (next to
``DATABASE_URL``'s), migrates it, runs ``simulate.engine.Simulation`` and
prints the seed, the steps, the actions, the faults injected by kind, the
postings checked against the entitlement model by kind, the dishonest attempts
by how each ended, and the time. Exit 1 on the first breach, naming the step and the seed that
reproduces it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from urllib.parse import urlparse

SIM_DB = os.environ.get("SIM_DB", "marketplace_sim")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "1")))
    parser.add_argument("--steps", type=int, default=int(os.environ.get("STEPS", "10000")))
    parser.add_argument("--full-every", type=int, default=200)
    args = parser.parse_args()

    pg = urlparse(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/marketplace")
    admin = ["-h", pg.hostname or "127.0.0.1", "-p", str(pg.port or 5432), "-U", pg.username or "postgres"]
    env = {**os.environ, "PGPASSWORD": pg.password or ""}
    subprocess.run(["dropdb", *admin, "--if-exists", "--force", SIM_DB], check=True, env=env)
    subprocess.run(["createdb", *admin, SIM_DB], check=True, env=env)
    os.environ["DATABASE_URL"] = pg._replace(path=f"/{SIM_DB}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings_test")
    os.environ["DATA_DIR"] = "/tmp/marketplace-simulate"

    import django

    django.setup()
    from django.core.management import call_command

    from simulate.engine import Breach, Simulation

    call_command("migrate", verbosity=0)
    print(f"simulate: seed {args.seed}, {args.steps} steps, database {SIM_DB}", flush=True)
    simulation = Simulation(args.seed, full_every=args.full_every)
    try:
        stats = simulation.run(args.steps)
    except Breach as breach:
        print(f"simulate: BREACH {breach}", file=sys.stderr)
        print(simulation.stats.summary().replace("0 breaches", "1 breach"), file=sys.stderr)
        return 1
    print(stats.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
