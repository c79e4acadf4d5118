"""The database backend: PostGIS, with event ids assigned right before each COMMIT (tracker.stream.ids).

ENGINE "tracker.stream.dbbackend" in settings.DATABASES; every option of Django's PostGIS backend (the
psycopg connection pool included) works as there.
"""
