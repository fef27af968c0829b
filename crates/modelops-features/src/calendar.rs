//! Calendar arithmetic on days since 1970-01-01 (the physical value of a Polars `Date`), and the two week
//! conventions the data uses.
//!
//! - **`Week` feature: ISO 8601 week** (weeks start on Monday; week 1 holds the year's first Thursday), 1..=53,
//!   as in the reference.
//! - **Promo2 start (`Promo2SinceYear`/`Promo2SinceWeek`): "week 1 begins on the year's first Monday"**, the
//!   reference's convention for that field (2015-W1 → 2015-01-05, 2010-W13 → 2010-03-29). The two differ by up to a
//!   week; [`promo2_start_day`] is the only place the second one is used.

use chrono::{Datelike, NaiveDate};

/// A calendar day as days since 1970-01-01.
pub type Day = i32;

/// Days between 0001-01-01 (chrono's day 1 of the common era) and 1970-01-01.
const UNIX_EPOCH_FROM_CE: i32 = 719_163;

/// The date of a day number; `None` only for values far outside any plausible range.
pub fn date_of(day: Day) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(UNIX_EPOCH_FROM_CE)?)
}

/// The day number of a date.
pub fn day_of(date: NaiveDate) -> Day {
    date.num_days_from_ce() - UNIX_EPOCH_FROM_CE
}

/// Weekday of a day, 1 = Monday … 7 = Sunday (the data's `DayOfWeek` convention).
pub fn weekday(day: Day) -> u8 {
    // 1970-01-01 (day 0) was a Thursday (4).
    ((day + 3).rem_euclid(7) + 1) as u8
}

/// Parses `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<Day> {
    let text = text.trim();
    // The usual `YYYY-MM-DD` read digit by digit (a batch parses a million of them); anything else through chrono.
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *text.as_bytes()
        && [y0, y1, y2, y3, m0, m1, d0, d1]
            .iter()
            .all(u8::is_ascii_digit)
    {
        let number = |digits: &[u8]| digits.iter().fold(0, |n, d| n * 10 + i32::from(d - b'0'));
        let month = number(&[m0, m1]) as u32;
        let day = number(&[d0, d1]) as u32;
        return NaiveDate::from_ymd_opt(number(&[y0, y1, y2, y3]), month, day).map(day_of);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(day_of)
}

/// Formats a day as `YYYY-MM-DD`.
pub fn format_day(day: Day) -> String {
    match date_of(day) {
        // Years 0..=9999 digit by digit (the prediction log writes one per row); others through chrono.
        Some(d) if (0..=9999).contains(&d.year()) => {
            let digit = |n: u32, scale: u32| char::from(b'0' + (n / scale % 10) as u8);
            let (year, month, day) = (d.year() as u32, d.month(), d.day());
            let mut text = String::with_capacity(10);
            text.extend([1000, 100, 10, 1].map(|scale| digit(year, scale)));
            text.push('-');
            text.extend([10, 1].map(|scale| digit(month, scale)));
            text.push('-');
            text.extend([10, 1].map(|scale| digit(day, scale)));
            text
        }
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => format!("day {day}"),
    }
}

/// Calendar parts of one day, computed once per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalendarParts {
    /// Year, e.g. 2015.
    pub year: i32,
    /// Month 1..=12.
    pub month: u8,
    /// Day of month 1..=31.
    pub day_of_month: u8,
    /// Day of year 1..=366.
    pub day_of_year: u16,
    /// ISO 8601 week 1..=53.
    pub iso_week: u8,
}

/// Splits a day into its calendar parts.
pub fn calendar_parts(day: Day) -> Option<CalendarParts> {
    let date = date_of(day)?;
    Some(CalendarParts {
        year: date.year(),
        month: date.month() as u8,
        day_of_month: date.day() as u8,
        day_of_year: date.ordinal() as u16,
        iso_week: date.iso_week().week() as u8,
    })
}

/// First day of Promo2 participation under the reference's convention: week 1 starts on the first Monday of
/// `year`, week `w` starts `7·(w−1)` days later. `None` for week 0 / year 0 (not participating) or impossible
/// values.
pub fn promo2_start_day(year: i32, week: i32) -> Option<Day> {
    if year <= 0 || !(1..=53).contains(&week) {
        return None;
    }
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?;
    let offset_to_monday = (7 - jan1.weekday().num_days_from_monday()) % 7;
    Some(day_of(jan1) + offset_to_monday as i32 + 7 * (week - 1))
}

/// The first day of `(year, month)`; `None` when either is 0 (unknown) or invalid.
pub fn first_of_month(year: i32, month: i32) -> Option<Day> {
    if year <= 0 || !(1..=12).contains(&month) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month as u32, 1).map(day_of)
}

/// Which months (index 0 = January) a `PromoInterval` string names, e.g. `"Mar,Jun,Sept,Dec"`. Accepts both
/// "Sep" and the data's four-letter "Sept"; unknown tokens are ignored (the string is validated upstream).
pub fn promo_interval_months(interval: &str) -> [bool; 12] {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut months = [false; 12];
    for token in interval.split(',') {
        let token = token.trim().to_ascii_lowercase();
        let token = if token == "sept" {
            "sep".to_string()
        } else {
            token
        };
        if let Some(i) = NAMES.iter().position(|n| *n == token) {
            months[i] = true;
        }
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Day {
        parse_day(text).unwrap()
    }

    #[test]
    fn the_digit_by_digit_reading_agrees_with_chrono() {
        let chrono = |t: &str| {
            NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                .ok()
                .map(day_of)
        };
        for text in [
            "2015-06-20",
            " 2015-06-20 ",
            "2016-02-29",
            "2015-02-29", // no such day
            "2015-13-01",
            "2015-00-10",
            "2015-06-00",
            "0000-01-01",
            "9999-12-31",
            "2015-6-20", // not the digit-by-digit shape: chrono decides
            "2015/06/20",
            "20150620",
            "2015-06-2x",
            "",
        ] {
            assert_eq!(parse_day(text), chrono(text), "{text:?}");
        }
        assert!(parse_day("2015-06-20").is_some());
    }

    #[test]
    fn days_are_formatted_as_chrono_does() {
        let first = d("0000-01-01");
        let last = d("9999-12-31");
        let days = (first - 3..first + 400)
            .chain((d("1969-01-01")..d("2031-01-01")).step_by(7))
            .chain([d("2016-02-29"), last - 1, last, last + 1, last + 400]);
        for day in days {
            let chrono = date_of(day).map(|d| d.format("%Y-%m-%d").to_string());
            assert_eq!(Some(format_day(day)), chrono, "day {day}");
            assert_eq!(parse_day(&format_day(day)), Some(day));
        }
    }

    #[test]
    fn weekday_matches_the_data_convention() {
        assert_eq!(weekday(d("2015-07-31")), 5); // Friday
        assert_eq!(weekday(d("2015-08-02")), 7); // Sunday
        assert_eq!(weekday(d("2015-08-03")), 1); // Monday
        assert_eq!(weekday(d("1969-12-29")), 1);
    }

    #[test]
    fn promo2_start_uses_first_monday_weeks() {
        assert_eq!(promo2_start_day(2015, 1), Some(d("2015-01-05")));
        assert_eq!(promo2_start_day(2010, 13), Some(d("2010-03-29")));
        assert_eq!(promo2_start_day(2011, 14), Some(d("2011-04-04")));
        assert_eq!(promo2_start_day(0, 0), None);
    }

    #[test]
    fn iso_week_differs_from_promo2_week_at_year_start() {
        // 2015-01-01 is a Thursday: ISO week 1, but before Promo2 week 1 (which starts 2015-01-05).
        assert_eq!(calendar_parts(d("2015-01-01")).unwrap().iso_week, 1);
        assert!(d("2015-01-01") < promo2_start_day(2015, 1).unwrap());
    }

    #[test]
    fn promo_interval_accepts_sept() {
        let m = promo_interval_months("Mar,Jun,Sept,Dec");
        assert!(m[2] && m[5] && m[8] && m[11]);
        assert_eq!(m.iter().filter(|x| **x).count(), 4);
        assert_eq!(promo_interval_months(""), [false; 12]);
    }

    #[test]
    fn round_trip_day_numbers() {
        assert_eq!(d("1970-01-01"), 0);
        assert_eq!(format_day(d("2015-06-19")), "2015-06-19");
    }
}
