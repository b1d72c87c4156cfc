ALTER TABLE `notification_deliveries` ADD `due_at` integer;--> statement-breakpoint
CREATE INDEX `notification_deliveries_due_idx` ON `notification_deliveries` (`status`,`due_at`);--> statement-breakpoint
CREATE INDEX `alert_history_open_idx` ON `alert_history` (`alert_rule_id`,`fingerprint`) WHERE resolved_at IS NULL;--> statement-breakpoint
UPDATE `notification_deliveries` SET `due_at` = `enqueued_at` + 60000 WHERE `status` = 'queued';
