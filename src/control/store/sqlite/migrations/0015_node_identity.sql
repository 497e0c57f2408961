CREATE TABLE `node_identities` (
	`node` text PRIMARY KEY NOT NULL,
	`serial` text,
	`pending` text,
	`not_after` integer NOT NULL,
	`removed` integer DEFAULT false NOT NULL,
	`approved` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
ALTER TABLE `tokens` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `uses_left` integer;