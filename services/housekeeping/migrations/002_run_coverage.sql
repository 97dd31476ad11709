-- Which device events each partition's decision covered: the table held every device event of
-- the partition below this offset when it decided (null: decided before this was recorded, so a
-- run is complete only when every partition's row has it). A run asked again for the same as_of
-- decides again: attempts counts how often.
alter table housekeeping.runs add column events_covered bigint;
alter table housekeeping.runs add column attempts int not null default 1;
