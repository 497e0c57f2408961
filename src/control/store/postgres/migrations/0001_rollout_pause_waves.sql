ALTER TABLE "workloads" ADD COLUMN "paused" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "workloads" ADD COLUMN "wave" integer DEFAULT -1 NOT NULL;