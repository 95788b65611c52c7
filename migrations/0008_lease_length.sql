-- The length of a step's current lease (set by the claim, renewed by each
-- heartbeat). Lease recovery gives a holder one full lease period after the
-- database became reachable again (a server restart, an outage the recovering
-- process saw) before its lease counts as expired: a holder that was alive during
-- an outage renews or reports as soon as it can, instead of having its finished
-- work failed and run again. NULL (leases granted before this column): the
-- recorded expiry alone decides.
ALTER TABLE tasker_workflow_steps ADD COLUMN IF NOT EXISTS lease_seconds double precision;
