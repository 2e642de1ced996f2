"""`make bench`: seed a large dataset, serve it under gunicorn, measure, compare with baselines."""
