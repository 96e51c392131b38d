-- pgbench script: Taskify's primary-key read of one task (crates/store/src/tasks.rs, get_task:
-- the row joined with its owner) over the 1 000 tasks the suite seeds (ids md5('bench-task-N')).
\set n random(1, 1000)
SELECT t.id, t.user_id, t.title, t.description, t.status, t.priority, t.due_date, t.created_at,
       t.updated_at, t.version, u.username, u.department, (u.deleted_at IS NOT NULL)
FROM tasks t JOIN users u ON u.id = t.user_id
WHERE t.id = md5('bench-task-' || :n)::uuid;
