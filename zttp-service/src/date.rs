//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted once a second per thread.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An IMF-fixdate and the instant until which it is current. Copied out
/// on each use (29 bytes), no reference count to touch.
type CachedDate = Option<(Instant, [u8; 29])>;

thread_local! {
    static CACHE: Cell<CachedDate> = const { Cell::new(None) };
}

/// The current date as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// `now` comes from the runtime's clock; the wall clock is read only when the
/// cached value is a second old, so a busy server formats it once a second.
pub(crate) fn http_date(now: Instant) -> [u8; 29] {
    CACHE.with(|cache| {
        if let Some((valid_until, value)) = cache.get() {
            if now < valid_until {
                return value;
            }
        }
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let value = format_imf_fixdate(since_epoch.as_secs());
        let rest_of_second =
            Duration::from_secs(1) - Duration::from_nanos(since_epoch.subsec_nanos().into());
        cache.set(Some((now + rest_of_second, value)));
        value
    })
}

/// Formats seconds since the Unix epoch as an IMF-fixdate (29 bytes).
pub(crate) fn format_imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let time = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    put2(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    put2(&mut out[12..14], (year / 100) as u32);
    put2(&mut out[14..16], (year % 100) as u32);
    put2(&mut out[17..19], (time / 3600) as u32);
    put2(&mut out[20..22], (time / 60 % 60) as u32);
    put2(&mut out[23..25], (time % 60) as u32);
    out
}

fn put2(dst: &mut [u8], n: u32) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// Year, month (1..=12) and day (1..=31) of a day count since 1970-01-01
/// (proleptic Gregorian calendar; Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(&format_imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_imf_fixdate(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            &format_imf_fixdate(951_782_400),
            b"Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            &format_imf_fixdate(4_102_444_799),
            b"Thu, 31 Dec 2099 23:59:59 GMT"
        );
    }

    #[test]
    fn cached_value_is_reused_within_the_second() {
        let now = Instant::now();
        let a = http_date(now);
        CACHE.with(|cache| assert_eq!(cache.get().map(|(_, v)| v), Some(a)));
        assert_eq!(http_date(now), a);
        // A cache entry still current at `now` is used as it is.
        let fake = *b"Sun, 06 Nov 1994 08:49:37 GMT";
        CACHE.with(|cache| cache.set(Some((now + Duration::from_secs(1), fake))));
        assert_eq!(http_date(now), fake);
        // One past its second is formatted anew.
        assert_ne!(http_date(now + Duration::from_secs(2)), fake);
    }
}
