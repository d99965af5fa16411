"""The case event log cannot be rewritten through the application's own
database role.

The tests' application code connects as the runtime role (tests/conftest.py),
as the web server and Celery do; each way a superuser or the table's owner
could get round the append-only trigger is tried through it and refused.
The owner that runs migrations still meets the trigger."""

import os
import threading
import uuid

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import pre_migrate

from cases.models import CaseEvent, Status
from core.dbroles import as_owner, history_tables
from governance.settings import base
from tests.cases.conftest import case_in

pytestmark = pytest.mark.django_db

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def event(world):
    case = case_in(world, Status.REGISTERED)
    return CaseEvent.objects.filter(case=case).order_by("id").first()


def refused(sql: str, params=None) -> str:
    """Run ``sql`` in a savepoint; return the database's refusal message."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    cause = caught.value.__cause__
    assert cause.sqlstate == INSUFFICIENT_PRIVILEGE, cause
    return str(cause)


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def event_rows() -> list[tuple]:
    return list(CaseEvent.objects.order_by("id").values_list("id", "action", "payload"))


# --- The bypasses of the append-only trigger, each refused ------------------------------


def test_the_session_cannot_switch_triggers_off(event):
    before = event_rows()
    assert "session_replication_role" in refused("SET session_replication_role = replica")
    assert "session_replication_role" in refused("SET LOCAL session_replication_role = replica")
    assert scalar("SHOW session_replication_role") == "origin"
    assert "permission denied for table cases_caseevent" in refused(
        "UPDATE cases_caseevent SET action = 'forged' WHERE id = %s", [event.pk]
    )
    assert event_rows() == before


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("ALTER TABLE cases_caseevent DISABLE TRIGGER cases_caseevent_append_only", "owner"),
        ("ALTER TABLE cases_caseevent DISABLE TRIGGER USER", "owner"),
        ("ALTER TABLE cases_caseevent DISABLE TRIGGER ALL", "owner"),
        ("DROP TRIGGER cases_caseevent_append_only ON cases_caseevent", "owner"),
        ("ALTER TABLE cases_caseevent RENAME TO cases_caseevent_old", "owner"),
        ("DROP TABLE cases_caseevent CASCADE", "owner"),
        (
            "CREATE OR REPLACE FUNCTION cases_caseevent_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END; $$",
            "permission denied for schema public",
        ),
    ],
)
def test_the_log_and_its_triggers_cannot_be_altered(event, sql, message):
    before = event_rows()
    assert message in refused(sql)
    assert scalar(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'cases_caseevent'::regclass"
        " AND tgname = 'cases_caseevent_append_only' AND tgenabled = 'O'"
    )
    assert event_rows() == before


@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE cases_caseevent",
        "TRUNCATE cases_case CASCADE",
        "UPDATE cases_caseevent SET payload = '{}'",
        "DELETE FROM cases_caseevent",
        "SELECT setval('cases_caseevent_id_seq', 1)",
    ],
)
def test_history_cannot_be_truncated_changed_or_renumbered(event, sql):
    before = event_rows()
    assert "permission denied" in refused(sql)
    assert event_rows() == before


def test_copy_to_a_program_is_refused(event):
    marker = f"/tmp/governance-copy-{uuid.uuid4().hex}"  # noqa: S108 - the server's /tmp
    assert "external program" in refused(f"COPY cases_caseevent TO PROGRAM 'touch {marker}'")
    assert "external program" in refused(f"COPY cases_caseevent FROM PROGRAM 'touch {marker}'")
    assert "to a file" in refused(f"COPY cases_caseevent TO '{marker}'")
    assert not os.path.exists(marker)


def test_the_role_cannot_become_another(event):
    owner = settings.DATABASE_OWNER["USER"]
    assert "permission denied" in refused(f'SET ROLE "{owner}"')
    assert "permission denied" in refused(f'SET SESSION AUTHORIZATION "{owner}"')
    assert "admin option" in refused(f'GRANT "{owner}" TO CURRENT_USER')


# --- What the runtime role is, and what it may still do ---------------------------------


def test_the_runtime_role_is_no_superuser_and_owns_nothing():
    role = scalar(
        "SELECT row(rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls)::text"
        " FROM pg_roles WHERE rolname = current_user"
    )
    assert role == "(f,f,f,f,f)"
    owned = scalar(
        "SELECT count(*) FROM ("
        " SELECT relowner AS owner FROM pg_class UNION ALL SELECT proowner FROM pg_proc"
        " UNION ALL SELECT typowner FROM pg_type UNION ALL SELECT nspowner FROM pg_namespace"
        " UNION ALL SELECT datdba FROM pg_database) AS o"
        " WHERE owner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
    )
    assert owned == 0
    # The owner, for contrast, owns the log.
    assert (
        scalar(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = %s", ["cases_caseevent"]
        )
        == settings.DATABASE_OWNER["USER"]
    )


def test_the_runtime_role_may_truncate_nothing_and_only_append_to_history():
    assert history_tables() == ["cases_caseevent"]
    truncatable = scalar(
        "SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p')"
        " AND has_table_privilege(current_user, oid, 'TRUNCATE')"
    )
    assert truncatable == 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p, has_table_privilege(current_user, 'cases_caseevent', p) FROM"
            " unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',"
            " 'TRIGGER']) AS p"
        )
        privileges = dict(cursor.fetchall())
    assert privileges == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": False,
        "DELETE": False,
        "TRUNCATE": False,
        "REFERENCES": False,
        "TRIGGER": False,
    }
    # Every other table of the application is read and written as before.
    for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
        assert not scalar(
            "SELECT string_agg(c.relname, ', ') FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> ALL(%s)"
            " AND pg_get_userbyid(c.relowner) = %s"
            " AND NOT has_table_privilege(current_user, c.oid, %s)",
            [history_tables(), settings.DATABASE_OWNER["USER"], privilege],
        )


def test_the_application_still_records_and_reads_events(world, event):
    case = case_in(world, Status.DISPATCHED)
    actions = list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))
    assert actions[:3] == ["reported", "registered", "dispatched"]
    appended = CaseEvent.objects.create(
        case_id=event.case_id, action="commented", to_status=Status.REGISTERED
    )
    assert CaseEvent.objects.get(pk=appended.pk).action == "commented"
    assert appended.pk > event.pk


# --- Who connects as which role ---------------------------------------------------------


def test_the_application_connects_as_the_runtime_role_and_migrations_as_the_owner():
    runtime, owner = settings.DATABASES["default"]["USER"], settings.DATABASE_OWNER["USER"]
    assert runtime != owner
    assert scalar("SELECT current_user") == runtime
    # Threads (Channels consumers, the HTTP worker threads) open their own
    # connections, with the same role.
    roles = []

    def in_a_thread():
        try:
            roles.append(scalar("SELECT current_user"))
        finally:
            connection.close()

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(timeout=30)
    assert roles == [runtime]
    # What the web server and Celery start with when nothing is configured.
    default = base.env.db_url_config(base.DEFAULT_DATABASE_URL)
    default_owner = base.env.db_url_config(base.DEFAULT_DATABASE_OWNER_URL)
    assert default["USER"] != default_owner["USER"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migrate_connects_as_the_owner_and_leaves_the_runtime_role_its_grants():
    seen = []

    def record_role(**kwargs):
        seen.append(scalar("SELECT current_user"))

    pre_migrate.connect(record_role, dispatch_uid="test-record-role")
    try:
        call_command("migrate", verbosity=0, interactive=False)
    finally:
        pre_migrate.disconnect(dispatch_uid="test-record-role")
    assert set(seen) == {settings.DATABASE_OWNER["USER"]}
    assert scalar("SELECT current_user") == settings.DATABASES["default"]["USER"]
    assert scalar(
        "SELECT has_table_privilege(current_user, 'cases_caseevent', 'INSERT')"
        " AND NOT has_table_privilege(current_user, 'cases_caseevent', 'UPDATE')"
        " AND has_table_privilege(current_user, 'cases_case', 'UPDATE')"
    )


def test_the_role_switches_only_between_transactions():
    with pytest.raises(RuntimeError, match="between transactions"), as_owner():
        pass
    assert scalar("SELECT current_user") == settings.DATABASES["default"]["USER"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_owner_that_migrates_still_meets_the_append_only_trigger(world):
    case = case_in(world, Status.REGISTERED)
    event = CaseEvent.objects.filter(case=case).order_by("id").first()
    before = event_rows()
    with as_owner():
        assert scalar("SELECT current_user") == settings.DATABASE_OWNER["USER"]
        for sql in (
            "UPDATE cases_caseevent SET action = 'forged' WHERE id = %s",
            "DELETE FROM cases_caseevent WHERE id = %s",
        ):
            assert "append-only" in refused(sql, [event.pk])
    assert scalar("SELECT current_user") == settings.DATABASES["default"]["USER"]
    assert event_rows() == before


def database_deploy_errors() -> set[str]:
    found = checks.run_checks(
        databases=["default"], include_deployment_checks=True, tags=[checks.Tags.database]
    )
    return {message.id for message in found if message.level >= checks.ERROR}


def test_the_deploy_check_accepts_the_runtime_role():
    assert database_deploy_errors() == set()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_deploy_check_refuses_an_application_connected_as_the_owner():
    with as_owner():
        errors = database_deploy_errors()
    # The owner is no superuser, but owns the tables and may rewrite the log.
    assert errors == {"dbroles.E002", "dbroles.E003"}
