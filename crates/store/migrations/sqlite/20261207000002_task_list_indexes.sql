-- Task lists sorted by title (docs/performance.md, "Task lists"): the list orders by the folded
-- title (`lower(title)`, as the store's Dialect::fold writes it) and then by id. With this index
-- a first page walks the index in order instead of sorting every visible task.
--
-- PostgreSQL's migration of the same name also adds a narrow index on owner_department for the
-- bitmap intersection of its trigram search; SQLite has neither trigram indexes nor bitmap
-- scans, so it has no use for one.
CREATE INDEX ix_tasks_title_order ON tasks (lower(title), id);
