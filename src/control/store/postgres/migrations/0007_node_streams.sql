ALTER TABLE "nodes" ADD COLUMN "connected" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "session" integer DEFAULT 0 NOT NULL;