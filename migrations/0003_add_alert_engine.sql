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
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_alert_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`alert_rule_id` integer NOT NULL,
	`service` text,
	`fingerprint` text NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`metric_value` real,
	`peak_value` real,
	`breach_count` integer DEFAULT 1 NOT NULL,
	`reopen_count` integer DEFAULT 0 NOT NULL,
	`flapping` integer DEFAULT false NOT NULL,
	`firing_notified` integer DEFAULT false NOT NULL,
	`alert_severity` text NOT NULL,
	`status` text DEFAULT 'firing' NOT NULL,
	`message` text DEFAULT '' NOT NULL,
	`observed_at` integer NOT NULL,
	`triggered_at` integer NOT NULL,
	`acknowledged_at` integer,
	`acknowledged_by` integer,
	`resolved_at` integer,
	`auto_resolved` integer DEFAULT false NOT NULL,
	`resolution_notes` text,
	`escalation_step` integer DEFAULT 0 NOT NULL,
	`notifications_sent` integer DEFAULT 0 NOT NULL,
	`notification_attempts` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`acknowledged_by`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
INSERT INTO `__new_alert_history`("id", "alert_rule_id", "service", "fingerprint", "labels", "metric_value", "peak_value", "breach_count", "reopen_count", "flapping", "firing_notified", "alert_severity", "status", "message", "observed_at", "triggered_at", "acknowledged_at", "acknowledged_by", "resolved_at", "auto_resolved", "resolution_notes", "escalation_step", "notifications_sent", "notification_attempts") SELECT "id", "alert_rule_id", "service", "fingerprint", "labels", "metric_value", "peak_value", "breach_count", "reopen_count", "flapping", "firing_notified", "alert_severity", "status", "message", "observed_at", "triggered_at", "acknowledged_at", "acknowledged_by", "resolved_at", "auto_resolved", "resolution_notes", "escalation_step", "notifications_sent", "notification_attempts" FROM `alert_history`;--> statement-breakpoint
DROP TABLE `alert_history`;--> statement-breakpoint
ALTER TABLE `__new_alert_history` RENAME TO `alert_history`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `alert_history_rule_idx` ON `alert_history` (`alert_rule_id`,`triggered_at`);--> statement-breakpoint
CREATE INDEX `alert_history_status_idx` ON `alert_history` (`status`,`triggered_at`);--> statement-breakpoint
ALTER TABLE `alert_rules` ADD `resolve_for_seconds` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `alert_rules` ADD `resolve_threshold_value` real;--> statement-breakpoint
ALTER TABLE `alert_rules` ADD `depends_on` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `escalation_policies` ADD `repeat_interval_minutes` integer;--> statement-breakpoint
ALTER TABLE `escalation_policies` ADD `ack_timeout_minutes` integer;--> statement-breakpoint
ALTER TABLE `notification_deliveries` ADD `payload` text;--> statement-breakpoint
ALTER TABLE `silences` ADD `recurrence` text;