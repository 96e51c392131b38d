-- pgbench script: Taskify's single-row INSERT into tasks (crates/store/src/tasks.rs, create), as
-- one autocommitted statement. Run with -M prepared -D uid=<an existing user id>.
INSERT INTO tasks (id, user_id, title, description, status, priority, due_date, created_at, updated_at, version)
VALUES (gen_random_uuid(), :uid, 'Benchmark task', 'created by pgbench', 'pending', 'high', NULL, now(), now(), 1);
