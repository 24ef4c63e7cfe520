-- Reading marks seen (docs/protocol.md §7): notifications read before seen existed count as seen.
UPDATE "notifications" SET "seen_at" = "read_at" WHERE "read_at" IS NOT NULL AND "seen_at" IS NULL;
