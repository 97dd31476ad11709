create schema if not exists returns;

-- Every bulk return request taken in: what to answer, and the answer once given.
create table returns.requests (
    request_id     text primary key,
    originator     text not null,
    variant        text not null,              -- 8.14.3 (fault) or 8.14.4 (no fault)
    reply          jsonb not null,             -- where and how to answer (format, schema version)
    reason         jsonb not null,             -- the DUIS fields shared by every hub of the request
    event_time     timestamptz not null,       -- the request's record timestamp
    command_id     text,                       -- the ReturnHubs sent to inventory, if any
    state          text not null check (state in ('awaiting_inventory', 'answered')),
    response_code  text,
    response       bytea,
    response_topic text,
    answered_at    timestamptz
);
create index requests_originator on returns.requests (originator, event_time desc);

-- One row per hub of a request, in request order: its code once known (null: awaiting inventory).
create table returns.request_hubs (
    request_id   text not null references returns.requests,
    position     integer not null,
    device_id    text not null,
    other_device_id text,
    code         text,
    reference    text,
    primary key (request_id, position)
);
create index request_hubs_device on returns.request_hubs (device_id);
create index request_hubs_awaiting on returns.request_hubs (device_id) where code is null;

-- The Returns Remedy Record: one per accepted hub.
create sequence returns.record_numbers;
create table returns.records (
    reference        text primary key,
    device_id        text not null,
    gpf_id           text,
    request_id       text not null references returns.requests,
    originator       text not null,
    kind             text not null check (kind in ('fault', 'no_fault')),
    return_type      text not null,            -- CHFFaultReturnType or CHFNoFaultReturnType
    fault_reason     text,
    connection_method text,
    other_device_id  text,
    incident_reference text,
    user_ref_id      text,
    user_ref_datetime timestamptz,
    additional_information text,
    created_at       timestamptz not null,
    due_by           date not null,
    status           text not null check (status in ('open', 'overdue', 'closed')),
    overdue_alerted_at timestamptz,
    received_at      timestamptz,
    outcome          text check (outcome in ('fault_confirmed', 'no_fault_found'))
);
create unique index records_one_open_per_hub on returns.records (device_id) where status <> 'closed';
create index records_device on returns.records (device_id, created_at);
create index records_request on returns.records (request_id);
create index records_due on returns.records (due_by) where status = 'open';
create index records_originator on returns.records (originator, status);

-- What happened to each record, in order.
create table returns.record_history (
    reference  text not null references returns.records,
    seq        integer not null,
    at         timestamptz not null,
    event      text not null,
    detail     text,
    primary key (reference, seq)
);
