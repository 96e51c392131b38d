-- Indexes that serve the task-list predicates at scale (docs/performance.md, "Task lists").
--
-- Department lists look up the members of a department by the same folded expression the list
-- query uses (lower(trim(department)) in the "C" collation), then walk each member's tasks in
-- creation order; the own-task and everyone lists walk tasks in creation order directly.
CREATE INDEX ix_users_department_key ON users (lower(trim(department) COLLATE "C")) WHERE deleted_at IS NULL;
CREATE INDEX ix_tasks_user_created_id ON tasks (user_id, created_at DESC, id);
CREATE INDEX ix_tasks_created_id ON tasks (created_at DESC, id);
DROP INDEX ix_tasks_user_created;
-- The clearance check of department lists reads only required_clearance rows of tasks.
CREATE INDEX ix_resource_attributes_task_clearance ON resource_attributes (resource_id)
    WHERE resource_type = 'task' AND key = 'required_clearance';

-- Text search (`q`) matches substrings of the folded title and description. With pg_trgm, GIN
-- trigram indexes serve those LIKE patterns; without the extension (a role that may not create
-- it), the migration still succeeds and search scans, as before.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available: task text search will scan';
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX ix_tasks_title_trgm ON tasks USING gin (lower(title COLLATE "C") gin_trgm_ops);
        CREATE INDEX ix_tasks_description_trgm ON tasks USING gin (lower(description COLLATE "C") gin_trgm_ops);
    END IF;
END
$$;
