CREATE TABLE "cluster_ca" (
	"id" integer PRIMARY KEY NOT NULL,
	"cert" text NOT NULL,
	"sealed_key" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "cluster_ca_one_row" CHECK ("cluster_ca"."id" = 1)
);
