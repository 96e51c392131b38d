-- Indexes that serve the task-list predicates at scale (docs/performance.md, "Task lists"):
-- department members by the folded expression the list query uses, each member's tasks and all
-- tasks in creation order, and the required_clearance rows of tasks.
CREATE INDEX ix_users_department_key ON users (lower(trim(department))) WHERE deleted_at IS NULL;
CREATE INDEX ix_tasks_user_created_id ON tasks (user_id, created_at DESC, id);
CREATE INDEX ix_tasks_created_id ON tasks (created_at DESC, id);
DROP INDEX ix_tasks_user_created;
CREATE INDEX ix_resource_attributes_task_clearance ON resource_attributes (resource_id)
    WHERE resource_type = 'task' AND key = 'required_clearance';
