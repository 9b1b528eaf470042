# Breeze Proxy: the production image that deploy.sh builds with Cloud Build and runs on Cloud Run.
#
#   docker build -t breeze-proxy .
#   docker run --rm -e DATABASE_URL=sqlite:////tmp/db.sqlite3 breeze-proxy \
#       python manage.py migrate --noinput                  # once per release, never per start
#   docker run --rm -p 8080:8080 -e DATABASE_URL=... breeze-proxy
#
# The application code is owned by root and read-only to the runtime user, so the default SQLite
# path (/app/db.sqlite3) is not writable: give the container a DATABASE_URL (Cloud Run gets one
# from Secret Manager through deploy.sh). No secret is baked into the image; every credential
# arrives through the environment at run time.
#
# tests/deploy/test_image_files.py assembles exactly what the final stage copies (after
# .dockerignore) into an empty folder and boots it there, so a package missing from the COPY
# lines below fails the test suite, not a deploy.

# --- builder: install the pinned runtime requirements into a virtualenv ---------------------
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# prod.txt includes base.txt, so the whole folder is needed; dev.txt is copied but not used.
COPY requirements/ /tmp/requirements/
RUN pip install --no-cache-dir -r /tmp/requirements/prod.txt -c /tmp/requirements/constraints.txt

# --- runtime ----------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=breeze_proxy.settings \
    PORT=8080

RUN groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid app \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv

# Only what runs: the project (breeze_proxy), its apps (INSTALLED_APPS: access, instruments,
# market, sessions_admin, stream, monitoring), the packages they import (common, breeze), the simulator
# (breeze_sim, for a sandbox deployment), the project templates, and the two entry files. No
# tests, bench, scripts, requirements or VCS metadata (.dockerignore agrees).
COPY manage.py gunicorn.conf.py ./
COPY breeze_proxy/ breeze_proxy/
COPY access/ access/
COPY instruments/ instruments/
COPY market/ market/
COPY sessions_admin/ sessions_admin/
COPY stream/ stream/
COPY monitoring/ monitoring/
COPY common/ common/
COPY breeze/ breeze/
COPY breeze_sim/ breeze_sim/
COPY templates/ templates/

# collectstatic needs settings to import; the dummy SECRET_KEY lives on this line only and is
# never part of the image's environment. Bytecode is compiled here because the runtime user
# cannot write it (and PYTHONDONTWRITEBYTECODE stops it trying), which helps cold starts.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && python -m compileall -q \
        breeze_proxy access instruments market sessions_admin stream monitoring common breeze breeze_sim

# The "app" user created above, by number so that a runtime can verify it is not root.
USER 10001:10001

EXPOSE 8080

# No HEALTHCHECK: Cloud Run ignores it and probes the container itself (deploy.sh configures an
# HTTP startup probe on / and a liveness probe on /breeze/health).
#
# Migrations do NOT run here: instances starting together raced on an empty database (Django
# does not lock migrations). deploy.sh runs `python manage.py migrate --noinput` once, as a
# Cloud Run job on this same image, before any revision that needs it takes traffic.
#
# Exec form: gunicorn itself is PID 1 (no shell in between, the equivalent of `exec`), so Cloud
# Run's SIGTERM reaches gunicorn, which drains its workers within graceful_timeout.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "breeze_proxy.wsgi:application"]
