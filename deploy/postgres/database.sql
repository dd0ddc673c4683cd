-- The exchange's database, for the roles of roles.sql (deploy/postgres/README.md). Run as a
-- superuser, connected to the database, once after creating it (idempotent):
--   createdb -O jembatan_owner jembatan
--   psql -d jembatan -v ON_ERROR_STOP=1 -f deploy/postgres/database.sql
--
-- jembatan_owner owns the database and its public schema, where the migrations create the
-- tables. Nobody else may create anything there, and only the two roles may connect.

DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO jembatan_owner', current_database());
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO jembatan_app', current_database());
END
$$;

ALTER SCHEMA public OWNER TO jembatan_owner;
-- PostgreSQL before 15 let every role create objects in public, and so own them.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO jembatan_app;
