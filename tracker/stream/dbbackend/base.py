"""PostGIS's DatabaseWrapper with a commit() that first numbers the transaction's events (tracker.stream.ids).

Every commit goes through here: the end of an outermost atomic block, and a manual commit() under
set_autocommit(False). The numbering and the COMMIT go to the server in one query string; a failure of either
is a DatabaseError raised from commit(), on which Django's atomic block rolls back (and drops its on-commit
callbacks): no event, no id used.
"""

from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISDatabaseWrapper
from django.core.exceptions import ImproperlyConfigured

from tracker.stream import ids


class DatabaseWrapper(PostGISDatabaseWrapper):
    def get_connection_params(self):
        # Server-side binding (the extended query protocol) cannot send the numbering and the COMMIT as one
        # query string.
        if self.settings_dict["OPTIONS"].get("server_side_binding"):
            raise ImproperlyConfigured("tracker.stream.dbbackend needs client-side binding (server_side_binding off)")
        return super().get_connection_params()

    def commit(self):
        # The checks of Django's commit(), before the numbering: inside an atomic block it would hold the
        # counter's lock through the rest of the transaction.
        self.validate_thread_sharing()
        self.validate_no_atomic_block()
        ids.assign_and_commit(self)
        # The server has committed if there were events: psycopg's commit is then a no-op (the connection is
        # idle), and Django's bookkeeping (on-commit callbacks, errors_occurred) runs as for any commit.
        super().commit()
