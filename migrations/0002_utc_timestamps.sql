-- tasker-engine (Rails) stored UTC instants in "timestamp without time zone"
-- columns. Tasker Core compares instants across sessions and time zones, so an
-- adopted engine database has those columns converted to timestamptz, reading the
-- stored values as UTC. A fresh database already has timestamptz: nothing changes.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema()
          AND c.table_name LIKE 'tasker\_%'
          AND c.data_type = 'timestamp without time zone'
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE timestamptz USING %I AT TIME ZONE ''UTC''',
                       col.table_name, col.column_name, col.column_name);
    END LOOP;
END
$$;

-- Rails sets created_at/updated_at itself, so the engine's columns have no default;
-- Tasker Core's own writes rely on one.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema()
          AND c.table_name LIKE 'tasker\_%'
          AND c.column_name IN ('created_at', 'updated_at')
          AND c.column_default IS NULL
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT now()', col.table_name, col.column_name);
    END LOOP;
END
$$;
