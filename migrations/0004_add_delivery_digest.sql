ALTER TABLE `notification_deliveries` ADD `held_until` integer;--> statement-breakpoint
ALTER TABLE `notification_deliveries` ADD `provider_message_id` text;--> statement-breakpoint
CREATE INDEX `notification_deliveries_held_idx` ON `notification_deliveries` (`status`,`held_until`);