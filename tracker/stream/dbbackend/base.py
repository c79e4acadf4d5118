"""PostGIS's DatabaseWrapper with a commit() that first numbers the transaction's events (tracker.stream.ids).

Every commit goes through here: the end of an outermost atomic block, and a manual commit() under
set_autocommit(False). A failure of the numbering statement is a DatabaseError raised from commit(), on which
Django's atomic block rolls the transaction back (and drops its on-commit callbacks): no event, no id used.
"""

from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISDatabaseWrapper

from tracker.stream import ids


class DatabaseWrapper(PostGISDatabaseWrapper):
    def commit(self):
        # Before the numbering statement, which must not run inside an atomic block (it would then hold the
        # counter's lock through the rest of the transaction).
        self.validate_no_atomic_block()
        ids.commit_assigning(self, super().commit)
