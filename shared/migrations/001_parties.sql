-- The party registry: reference data every service may read; changed without code changes
-- (`deploy/parties.yaml` is loaded at start; operators add parties through the CLI).
create schema if not exists registry;
create table if not exists registry.parties (
    eui          text primary key,
    name         text not null,
    kind         text not null check (kind in ('service_user', 'csp')),
    roles        text[] not null default '{}',
    csp_region   text,
    alert_format text not null default 'xml' check (alert_format in ('xml', 'json')),
    certificate  text,
    updated_at   timestamptz not null default now()
);
