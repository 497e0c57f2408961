CREATE TABLE "control_planes" (
	"id" text PRIMARY KEY NOT NULL,
	"address" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"seen_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leadership" (
	"id" integer PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"address" text NOT NULL,
	"epoch" bigint NOT NULL,
	"renewed_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "leadership_one_row" CHECK ("leadership"."id" = 1)
);
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "leader" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "epoch" bigint;