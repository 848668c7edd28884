-- How often PagerDuty interrupts each person, and when: one row per notified user and month
-- (YYYY-MM of the notification in the user's local time); users without interruptions have no row.
-- An interruption is a notify_log_entry for the user (user.id) sent by any channel except email
-- (phone, SMS, push): its channel.notification.type, else its channel.type, is set and is neither
-- `email` nor `email_notification` (the name PagerDuty's API schema gives the type).
-- time_zone: the user's PagerDuty time zone (IANA name, daylight saving applied); `UTC` for a user
--   with none, whose notifications then count in UTC. user: the user's name.
-- interruptions: all of them; business_hours: 08:00-17:59 local, Monday to Friday; sleep_hours:
--   22:00-07:59 local, every day; off_hours: the rest (18:00-21:59 on weekdays, 08:00-21:59 on
--   Saturday and Sunday). The three add up to interruptions.
-- chart: line x=month y=sleep_hours series=user title="Interruptions in sleep hours, per person" unit="interruptions"
WITH notified AS (
    SELECT
        l.user_id,
        COALESCE(u.name, l.user_name) AS user_name,
        CASE WHEN u.time_zone IS NULL OR u.time_zone = '' THEN 'UTC' ELSE u.time_zone END AS time_zone,
        weir_local_time(l.created_at, COALESCE(u.time_zone, '')) AS local_time
    FROM pagerduty_log_entries l
    LEFT JOIN pagerduty_users u ON u.id = l.user_id
    WHERE l.type = 'notify_log_entry'
      AND l.user_id IS NOT NULL
      AND l.created_at IS NOT NULL
      AND COALESCE(l.notification_type, l.channel_type) NOT IN ('email', 'email_notification')
),
local_clock AS (
    SELECT
        user_id,
        user_name,
        time_zone,
        substr(local_time, 1, 7) AS month,
        CAST(substr(local_time, 12, 2) AS INTEGER) AS local_hour,
        weir_weekday(local_time) AS local_weekday
    FROM notified
),
classified AS (
    SELECT
        user_id,
        user_name,
        time_zone,
        month,
        CASE
            WHEN local_hour >= 22 OR local_hour < 8 THEN 'sleep'
            WHEN local_weekday <= 5 AND local_hour <= 17 THEN 'business'
            ELSE 'off'
        END AS period
    FROM local_clock
)
SELECT
    user_id,
    MIN(user_name) AS "user",
    MIN(time_zone) AS time_zone,
    month,
    COUNT(*) AS interruptions,
    SUM(CASE WHEN period = 'business' THEN 1 ELSE 0 END) AS business_hours,
    SUM(CASE WHEN period = 'off' THEN 1 ELSE 0 END) AS off_hours,
    SUM(CASE WHEN period = 'sleep' THEN 1 ELSE 0 END) AS sleep_hours
FROM classified
GROUP BY user_id, month
ORDER BY COALESCE(MIN(user_name), ''), user_id, month
