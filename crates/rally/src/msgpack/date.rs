//! A JavaScript `Date` as `JSON.stringify` writes it. notepack decodes its timestamp
//! extensions to a `Date`, and what a Node.js receiver would then pass on is that `Date`'s
//! `toJSON()`, so that ISO string (or `null`) is the value Rally gives for it. The callers
//! compute the milliseconds in f64 in the same order as notepack does, so that rounding
//! matches JavaScript's too.

use serde_json::Value;

/// What `JSON.stringify` writes for `new Date(ms)`.
pub(super) fn date_json(ms: f64) -> Value {
    // A Date holds at most 10^8 days either side of the epoch; beyond, or for NaN, it
    // is an Invalid Date, whose toJSON is null. Otherwise the value is truncated.
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Value::Null;
    }
    Value::String(iso_8601(ms.trunc() as i64))
}

const MS_PER_DAY: i64 = 86_400_000;

/// `Date.prototype.toISOString`: millisecond precision, UTC, and years outside
/// 0..=9999 in the expanded six-digit form with a sign.
fn iso_8601(ms: i64) -> String {
    let (year, month, day) = civil_date(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", year.unsigned_abs())
    } else {
        format!("+{year:06}")
    };
    format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01.
fn civil_date(days: i64) -> (i64, i64, i64) {
    // Count from 0000-03-01 instead: with years starting in March, the leap day is
    // the last day of its year, and every 400 years (146097 days) repeat exactly.
    let shifted = days + 719_468;
    let cycle = shifted.div_euclid(146_097);
    let day_of_cycle = shifted.rem_euclid(146_097);
    // Years of 365 days, less the leap days of the 4-, 100- and 400-year rules.
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    // Months from March have the lengths 31,30,31,30,31 twice then 31,29: five months
    // take 153 days, which this linear formula spreads.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(iso_8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_8601(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(iso_8601(-62_167_219_200_000), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso_8601(-62_167_219_200_001), "-000001-12-31T23:59:59.999Z");
        assert_eq!(iso_8601(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }
}
