# The production image: gunicorn web, Celery worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
RUN pip install --no-cache-dir -c constraints.txt .
COPY . .
# collectstatic needs settings to import; the key is a build-time throwaway.
RUN SECRET_KEY=build-only-$(python -c "import secrets; print(secrets.token_hex(32))") \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

RUN useradd --system --home /app marketplace && mkdir -p /data && chown marketplace /data
USER marketplace
EXPOSE 8000
CMD ["gunicorn", "marketplace.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
