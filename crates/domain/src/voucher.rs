//! Innovation vouchers (创新券): issued by a region to an enterprise, spent on facility bookings
//! in the regions the voucher accepts (a 雄安 voucher may be usable at Beijing facilities).
//! Amounts are kept in fen (分) and shown in 万元.

use crate::Reference;
use crate::booking::FEN_PER_WAN;

/// Why a voucher cannot pay for a booking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherRefusal {
    #[error("voucher {id} expired on {valid_until}")]
    Expired { id: i64, valid_until: String },
    #[error("voucher {id} is accepted in {accepted}, not at this facility's region {facility}")]
    WrongRegion { id: i64, accepted: String, facility: String },
    #[error("voucher {id} belongs to {owner}, not to your organisation")]
    NotYours { id: i64, owner: String },
}

/// Whether a voucher accepted in `accepted_regions` may pay at a facility in `facility_regions`
/// (a region accepts everything within it: 110000 accepts every district of Beijing).
pub fn accepts(accepted_regions: &[String], facility_regions: &[String]) -> bool {
    let reference = Reference::get();
    facility_regions
        .iter()
        .any(|facility| accepted_regions.iter().any(|accepted| reference.region_within(facility, accepted)))
}

/// 万元 as fen, rounded to the fen.
pub fn wan_to_fen(wan: f64) -> i64 {
    (wan * FEN_PER_WAN as f64).round() as i64
}

/// Fen as 万元.
pub fn fen_to_wan(fen: i64) -> f64 {
    fen as f64 / FEN_PER_WAN as f64
}

/// Fen as 元.
pub fn fen_to_yuan(fen: i64) -> f64 {
    fen as f64 / crate::booking::FEN_PER_YUAN as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_accept_what_lies_within_them() {
        let beijing = vec!["110000".to_string()];
        assert!(accepts(&beijing, &["110106".into()]));
        assert!(!accepts(&beijing, &["130602".into()]));
        assert!(accepts(&["133100".into(), "110000".into()], &["110108".into()]));
        assert!(!accepts(&[], &["110108".into()]));
    }

    #[test]
    fn money_converts_without_drift() {
        assert_eq!(wan_to_fen(1.5), 1_500_000);
        assert_eq!(wan_to_fen(0.000_01), 10);
        assert_eq!(fen_to_wan(2_500_000), 2.5);
        assert_eq!(fen_to_yuan(85_050), 850.5);
    }
}
