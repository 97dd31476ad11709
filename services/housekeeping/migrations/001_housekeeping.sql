create schema if not exists housekeeping;

-- One row per partition of a run: what it decided, under which policy version.
create table housekeeping.runs (
    as_of timestamptz not null,
    partition int not null,
    policy_version text not null,
    removals_requested int not null,
    retained_excluded int not null,
    retained_by_rule int not null,
    retained jsonb not null,        -- {"CHF|13": n}: kept by type and age in months
    completed_at timestamptz not null default now(),
    primary key (as_of, partition)
);

-- Every removal decision, with the policy version that made it.
create table housekeeping.decisions (
    as_of timestamptz not null,
    device_id text not null,
    device_type text not null,
    pending_since timestamptz not null,
    notifying_party text not null,
    decision text not null,
    policy_version text not null,
    command_id text not null,
    primary key (as_of, device_id)
);

-- Removals inventory confirmed, and whether an N8 went out (one per Pending spell).
create table housekeeping.removals (
    device_id text not null,
    pending_since timestamptz not null,
    notifying_party text not null,
    policy_version text,
    alerted boolean not null,
    source_partition int not null,
    source_offset bigint not null,
    removed_at timestamptz not null,
    primary key (device_id, pending_since)
);

-- Forecasts and retention reports: each partition's part of the answer.
create table housekeeping.query_parts (
    query_id text not null,
    partition int not null,
    result jsonb not null,
    primary key (query_id, partition)
);
