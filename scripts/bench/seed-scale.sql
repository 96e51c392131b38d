-- The data set of the list benchmarks (BENCHMARKS.md, "Lists at scale"): 10 000 users and about
-- 1.1 million tasks, on a database that Taskify's migrations have already created.
--   * user 'big' owns 100 000 tasks;
--   * department 'scale-eng' has 1 000 users with 200 tasks each (200 000 tasks), among them the
--     manager 'eng-manager';
--   * 8 999 other users in 50 departments own about 89 tasks each (800 000 tasks);
--   * 1 % of the tasks carry a required_clearance attribute.
-- Tasks are inserted oldest first, as a live system writes them, so the table's physical order
-- follows created_at (interleaving users and departments). Lists walk their indexes in that
-- order; on a table laid out owner by owner instead, deep pages read scattered rows and cost up
-- to twice as much (BENCHMARKS.md, "Lists at scale").
-- Usage: psql -v ON_ERROR_STOP=1 -d DB -f scripts/bench/seed-scale.sql
-- Every seeded user has the password "Bench-pass-1" (argon2id hash below).
\set password_hash '''$argon2id$v=19$m=19456,t=2,p=1$UkiSyYgEOeE4CQtGyZ8uFg$L0grUPKHprsmJosv6ZthLqeEgrFjOUUenTadsGcdDNs'''

BEGIN;
CREATE TEMP TABLE seed_users AS
SELECT
    md5('scale-user-' || n)::uuid AS id,
    n,
    CASE
        WHEN n = 0 THEN 'big'
        WHEN n BETWEEN 1 AND 1000 THEN 'eng' || n
        ELSE 'user' || n
    END AS username,
    CASE
        WHEN n = 0 THEN NULL
        WHEN n BETWEEN 1 AND 1000 THEN 'scale-eng'
        ELSE 'scale-dept-' || (n % 50)
    END AS department
FROM generate_series(0, 9999) AS n;
UPDATE seed_users SET username = 'eng-manager' WHERE n = 1;

INSERT INTO users (id, username, email, password_hash, first_name, last_name, department, is_active,
                   created_at, updated_at)
SELECT id, username, username || '@scale.test', :password_hash, 'Scale', 'User' || n, department, TRUE,
       now() - interval '400 days', now() - interval '400 days'
FROM seed_users;

INSERT INTO user_roles (id, user_id, role_id, assigned_at)
SELECT md5('scale-role-' || s.n)::uuid, s.id, r.id, now() - interval '400 days'
FROM seed_users s JOIN roles r ON r.name = CASE WHEN s.n = 1 THEN 'manager' ELSE 'user' END;

-- Tasks: owner index i -> (user, count).
INSERT INTO tasks (id, user_id, title, description, status, priority, due_date, created_at, updated_at, version)
SELECT
    md5('scale-task-' || s.n || '-' || k)::uuid,
    s.id,
    'Task ' || k || ' ' || (ARRAY['deploy','review','invoice','design','migrate','audit','plan','fix'])[1 + (k % 8)]
        || ' ' || (ARRAY['alpha','bravo','charlie','delta','echo','foxtrot'])[1 + ((k + s.n) % 6)],
    'Details of task ' || k || ' for ' || s.username,
    (ARRAY['pending','in_progress','completed','cancelled'])[1 + (k % 4)],
    (ARRAY['low','medium','high','urgent'])[1 + ((k / 4) % 4)],
    CASE WHEN k % 3 = 0 THEN NULL ELSE now() + ((k % 90) - 30) * interval '1 day' END,
    now() - (k * 37 + s.n) * interval '1 second',
    now() - (k * 37 + s.n) * interval '1 second',
    1
FROM seed_users s
CROSS JOIN LATERAL generate_series(1, CASE WHEN s.n = 0 THEN 100000 WHEN s.n <= 1000 THEN 200 ELSE 89 END) AS k
ORDER BY k * 37 + s.n DESC;

INSERT INTO resource_attributes (id, resource_type, resource_id, key, value, data_type, created_at, updated_at)
SELECT md5('scale-attr-' || t.id)::uuid, 'task', t.id, 'required_clearance', '3', 'number', now(), now()
FROM tasks t
WHERE t.title LIKE 'Task %' AND get_byte(decode(md5(t.id::text), 'hex'), 0) < 3;
COMMIT;
VACUUM ANALYZE;
