ALTER TABLE `instances` ADD `readiness_checks` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `instances` ADD `passing` text DEFAULT '[]' NOT NULL;