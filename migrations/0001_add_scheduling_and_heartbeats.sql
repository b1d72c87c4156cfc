CREATE TABLE `heartbeat_state` (
	`monitor_id` integer PRIMARY KEY NOT NULL,
	`state` text DEFAULT 'new' NOT NULL,
	`last_ping_at` integer,
	`last_start_at` integer,
	`last_fail_at` integer,
	`last_exit_code` integer,
	`last_runtime_ms` integer,
	`recent_runtimes_ms` text DEFAULT '[]' NOT NULL,
	`message` text,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`monitor_id`) REFERENCES `monitors`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `monitors` ADD `next_due_at` integer;--> statement-breakpoint
ALTER TABLE `monitors` ADD `lease_until` integer;--> statement-breakpoint
ALTER TABLE `monitors` ADD `last_run_at` integer;