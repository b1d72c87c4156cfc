-- The built-in rules: the monitor's watch on itself (worker/core/self-watch.ts names them and
-- their metrics), critical, to every admin and owner, on by default. They are rules like any
-- other: an administrator can silence, tune, disable or delete them.
INSERT INTO `alert_rules`
  (`rule_name`, `description`, `metric_name`, `service`, `kind`, `comparison_operator`, `threshold_value`,
   `for_seconds`, `params`, `severity`, `notification_channels`)
VALUES
  ('Edge Monitor: cron stopped',
   'Cron Triggers have not run for {{duration}}; probes of 60 s and slower, the heartbeat safety net, the notification sweep and digests are stopped.',
   'cron_silent_seconds', 'edge-monitor', 'threshold', '>', 120, 0,
   '{"aggregation":"last","window_seconds":0}', 'critical', '["email","sms","slack"]'),
  ('Edge Monitor: probe loop behind schedule',
   'Probe loop {{labels.collector}}{{labels.runner}} is {{duration}} behind schedule; its monitors'' results are late or missing.',
   'collector_lag_seconds', 'edge-monitor', 'threshold', '>', 60, 0,
   '{"aggregation":"last","window_seconds":0}', 'critical', '["email","sms","slack"]'),
  ('Edge Monitor: notifications stuck',
   'Notifications are stuck: the oldest undelivered one is {{duration}} past its deadline and nothing has re-sent it; pages may not be reaching anyone.',
   'notifications_overdue_seconds', 'edge-monitor', 'threshold', '>', 120, 0,
   '{"aggregation":"last","window_seconds":0}', 'critical', '["email","sms","slack"]'),
  ('Edge Monitor: collection stale',
   '{{value}} monitors have stored no result for over 3 of their intervals (and at least 3 minutes); their data is stale.',
   'monitors_stale', 'edge-monitor', 'threshold', '>', 0, 0,
   '{"aggregation":"last","window_seconds":0}', 'critical', '["email","sms","slack"]');
