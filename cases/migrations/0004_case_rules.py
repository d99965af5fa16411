"""Database rules of the case log, the number sequence and the standard categories.

* ``cases_caseevent`` is append-only: a trigger refuses every UPDATE and
  DELETE, whoever runs it (the admin, a shell, a bug).
* Case numbers take a global sequence after the date.
* The standard categories (GB/T 30428.2), their deadline rules and the
  overdue policy are loaded; departments are city-specific, so default
  departments are filled in later by ``load_categories``.
"""

from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION cases_caseevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case events are append-only: % on event % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER cases_caseevent_append_only
    BEFORE UPDATE OR DELETE ON cases_caseevent
    FOR EACH ROW EXECUTE FUNCTION cases_caseevent_append_only();
CREATE SEQUENCE cases_case_number_seq;
"""

DROP = """
DROP TRIGGER cases_caseevent_append_only ON cases_caseevent;
DROP FUNCTION cases_caseevent_append_only();
DROP SEQUENCE cases_case_number_seq;
"""


def load_categories(apps, schema_editor):
    from cases.categories import load_standard_categories

    load_standard_categories(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_workflow"),
        ("organisation", "0002_department_group"),
    ]

    operations = [
        migrations.RunSQL(APPEND_ONLY, DROP),
        migrations.RunPython(load_categories, migrations.RunPython.noop),
    ]
