//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted once a second per thread.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

thread_local! {
    static CACHE: RefCell<Option<(Instant, Bytes)>> = const { RefCell::new(None) };
}

/// The current date as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// `now` comes from the runtime's clock; the wall clock is read only when the
/// cached value is a second old, so a busy server formats it once a second.
pub(crate) fn http_date(now: Instant) -> Bytes {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((valid_until, value)) = &*cache {
            if now < *valid_until {
                return value.clone();
            }
        }
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let value = Bytes::copy_from_slice(&format_imf_fixdate(since_epoch.as_secs()));
        let rest_of_second =
            Duration::from_secs(1) - Duration::from_nanos(since_epoch.subsec_nanos().into());
        *cache = Some((now + rest_of_second, value.clone()));
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
        let b = http_date(now);
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(a.len(), 29);
    }
}
