CREATE TABLE "events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"version" integer NOT NULL,
	"type" text NOT NULL,
	"workload" text,
	"instance" text,
	"node" text,
	"data" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"workload" text NOT NULL,
	"idx" integer NOT NULL,
	"generation" integer NOT NULL,
	"node" text,
	"desired" text NOT NULL,
	"state" text NOT NULL,
	"attempt" integer NOT NULL,
	"cpu_millis" integer DEFAULT 0 NOT NULL,
	"memory_mb" integer DEFAULT 0 NOT NULL,
	"readiness_checks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"passing" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"ports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reason" text NOT NULL,
	"exit_code" integer,
	"stderr_tail" text DEFAULT '' NOT NULL,
	"failed_at" bigint,
	"running_since" bigint,
	"ready_since" bigint,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"name" text PRIMARY KEY NOT NULL,
	"executors" jsonb NOT NULL,
	"version" text NOT NULL,
	"last_heartbeat_at" bigint NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cpu_millis" integer DEFAULT 0 NOT NULL,
	"memory_mb" integer DEFAULT 0 NOT NULL,
	"health" text DEFAULT 'offline' NOT NULL,
	"schedulable" boolean DEFAULT true NOT NULL,
	"draining" boolean DEFAULT false NOT NULL,
	"ports" jsonb DEFAULT '{"address":"","range":{"from":1,"to":0},"reserved":[]}'::jsonb NOT NULL,
	"volumes" jsonb DEFAULT '[]'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"hash" text NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	CONSTRAINT "tokens_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "workloads" (
	"name" text PRIMARY KEY NOT NULL,
	"labels" jsonb NOT NULL,
	"spec" jsonb NOT NULL,
	"generation" integer NOT NULL,
	"template_generation" integer DEFAULT 1 NOT NULL,
	"restart_seq" integer DEFAULT 0 NOT NULL,
	"template_changed_at" bigint DEFAULT 0 NOT NULL,
	"previous_spec" jsonb,
	"deleting" boolean NOT NULL,
	"created_at" bigint NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"finished" jsonb,
	"promoted" boolean DEFAULT false NOT NULL,
	"stable" jsonb,
	"quarantined" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reverted" jsonb
);
--> statement-breakpoint
CREATE INDEX "events_workload" ON "events" USING btree ("workload","seq");--> statement-breakpoint
CREATE INDEX "events_node" ON "events" USING btree ("node","seq") WHERE "events"."node" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "instances_workload" ON "instances" USING btree ("workload");