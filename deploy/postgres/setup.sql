-- deploy/postgres/setup.sql: the cea_sensors database and its roles.
-- Run by deploy/install.sh --postgres as a superuser with psql, and by the
-- tests against a real cluster; idempotent (run it again any time).
--
-- psql variables (set them first, e.g. \set canopy_verifier '...'):
--   canopy_verifier   SCRAM-SHA-256 verifier of the `canopy` role's password
--   reader_verifier   SCRAM-SHA-256 verifier of the `grafana_reader` role's password
-- Verifiers, not passwords: the clear password never reaches the server, its
-- logs or pg_stat_activity (deploy/postgres/scram-verifier.mjs makes them).
--
-- What the roles may do:
--   canopy          every Canopy service (worker, api, automation, alerts,
--                   scanner, backup, the CLI): connect to cea_sensors, create
--                   and own the tables of schema public (the store migrates its
--                   own schema at start) and read/write them. Not a superuser;
--                   no CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS; no CREATE
--                   on the database (so no new schemas) or on any other schema;
--                   no TEMP tables.
--   grafana_reader  Grafana's data source: connect and SELECT only, in
--                   read-only transactions.
\set ON_ERROR_STOP on

SELECT 'CREATE ROLE canopy' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'canopy') \gexec
SELECT 'CREATE ROLE grafana_reader' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana_reader') \gexec
-- ALTER, not only CREATE: a second run restores attributes someone changed
ALTER ROLE canopy WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
  CONNECTION LIMIT 80 PASSWORD :'canopy_verifier';
ALTER ROLE grafana_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
  CONNECTION LIMIT 20 PASSWORD :'reader_verifier';

SELECT 'CREATE DATABASE cea_sensors ENCODING ''UTF8'' TEMPLATE template0'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'cea_sensors') \gexec
-- only our two roles may connect; nobody but the owner (postgres) may create schemas or temp tables
REVOKE ALL ON DATABASE cea_sensors FROM PUBLIC, canopy, grafana_reader;
GRANT CONNECT ON DATABASE cea_sensors TO canopy, grafana_reader;
ALTER ROLE grafana_reader IN DATABASE cea_sensors SET default_transaction_read_only = on;

\connect cea_sensors
-- PostgreSQL 15 revokes CREATE on public from PUBLIC already; older versions do not
REVOKE CREATE ON SCHEMA public FROM PUBLIC, grafana_reader;
GRANT USAGE, CREATE ON SCHEMA public TO canopy;
GRANT USAGE ON SCHEMA public TO grafana_reader;
-- tables that exist already (an older install, a migration run as postgres) ...
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM grafana_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana_reader;
-- ... and every table or view the store creates from now on
ALTER DEFAULT PRIVILEGES FOR ROLE canopy IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader;

-- TimescaleDB, when the package is installed and preloaded (a non-superuser cannot
-- create the extension; the store then makes its tables hypertables itself)
SELECT 'CREATE EXTENSION IF NOT EXISTS timescaledb'
  FROM pg_available_extensions
  WHERE name = 'timescaledb' AND current_setting('shared_preload_libraries') ~ '(^|[ ,])timescaledb($|[ ,])' \gexec
