-- What each consumed record produced, kept until its offset is committed, so that a batch
-- redelivered after a crash publishes the same outputs again instead of applying twice.
create schema if not exists {schema};
create table if not exists {schema}.processed_records (
    consumer    text    not null,
    topic       text    not null,
    partition   integer not null,
    "offset"    bigint  not null,
    seq         integer not null,  -- -1: the record produced nothing
    out_topic   text,
    out_key     bytea,
    out_value   bytea,
    out_headers jsonb,
    primary key (consumer, topic, partition, "offset", seq)
);
