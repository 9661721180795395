-- fieldvault on PostgreSQL: the research database and the linkage vault apart, each owned by a
-- role of its own that can connect to nothing else.
--
-- Run once as a superuser with psql (15 or newer, for \getenv), before `fieldvault init`:
--
--   FIELDVAULT_RESEARCH_DB_PASSWORD=... FIELDVAULT_VAULT_DB_PASSWORD=... \
--     psql -h db -U postgres -d postgres -f deploy/postgres/init-roles.sql
--
-- The official postgres image runs it from /docker-entrypoint-initdb.d/ the same way (set the
-- two password variables in the container's environment). Names and passwords come from psql
-- variables (-v research_role=...) first, then from the environment
-- (FIELDVAULT_RESEARCH_ROLE, FIELDVAULT_RESEARCH_DB, FIELDVAULT_VAULT_ROLE, FIELDVAULT_VAULT_DB,
-- FIELDVAULT_RESEARCH_DB_PASSWORD, FIELDVAULT_VAULT_DB_PASSWORD), else the defaults below.
-- A role without a password can log in only where pg_hba.conf trusts it (tests, a socket).
--
-- Then point fieldvault at the two databases, each as its owner:
--   FIELDVAULT_DATABASE_URL=postgresql+psycopg://fieldvault_research:PW@db/fieldvault_research
--   FIELDVAULT_VAULT_URL=postgresql+psycopg://fieldvault_vault:PW@db/fieldvault_vault
-- and run `fieldvault init`: each database is migrated by the role that owns it.
--
-- What it guarantees: CONNECT on each database is revoked from PUBLIC and granted to its
-- owner only, so the research role cannot open the vault and the vault role cannot open the
-- research database; the public schema of each is its owner's, with nothing granted to
-- PUBLIC, so even a later stray GRANT CONNECT lets the other role read no table. Neither role
-- is a superuser or may create roles or databases.

\set ON_ERROR_STOP on

\if :{?research_role}
\else
\getenv research_role FIELDVAULT_RESEARCH_ROLE
\endif
\if :{?research_role}
\else
\set research_role fieldvault_research
\endif
\if :{?research_db}
\else
\getenv research_db FIELDVAULT_RESEARCH_DB
\endif
\if :{?research_db}
\else
\set research_db fieldvault_research
\endif
\if :{?vault_role}
\else
\getenv vault_role FIELDVAULT_VAULT_ROLE
\endif
\if :{?vault_role}
\else
\set vault_role fieldvault_vault
\endif
\if :{?vault_db}
\else
\getenv vault_db FIELDVAULT_VAULT_DB
\endif
\if :{?vault_db}
\else
\set vault_db fieldvault_vault
\endif
\if :{?research_password}
\else
\getenv research_password FIELDVAULT_RESEARCH_DB_PASSWORD
\endif
\if :{?vault_password}
\else
\getenv vault_password FIELDVAULT_VAULT_DB_PASSWORD
\endif

-- The two roles: log in, nothing more.
CREATE ROLE :"research_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE ROLE :"vault_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
\if :{?research_password}
ALTER ROLE :"research_role" PASSWORD :'research_password';
\endif
\if :{?vault_password}
ALTER ROLE :"vault_role" PASSWORD :'vault_password';
\endif

-- The two databases, each owned by its role; only the owner may connect.
CREATE DATABASE :"research_db" OWNER :"research_role";
CREATE DATABASE :"vault_db" OWNER :"vault_role";
REVOKE ALL ON DATABASE :"research_db" FROM PUBLIC;
REVOKE ALL ON DATABASE :"vault_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"research_db" TO :"research_role";
GRANT CONNECT, TEMPORARY ON DATABASE :"vault_db" TO :"vault_role";

-- Inside each: the public schema belongs to the owner and PUBLIC may not use it.
\connect :"research_db"
ALTER SCHEMA public OWNER TO :"research_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
\connect :"vault_db"
ALTER SCHEMA public OWNER TO :"vault_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
