-- What each Service Request applied through inventory's API produced (its response, its device
-- events), kept under its message ID: a second call for it answers the same and changes nothing,
-- and the topic path, meeting a request a call applied after its caller had given up on it,
-- publishes these instead of nothing. Kept for `applied_outputs_days`, then pruned.
create table inventory.applied_outputs (
    message_id  text        not null,               -- request:<RequestID>, as handled_messages
    seq         integer     not null,
    out_topic   text        not null,
    out_key     bytea,
    out_value   bytea       not null,
    out_headers jsonb       not null,
    applied_at  timestamptz not null default now(),
    primary key (message_id, seq)
);
create index applied_outputs_applied_at on inventory.applied_outputs (applied_at);
