"""The bench database, tracker_bench: created afresh for every run so results never depend on leftovers,
and so no benchmark ever writes to the development database."""

import subprocess

import psycopg

from bench.common import ADMIN_DSN, BENCH_DB, PYTHON, ROOT, django_env, django_task, log


def recreate() -> None:
    """Drop and create tracker_bench with PostGIS, then apply the migrations."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    with psycopg.connect(ADMIN_DSN.replace("dbname=postgres", f"dbname={BENCH_DB}"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=django_env(), check=True, timeout=300
    )
    log(f"database {BENCH_DB} created and migrated")


def bench_token() -> str:
    """Create (or find) the bench user and return its API token key."""
    return django_task("user")["token"]
