ALTER TABLE `instances` ADD `ports` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `ports` text DEFAULT '{"address":"","range":{"from":1,"to":0},"reserved":[]}' NOT NULL;