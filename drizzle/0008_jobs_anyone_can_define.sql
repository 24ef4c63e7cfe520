CREATE TABLE "job_steps" (
	"job_id" bigint NOT NULL,
	"key" text NOT NULL,
	"result" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "job_steps_job_id_key_pk" PRIMARY KEY("job_id","key")
);
--> statement-breakpoint
DROP INDEX "chain_transactions_job_idx";--> statement-breakpoint
ALTER TABLE "chain_transactions" ADD COLUMN "key" text DEFAULT 'deploy' NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "report" jsonb;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "cancel_requested" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "job_steps" ADD CONSTRAINT "job_steps_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "chain_transactions_job_key_idx" ON "chain_transactions" USING btree ("job_id","key");