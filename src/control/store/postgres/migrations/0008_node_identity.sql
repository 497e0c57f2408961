CREATE TABLE "node_identities" (
	"node" text PRIMARY KEY NOT NULL,
	"serial" text,
	"pending" text,
	"not_after" bigint NOT NULL,
	"removed" boolean DEFAULT false NOT NULL,
	"approved" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "expires_at" bigint;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "uses_left" integer;