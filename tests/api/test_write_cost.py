"""What a REST create costs the database: every statement Django sends for the request, authentication,
BEGIN and COMMIT included (a transactional test, so the transaction is the request's own, as in production)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import API, client_for, feature, point
from tests.factories import AreaFactory, UserFactory, square
from tracker.models import Alert, Event, Severity

pytestmark = pytest.mark.django_db(transaction=True)

# Token lookup, BEGIN, the incident's INSERT, the areas it alerts in, the alerts' INSERT, the events' ids and
# rows sent with the COMMIT (tracker.stream.ids), and Django's COMMIT, which psycopg then no longer sends (the
# server has committed): 7 entries, 6 round trips.
CREATE_STATEMENTS = 7


def test_a_create_that_raises_an_alert_takes_at_most_7_statements():
    AreaFactory(polygon=square(10, 10, 11, 11), threshold=Severity.LOW)
    client = client_for(UserFactory())
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            API + "incidents/", feature(point(10.5, 10.5), name="Fire", severity="high"), format="json"
        )
    assert response.status_code == 201, response.content
    assert Alert.objects.count() == 1 and Event.objects.filter(type__in=["incident", "alert"]).count() == 2
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) <= CREATE_STATEMENTS, "\n".join([f"{len(statements)} statements:", *statements])


def test_an_update_sets_no_savepoint():
    """The view's transaction and the service's are one: no SAVEPOINT/RELEASE pair per write."""
    user = UserFactory()
    created = client_for(user).post(API + "incidents/", feature(point(10.5, 10.5), name="Fire"), format="json")
    with CaptureQueriesContext(connection) as queries:
        response = client_for(user).patch(created["Location"], feature(name="Big fire"), format="json")
    assert response.status_code == 200, response.content
    statements = [query["sql"] for query in queries.captured_queries]
    assert not [sql for sql in statements if "SAVEPOINT" in sql], "\n".join(statements)
