-- Deployments that were running when Herald moved to general jobs: the notifications they had already sent
-- were marked in jobs.progress ({"started": true, "pending": true}); ctx.notify now marks them in job_steps as
-- notify:<key>. Carried over so a retry after the upgrade does not send them again.
INSERT INTO "job_steps" ("job_id", "key")
SELECT "jobs"."id", 'notify:' || "marks"."key"
FROM "jobs", jsonb_object_keys("jobs"."progress") AS "marks"("key")
WHERE "jobs"."status" IN ('pending', 'running')
ON CONFLICT DO NOTHING;
