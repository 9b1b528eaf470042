# Breeze Proxy: the production image that deploy.sh builds with Cloud Build and runs on Cloud Run.
#
#   docker build -t breeze-proxy .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=sqlite:////tmp/db.sqlite3 breeze-proxy
#
# The application code is owned by root and read-only to the runtime user, so the default SQLite
# path (/app/db.sqlite3) is not writable: give the container a DATABASE_URL (Cloud Run gets one
# from Secret Manager through deploy.sh). No secret is baked into the image; every credential
# arrives through the environment at run time.

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

# Only what runs: no tests, bench, scripts, requirements or VCS metadata (.dockerignore agrees).
COPY manage.py gunicorn.conf.py ./
COPY breeze_proxy/ breeze_proxy/
COPY market/ market/
COPY sessions_admin/ sessions_admin/
COPY breeze_sim/ breeze_sim/
COPY templates/ templates/

# collectstatic needs settings to import; the dummy SECRET_KEY lives on this line only and is
# never part of the image's environment. Bytecode is compiled here because the runtime user
# cannot write it (and PYTHONDONTWRITEBYTECODE stops it trying), which helps cold starts.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && python -m compileall -q breeze_proxy market sessions_admin breeze_sim

# The "app" user created above, by number so that a runtime can verify it is not root.
USER 10001:10001

EXPOSE 8080

# No HEALTHCHECK: Cloud Run ignores it and probes the container itself (TCP startup probe on
# $PORT by default).
#
# Migrations run before gunicorn on every instance start. Django does not lock migrations, so
# instances starting at the same moment may race on a release that adds one; a Cloud Run job
# that runs `migrate` before the deploy is the safer shape once that matters.
# `exec` replaces the shell (PID 1) with gunicorn, so Cloud Run's SIGTERM reaches gunicorn.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn -c gunicorn.conf.py breeze_proxy.wsgi:application"]
