//! Pure formatting helpers for the UI.

/// A Unix timestamp (seconds) as `YYYY-MM-DD` (UTC).
pub fn date(secs: i64) -> String {
    // Days-to-civil conversion (proleptic Gregorian), valid for any i64 day count in range.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A Unix timestamp (seconds) as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn date_time(secs: i64) -> String {
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        date(secs),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Now, in Unix seconds: the browser's clock in the browser.
pub fn now_secs() -> i64 {
    #[cfg(feature = "hydrate")]
    return (js_sys::Date::now() / 1000.0) as i64;
    #[cfg(not(feature = "hydrate"))]
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// How long before `now` the moment `then` was, in words ("5 minutes ago"); its date once it
/// is a week old.
pub fn ago(then: i64, now: i64) -> String {
    let count = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match now - then {
        ..=59 => "just now".into(),
        d @ 60..=3_599 => count(d / 60, "minute"),
        d @ 3_600..=86_399 => count(d / 3_600, "hour"),
        d @ 86_400..=604_799 => count(d / 86_400, "day"),
        _ => format!("on {}", date(then)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_past_are_said_in_words() {
        let now = 1_795_305_599;
        assert_eq!(super::ago(now + 5, now), "just now");
        assert_eq!(super::ago(now - 59, now), "just now");
        assert_eq!(super::ago(now - 60, now), "1 minute ago");
        assert_eq!(super::ago(now - 7_200, now), "2 hours ago");
        assert_eq!(super::ago(now - 86_400 * 3, now), "3 days ago");
        assert_eq!(super::ago(now - 86_400 * 8, now), "on 2026-11-13");
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(951_782_400), "2000-02-29");
        assert_eq!(super::date(1_795_305_599), "2026-11-21");
        assert_eq!(super::date_time(1_795_305_599), "2026-11-21 23:59:59");
    }
}
