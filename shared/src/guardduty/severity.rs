//! GuardDuty's numeric severity as a Security Hub label.
//!
//! GuardDuty documents four bands: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9 and Critical
//! 9.0-10.0 (Critical is used by attack sequence findings). Values between bands (3.95) belong to
//! the lower band, as GuardDuty's own console filters do; values below 1.0 are Low and above 10.0
//! Critical, so an out-of-range value is never silently dropped. Negative or non-finite values are
//! not severities at all.

use crate::rules::Severity;

pub fn severity_label(value: f64) -> Option<Severity> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    Some(if value >= 9.0 {
        Severity::Critical
    } else if value >= 7.0 {
        Severity::High
    } else if value >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guardduty_bands() {
        use Severity::*;
        let cases = [
            (0.0, Some(Low)),
            (1.0, Some(Low)),
            (2.0, Some(Low)),
            (3.9, Some(Low)),
            (3.95, Some(Low)),
            (4.0, Some(Medium)),
            (5.0, Some(Medium)),
            (6.9, Some(Medium)),
            (7.0, Some(High)),
            (8.0, Some(High)),
            (8.9, Some(High)),
            (8.99, Some(High)),
            (9.0, Some(Critical)),
            (10.0, Some(Critical)),
            (11.0, Some(Critical)),
            (-1.0, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
        ];
        for (value, label) in cases {
            assert_eq!(severity_label(value), label, "{value}");
        }
    }
}
