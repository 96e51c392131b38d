-- The owner's department on each task row, kept by the database (docs/performance.md, "Task
-- lists"; docs/decisions/0009-task-owner-department.md).
--
-- tasks.owner_department is the owner's department folded exactly as department lists fold it
-- (lower(trim(department)) in the "C" collation), or NULL when the owner is soft-deleted or has no
-- (or an all-blank) department. Triggers keep it, so every writer stays consistent, including the
-- benchmark seeders that INSERT directly. One index then serves a department list in order.
ALTER TABLE tasks ADD COLUMN owner_department TEXT NULL;

-- The folded department of a user row: NULL when soft-deleted or blank.
CREATE FUNCTION taskify_owner_department(department TEXT, deleted_at TIMESTAMPTZ) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN deleted_at IS NULL THEN NULLIF(lower(trim(department) COLLATE "C"), '') END $$;

-- Backfill before the index exists (no index entries to maintain for the new column).
UPDATE tasks t
SET owner_department = taskify_owner_department(u.department, u.deleted_at)
FROM users u
WHERE u.id = t.user_id AND taskify_owner_department(u.department, u.deleted_at) IS NOT NULL;

-- A new task (or a task given to another owner) takes its owner's department. FOR SHARE waits for
-- a concurrent, uncommitted change of that user's department and then reads the committed value;
-- a department change that starts later waits for this insert, and its own trigger then sees the
-- new task. Either order leaves the row right.
CREATE FUNCTION taskify_task_owner_department() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.owner_department := (
        SELECT taskify_owner_department(u.department, u.deleted_at)
        FROM users u WHERE u.id = NEW.user_id FOR SHARE
    );
    RETURN NEW;
END
$$;
CREATE TRIGGER tr_tasks_owner_department
    BEFORE INSERT OR UPDATE OF user_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION taskify_task_owner_department();

-- A user whose department changes, or who is soft-deleted or restored: all their tasks follow.
CREATE FUNCTION taskify_user_department_to_tasks() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    folded TEXT := taskify_owner_department(NEW.department, NEW.deleted_at);
BEGIN
    UPDATE tasks SET owner_department = folded
    WHERE user_id = NEW.id AND owner_department IS DISTINCT FROM folded;
    RETURN NULL;
END
$$;
CREATE TRIGGER tr_users_department_to_tasks
    AFTER UPDATE OF department, deleted_at ON users
    FOR EACH ROW
    WHEN (taskify_owner_department(OLD.department, OLD.deleted_at)
          IS DISTINCT FROM taskify_owner_department(NEW.department, NEW.deleted_at))
    EXECUTE FUNCTION taskify_user_department_to_tasks();

-- Department lists in the default order (created_at DESC, id). user_id is included so that the
-- count and the choice of a page (own tasks are exempt from the clearance check) read the index
-- alone, without visiting the rows they skip.
CREATE INDEX ix_tasks_owner_department_created_id ON tasks (owner_department, created_at DESC, id)
    INCLUDE (user_id) WHERE owner_department IS NOT NULL;

ANALYZE tasks;
