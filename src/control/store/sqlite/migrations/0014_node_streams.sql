ALTER TABLE `nodes` ADD `connected` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `session` integer DEFAULT 0 NOT NULL;