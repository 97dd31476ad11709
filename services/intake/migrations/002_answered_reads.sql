-- Read Inventory by Device ID is answered by intake itself when no change to that device is
-- still on its way to inventory: `subject` is the device (or place) a change routed to inventory
-- is about, and the index finds the changes not yet answered.
alter table intake.requests add column subject text;
alter table intake.requests drop constraint requests_outcome_check;
alter table intake.requests add constraint requests_outcome_check
    check (outcome in ('rejected', 'routed', 'answered'));
create index requests_unanswered_subject on intake.requests (subject)
    where response is null and subject is not null;
