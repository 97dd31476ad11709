-- Saved outputs are cleared a generation at a time, by TRUNCATE: deleting them row by row left a
-- dead row per output for autovacuum, whose WAL, after a bulk load, held up every commit behind
-- it. A row belongs to the generation of the ten seconds it was saved in, three in turn; the one
-- whose turn comes next is emptied once every row in it is below its group's committed offset.
create function {schema}.processed_generation(at timestamptz) returns smallint
    language sql stable as $$ select ((extract(epoch from at)::bigint / 10) % 3)::smallint $$;
create function {schema}.processed_generation_next() returns smallint
    language sql stable as $$ select {schema}.processed_generation(statement_timestamp() + interval '10 seconds') $$;

-- A record's saved rows are no longer kept unique by a key (they may sit in any generation),
-- so this is what stops two owners of a partition from both applying a record: every batch first
-- moves its partitions' positions, a row lock that orders it behind any other owner's batch, and
-- learns where the batches before it had got to.
create table {schema}.processed_positions (
    consumer          text    not null,
    topic             text    not null,
    partition         integer not null,
    next_offset       bigint  not null,  -- every record below it has been applied
    prior_next_offset bigint  not null,  -- next_offset before the latest batch moved it
    primary key (consumer, topic, partition)
);

alter table {schema}.processed_records rename to processed_records_unpartitioned;
create table {schema}.processed_records (
    consumer    text     not null,
    topic       text     not null,
    partition   integer  not null,
    "offset"    bigint   not null,
    seq         integer  not null,  -- -1: the record produced nothing
    out_topic   text,
    out_key     bytea,
    out_value   bytea,
    out_headers jsonb,
    generation  smallint not null default {schema}.processed_generation(statement_timestamp())
) partition by list (generation);
create index processed_records_record on {schema}.processed_records (consumer, topic, partition, "offset", seq);
create table {schema}.processed_records_0 partition of {schema}.processed_records for values in (0);
create table {schema}.processed_records_1 partition of {schema}.processed_records for values in (1);
create table {schema}.processed_records_2 partition of {schema}.processed_records for values in (2);

insert into {schema}.processed_positions (consumer, topic, partition, next_offset, prior_next_offset)
    select consumer, topic, partition, max("offset") + 1, max("offset") + 1
    from {schema}.processed_records_unpartitioned group by consumer, topic, partition;
insert into {schema}.processed_records (consumer, topic, partition, "offset", seq, out_topic, out_key,
                                        out_value, out_headers)
    select consumer, topic, partition, "offset", seq, out_topic, out_key, out_value, out_headers
    from {schema}.processed_records_unpartitioned;
drop table {schema}.processed_records_unpartitioned;
