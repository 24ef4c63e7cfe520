CREATE TABLE "chain_blocks" (
	"chain_id" bigint NOT NULL,
	"number" bigint NOT NULL,
	"hash" text NOT NULL,
	"parent_hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "watched_contracts" (
	"chain_id" bigint NOT NULL,
	"address" text NOT NULL,
	"standard" text NOT NULL,
	"symbol" text,
	"decimals" bigint,
	"from_block" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "token_transfers" ALTER COLUMN "value" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "block_hash" text;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "standard" text DEFAULT 'erc20' NOT NULL;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "token_id" text;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "symbol" text;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "decimals" bigint;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "status" text DEFAULT 'confirmed' NOT NULL;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "confirmations" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "received_notification_id" bigint;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "sent_notification_id" bigint;--> statement-breakpoint
ALTER TABLE "token_transfers" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "chain_blocks_pk" ON "chain_blocks" USING btree ("chain_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "watched_contracts_pk" ON "watched_contracts" USING btree ("chain_id","address");--> statement-breakpoint
CREATE INDEX "token_transfers_block_idx" ON "token_transfers" USING btree ("chain_id","block_number");--> statement-breakpoint
CREATE INDEX "token_transfers_included_idx" ON "token_transfers" USING btree ("chain_id","block_number") WHERE "token_transfers"."status" = 'included';--> statement-breakpoint
CREATE INDEX "token_transfers_from_idx" ON "token_transfers" USING btree ("from_address","id");--> statement-breakpoint
CREATE INDEX "token_transfers_to_idx" ON "token_transfers" USING btree ("to_address","id");