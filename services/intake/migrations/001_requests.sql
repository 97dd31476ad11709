create schema if not exists intake;

-- Every RequestID taken in (originator known), with the response it got: what a replay needs.
create table intake.requests (
    request_id      text primary key,          -- canonical: upper-case EUIs, decimal counter
    originator      text not null,
    variant         text not null,
    format          text not null,
    received_at     timestamptz not null,      -- the request's record timestamp (event time)
    outcome         text not null check (outcome in ('rejected', 'routed')),
    response        bytea,                     -- null until the owning service has answered
    response_topic  text,
    pending_replays integer not null default 0 -- replays that arrived before the response
);
create index requests_originator_received on intake.requests (originator, received_at);
