"""Case events: their live audience, and ids in commit order.

* ``audience`` holds the live groups an event went to (``cases.audience``);
  the events API replays to a user what their groups were sent. Events
  recorded before this migration get the audience of their case as it is now.
* Ids are drawn in commit order. A sequence hands out numbers in the order
  transactions ask, not the order they commit: event 11 could commit before
  event 10, and a client that saw 11 and resyncs "since 11" would never see
  10. The insert trigger takes a transaction-scoped lock before it draws the
  id, so an event's transaction holds the lock from its first event until it
  commits or rolls back, and the next event's id is drawn after that. The lock
  is held only from the first event of an action to its commit: services
  record their event after the rest of the action's work.
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

# pg_advisory_xact_lock key for drawing event ids: 'cevt' in ASCII.
EVENT_ID_LOCK = 0x63657674

COMMIT_ORDER = f"""
CREATE FUNCTION cases_caseevent_commit_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({EVENT_ID_LOCK});
    NEW.id := nextval('cases_caseevent_id_seq');
    RETURN NEW;
END;
$$;
CREATE TRIGGER cases_caseevent_commit_order
    BEFORE INSERT ON cases_caseevent
    FOR EACH ROW EXECUTE FUNCTION cases_caseevent_commit_order();
"""

DROP_COMMIT_ORDER = """
DROP TRIGGER cases_caseevent_commit_order ON cases_caseevent;
DROP FUNCTION cases_caseevent_commit_order();
"""

# The append-only trigger is lifted for this one statement.
BACKFILL = """
ALTER TABLE cases_caseevent DISABLE TRIGGER cases_caseevent_append_only;
UPDATE cases_caseevent e
   SET audience = ARRAY['case.' || c.id]
       || ARRAY(SELECT 'area.' || part
                  FROM unnest(string_to_array(trim(BOTH '/' FROM c.area_path), '/')) AS part)
       || CASE WHEN c.department_id IS NULL THEN ARRAY[]::varchar[]
               ELSE ARRAY['dept.' || c.department_id] END
       || CASE WHEN c.reporter_id IS NULL THEN ARRAY[]::varchar[]
               ELSE ARRAY['user.' || c.reporter_id] END
  FROM cases_case c
 WHERE c.id = e.case_id AND e.audience = '{}';
ALTER TABLE cases_caseevent ENABLE TRIGGER cases_caseevent_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0005_tips_photos_clients"),
    ]

    operations = [
        migrations.AddField(
            model_name="caseevent",
            name="audience",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=32),
                default=list,
                editable=False,
                size=None,
                verbose_name="audience",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="caseevent",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["audience"], name="cases_event_audience"
            ),
        ),
        migrations.RunSQL(COMMIT_ORDER, DROP_COMMIT_ORDER),
    ]
