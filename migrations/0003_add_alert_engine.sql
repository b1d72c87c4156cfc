CREATE TABLE `alert_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`alert_id` integer NOT NULL,
	`at` integer NOT NULL,
	`type` text NOT NULL,
	`actor` text DEFAULT 'engine' NOT NULL,
	`value` real,
	`note` text,
	`details` text,
	FOREIGN KEY (`alert_id`) REFERENCES `alert_history`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_events_alert_idx` ON `alert_events` (`alert_id`,`at`);--> statement-breakpoint
ALTER TABLE `alert_history` ADD `labels` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `alert_history` ADD `peak_value` real;--> statement-breakpoint
ALTER TABLE `alert_history` ADD `breach_count` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `alert_history` ADD `reopen_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `alert_history` ADD `flapping` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `alert_history` ADD `firing_notified` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `alert_rules` ADD `resolve_for_seconds` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `alert_rules` ADD `resolve_threshold_value` real;--> statement-breakpoint
ALTER TABLE `alert_rules` ADD `depends_on` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `escalation_policies` ADD `repeat_interval_minutes` integer;--> statement-breakpoint
ALTER TABLE `escalation_policies` ADD `ack_timeout_minutes` integer;--> statement-breakpoint
ALTER TABLE `notification_deliveries` ADD `payload` text;--> statement-breakpoint
ALTER TABLE `silences` ADD `recurrence` text;