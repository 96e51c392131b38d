-- The owner's department on each task row, kept by the database (docs/performance.md, "Task
-- lists"; docs/decisions/0009-task-owner-department.md).
--
-- tasks.owner_department is the owner's department folded exactly as department lists fold it
-- (lower(trim(department))), or NULL when the owner is soft-deleted or has no (or an all-blank)
-- department. Triggers keep it, so every writer stays consistent. SQLite has one writer at a time,
-- so a task insert and a department change never interleave.
ALTER TABLE tasks ADD COLUMN owner_department TEXT NULL;

UPDATE tasks SET owner_department = (
    SELECT CASE WHEN u.deleted_at IS NULL THEN NULLIF(lower(trim(u.department)), '') END
    FROM users u WHERE u.id = tasks.user_id
);

-- A new task (or a task given to another owner) takes its owner's department.
CREATE TRIGGER tr_tasks_owner_department_insert AFTER INSERT ON tasks
FOR EACH ROW
BEGIN
    UPDATE tasks SET owner_department = (
        SELECT CASE WHEN u.deleted_at IS NULL THEN NULLIF(lower(trim(u.department)), '') END
        FROM users u WHERE u.id = NEW.user_id
    ) WHERE id = NEW.id;
END;

CREATE TRIGGER tr_tasks_owner_department_owner AFTER UPDATE OF user_id ON tasks
FOR EACH ROW
BEGIN
    UPDATE tasks SET owner_department = (
        SELECT CASE WHEN u.deleted_at IS NULL THEN NULLIF(lower(trim(u.department)), '') END
        FROM users u WHERE u.id = NEW.user_id
    ) WHERE id = NEW.id;
END;

-- A user whose department changes, or who is soft-deleted or restored: all their tasks follow.
CREATE TRIGGER tr_users_department_to_tasks AFTER UPDATE OF department, deleted_at ON users
FOR EACH ROW
BEGIN
    UPDATE tasks
    SET owner_department = CASE WHEN NEW.deleted_at IS NULL THEN NULLIF(lower(trim(NEW.department)), '') END
    WHERE user_id = NEW.id
      AND owner_department IS NOT (CASE WHEN NEW.deleted_at IS NULL THEN NULLIF(lower(trim(NEW.department)), '') END);
END;

CREATE INDEX ix_tasks_owner_department_created_id ON tasks (owner_department, created_at DESC, id);
