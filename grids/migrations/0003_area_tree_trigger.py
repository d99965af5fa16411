"""Database-enforced rules of the area tree.

The BEFORE trigger refuses a child that is not exactly one level below its
parent, a code that does not extend the parent's code (subdistrict and
below), a cycle, a level change, and a code change on an area with children;
it computes ``path`` ("/city/district/.../self/") from the parent. The AFTER
trigger carries a changed path down to the whole subtree, so moving a
district to another city moves everything under it. (It listens on parent_id: a column
trigger fires for the columns an UPDATE names, and path only ever changes
when parent_id does.)
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION grids_area_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    parent_row record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.level <> OLD.level THEN
            RAISE EXCEPTION 'area %: the level of an existing area cannot change', OLD.code
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.code <> OLD.code
           AND EXISTS (SELECT 1 FROM grids_area WHERE parent_id = NEW.id) THEN
            RAISE EXCEPTION 'area %: the code of an area with children cannot change', OLD.code
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;

    IF NEW.parent_id IS NULL THEN
        NEW.path := '/' || NEW.id || '/';
        RETURN NEW;
    END IF;

    -- FOR SHARE: a concurrent move or re-coding of the parent waits for us
    -- (and we for it), so the path and code check see the parent as committed.
    SELECT level, code, path INTO parent_row FROM grids_area WHERE id = NEW.parent_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'area %: parent % does not exist', NEW.code, NEW.parent_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NEW.level <> parent_row.level + 1 THEN
        RAISE EXCEPTION 'area % (level %) must be exactly one level below its parent % (level %)',
            NEW.code, NEW.level, parent_row.code, parent_row.level
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.level >= 3 AND left(NEW.code, length(parent_row.code)) <> parent_row.code THEN
        RAISE EXCEPTION 'area %: code must extend its parent''s code %', NEW.code, parent_row.code
            USING ERRCODE = 'check_violation';
    END IF;
    -- Unreachable while levels are immutable and strictly increasing; kept as
    -- a last guard should those rules ever be relaxed.
    IF TG_OP = 'UPDATE' AND strpos(parent_row.path, '/' || NEW.id || '/') > 0 THEN
        RAISE EXCEPTION 'area %: an area cannot be placed under its own descendant', NEW.code
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.path := parent_row.path || NEW.id || '/';
    RETURN NEW;
END;
$$;

CREATE TRIGGER grids_area_before_write
    BEFORE INSERT OR UPDATE OF parent_id, level, code ON grids_area
    FOR EACH ROW EXECUTE FUNCTION grids_area_before_write();

CREATE FUNCTION grids_area_after_path_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE grids_area
       SET path = NEW.path || substr(path, length(OLD.path) + 1)
     WHERE path LIKE OLD.path || '%' AND id <> NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER grids_area_after_path_change
    AFTER UPDATE OF parent_id ON grids_area
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION grids_area_after_path_change();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS grids_area_after_path_change ON grids_area;
DROP FUNCTION IF EXISTS grids_area_after_path_change();
DROP TRIGGER IF EXISTS grids_area_before_write ON grids_area;
DROP FUNCTION IF EXISTS grids_area_before_write();
"""


class Migration(migrations.Migration):
    dependencies = [("grids", "0002_initial")]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
        # Point-to-grid lookups probe grid boundaries only. Declared here
        # because GeoDjango's schema editor drops the condition of a partial
        # spatial index declared in Meta.indexes.
        migrations.RunSQL(
            "CREATE INDEX grids_area_grid_boundary ON grids_area USING gist (boundary) "
            "WHERE level = 5",
            "DROP INDEX IF EXISTS grids_area_grid_boundary",
        ),
    ]
