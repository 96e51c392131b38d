-- pgbench script: Taskify's primary-key read of one task (crates/store/src/tasks.rs, get_task:
-- the row joined with its owner and, in the same statement, its live attributes) over the 1 000
-- tasks the suite seeds (ids md5('bench-task-N')).
\set n random(1, 1000)
SELECT t.id, t.user_id, t.title, t.description, t.status, t.priority, t.due_date, t.created_at,
       t.updated_at, t.version, u.username, u.department, (u.deleted_at IS NOT NULL),
       a.key, a.value, a.data_type, a.source, a.expires_at, a.created_at, a.updated_at
FROM tasks t JOIN users u ON u.id = t.user_id
LEFT JOIN resource_attributes a ON a.resource_type = 'task' AND a.resource_id = t.id
     AND (a.expires_at IS NULL OR a.expires_at > now())
WHERE t.id = md5('bench-task-' || :n)::uuid ORDER BY a.key;
