-- Least-privilege PostgreSQL roles of a Jembatan exchange (deploy/postgres/README.md).
--
--   jembatan_owner  owns the database, its schema and every table; applies the migrations
--                   (`jembatan migrate`) and grants the exchange's role what it needs.
--   jembatan_app    the exchange (`jembatan serve` with store.migrate = false): may log in, owns
--                   nothing, and holds only what `jembatan migrate --grant-to jembatan_app`
--                   grants: it may INSERT into the audit log's tables and never UPDATE or
--                   DELETE them, nor drop or disable their triggers.
--
-- Roles belong to the whole cluster: run this once per cluster, as a superuser:
--   psql -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql
-- It is idempotent: it creates what is missing and resets both roles' attributes, and changes
-- nothing else. Passwords, client certificates and pg_hba.conf are the DBA's: it sets none.

DO $$
BEGIN
    BEGIN
        CREATE ROLE jembatan_owner;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- there already, or made meanwhile by another run of this script
    END;
    BEGIN
        CREATE ROLE jembatan_app;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
END
$$;

-- Neither needs any power over the cluster.
ALTER ROLE jembatan_owner
    LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
-- The exchange's role inherits nothing, should it ever be made a member of another role.
ALTER ROLE jembatan_app
    LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;

-- A member of the owner could act as the owner: drop the triggers, rewrite the log.
DO $$
BEGIN
    IF pg_has_role('jembatan_app', 'jembatan_owner', 'MEMBER') THEN
        RAISE EXCEPTION 'jembatan_app is a member of jembatan_owner: REVOKE jembatan_owner FROM jembatan_app';
    END IF;
END
$$;
