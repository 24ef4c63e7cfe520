CREATE TABLE "channel_publications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"seq" bigint NOT NULL,
	"data" jsonb,
	"from_user_id" bigint,
	"from_address" text,
	"published_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"name" text PRIMARY KEY NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "channel_publications" ADD CONSTRAINT "channel_publications_from_user_id_users_id_fk" FOREIGN KEY ("from_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "channel_publications_channel_seq_idx" ON "channel_publications" USING btree ("channel","seq");--> statement-breakpoint
CREATE INDEX "channel_publications_published_at_idx" ON "channel_publications" USING btree ("published_at");