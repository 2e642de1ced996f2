# The production image: gunicorn web, Celery worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
RUN pip install --no-cache-dir -c constraints.txt .
COPY . .
# collectstatic needs settings to import; the key is a build-time throwaway.
RUN SECRET_KEY=build-only-$(python -c "import secrets; print(secrets.token_hex(32))") \
    LEDGER_MAC_KEY=build-only PAYMENT_PROVIDER=sandbox ALLOWED_HOSTS=build \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    sh -c "python manage.py collectstatic --noinput && python manage.py compile_catalogues --force"

RUN useradd --system --home /app marketplace && mkdir -p /data && chown marketplace /data
USER marketplace
EXPOSE 8000
# gunicorn.conf.py: bind, workers (WEB_CONCURRENCY), timeouts, JSON access lines with durations.
CMD ["gunicorn", "marketplace.wsgi"]
