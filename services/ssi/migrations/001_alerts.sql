create schema if not exists ssi;

-- The DCC Alerts sent to each party (N8 from housekeeping, overdue returns), copied from the
-- public alerts topic so that a party can read its own, newest first.
create table ssi.alerts (
    topic       text not null,
    partition   integer not null,
    "offset"    bigint not null,
    party       text not null,
    sent_at     timestamptz not null,          -- the alert record's timestamp
    code        text not null,                 -- DCCAlertCode
    device_id   text,
    payload     jsonb not null,                -- the DCCAlert element as sent
    primary key (topic, partition, "offset")
);
create index alerts_party on ssi.alerts (party, sent_at desc, topic, partition, "offset");
