CREATE TABLE "secret_versions" (
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"version" integer NOT NULL,
	"keys" jsonb NOT NULL,
	"digest" text NOT NULL,
	"payload" text,
	"by" text NOT NULL,
	"at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "secret_versions_kind_name_version_pk" PRIMARY KEY("kind","name","version")
);
