ALTER TABLE `workloads` ADD `paused` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `wave` integer DEFAULT -1 NOT NULL;