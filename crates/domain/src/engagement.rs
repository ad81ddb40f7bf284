//! Flexible engagements of talents (issue 18): 双聘 (dual appointment, a share of the talent's
//! time), 周末工程师 (weekend engineer, on named weekdays), remote consulting and full time; and
//! the commitment rule: a talent's engagements in force over overlapping periods may not claim
//! the same weekday twice, nor more than 100% of their time (full time counts as 100%).

use serde::{Deserialize, Serialize};
use time::Date;

/// How a talent is engaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    DualAppointment,
    WeekendEngineer,
    RemoteConsulting,
    FullTime,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::DualAppointment, Mode::WeekendEngineer, Mode::RemoteConsulting, Mode::FullTime];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DualAppointment => "dual_appointment",
            Mode::WeekendEngineer => "weekend_engineer",
            Mode::RemoteConsulting => "remote_consulting",
            Mode::FullTime => "full_time",
        }
    }

    /// The Chinese name shown on pages.
    pub fn label_zh(self) -> &'static str {
        match self {
            Mode::DualAppointment => "双聘",
            Mode::WeekendEngineer => "周末工程师",
            Mode::RemoteConsulting => "远程咨询",
            Mode::FullTime => "全职",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(text: &str) -> Result<Mode, String> {
        Mode::ALL.into_iter().find(|mode| mode.as_str() == text).ok_or_else(|| {
            format!("unknown mode {text:?}: dual_appointment, weekend_engineer, remote_consulting or full_time")
        })
    }
}

/// An engagement's state: proposed by the engaging organisation, then accepted or declined by the
/// talent; either side may end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Proposed,
    Accepted,
    Declined,
    Ended,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Proposed => "proposed",
            State::Accepted => "accepted",
            State::Declined => "declined",
            State::Ended => "ended",
        }
    }

    /// Whether the engagement holds the talent's time (a pending offer reserves it too, so two
    /// offers for the same Saturday cannot both be accepted).
    pub fn holds_time(self) -> bool {
        matches!(self, State::Proposed | State::Accepted)
    }
}

impl std::str::FromStr for State {
    type Err = String;
    fn from_str(text: &str) -> Result<State, String> {
        [State::Proposed, State::Accepted, State::Declined, State::Ended]
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| format!("unknown engagement state {text:?}"))
    }
}

/// What an engagement claims of the talent's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commitment {
    pub mode: Mode,
    pub start: Date,
    pub end: Date,
    /// ISO weekdays 1 (Monday) … 7 (Sunday), for weekend engineers.
    pub weekdays: Vec<u8>,
    /// Percent of the talent's time, for dual appointments (full time is 100).
    pub share_percent: u8,
}

impl Commitment {
    fn overlaps(&self, other: &Commitment) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    fn share(&self) -> u32 {
        match self.mode {
            Mode::DualAppointment => u32::from(self.share_percent),
            Mode::FullTime => 100,
            Mode::WeekendEngineer | Mode::RemoteConsulting => 0,
        }
    }
}

/// Checks one commitment's own fields.
pub fn check_terms(commitment: &Commitment) -> Result<(), (&'static str, String)> {
    if commitment.end < commitment.start {
        return Err(("end", "the period ends before it starts".into()));
    }
    match commitment.mode {
        Mode::WeekendEngineer => {
            if commitment.weekdays.is_empty() || commitment.weekdays.iter().any(|d| !(1..=7).contains(d)) {
                return Err(("weekdays", "name the weekdays, 1 (Monday) to 7 (Sunday)".into()));
            }
        }
        Mode::DualAppointment => {
            if !(1..=100).contains(&commitment.share_percent) {
                return Err(("share_percent", "a dual appointment takes 1–100% of the talent's time".into()));
            }
        }
        Mode::RemoteConsulting | Mode::FullTime => {}
    }
    Ok(())
}

/// Why a new commitment does not fit beside the talent's others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overcommitted {
    /// A weekday already taken by an overlapping weekend engagement.
    SameWeekday(u8),
    /// Time shares of overlapping engagements above 100%.
    SharesAbove100(u32),
}

impl std::fmt::Display for Overcommitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overcommitted::SameWeekday(day) => {
                write!(f, "weekday {day} is already committed to another weekend engagement in this period")
            }
            Overcommitted::SharesAbove100(total) => {
                write!(f, "the talent's time shares in this period would add up to {total}%, above 100%")
            }
        }
    }
}

/// The commitment rule: `new` fits beside `held` (the talent's engagements that hold time)?
/// Shares are summed over every held commitment overlapping the new one — a conservative bound
/// that never lets an instant exceed 100%.
pub fn fits(held: &[Commitment], new: &Commitment) -> Result<(), Overcommitted> {
    let overlapping: Vec<&Commitment> = held.iter().filter(|other| other.overlaps(new)).collect();
    if new.mode == Mode::WeekendEngineer {
        for other in overlapping.iter().filter(|other| other.mode == Mode::WeekendEngineer) {
            if let Some(day) = new.weekdays.iter().find(|day| other.weekdays.contains(day)) {
                return Err(Overcommitted::SameWeekday(*day));
            }
        }
    }
    if new.share() > 0 {
        let total = new.share() + overlapping.iter().map(|other| other.share()).sum::<u32>();
        if total > 100 {
            return Err(Overcommitted::SharesAbove100(total));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn weekend(days: &[u8], start: Date, end: Date) -> Commitment {
        Commitment { mode: Mode::WeekendEngineer, start, end, weekdays: days.to_vec(), share_percent: 0 }
    }

    fn dual(share: u8, start: Date, end: Date) -> Commitment {
        Commitment { mode: Mode::DualAppointment, start, end, weekdays: vec![], share_percent: share }
    }

    #[test]
    fn the_same_weekend_day_twice_is_refused() {
        let held = [weekend(&[6], date!(2026 - 01 - 01), date!(2026 - 12 - 31))];
        let clash = weekend(&[6, 7], date!(2026 - 06 - 01), date!(2027 - 05 - 31));
        assert_eq!(fits(&held, &clash), Err(Overcommitted::SameWeekday(6)));
        assert_eq!(fits(&held, &weekend(&[7], date!(2026 - 06 - 01), date!(2026 - 07 - 01))), Ok(()));
        assert_eq!(fits(&held, &weekend(&[6], date!(2027 - 01 - 01), date!(2027 - 07 - 01))), Ok(()));
    }

    #[test]
    fn shares_above_100_are_refused() {
        let held = [dual(60, date!(2026 - 01 - 01), date!(2026 - 12 - 31))];
        assert_eq!(
            fits(&held, &dual(50, date!(2026 - 03 - 01), date!(2026 - 04 - 01))),
            Err(Overcommitted::SharesAbove100(110))
        );
        assert_eq!(fits(&held, &dual(40, date!(2026 - 03 - 01), date!(2026 - 04 - 01))), Ok(()));
        let full = Commitment {
            mode: Mode::FullTime,
            start: date!(2026 - 01 - 01),
            end: date!(2026 - 02 - 01),
            weekdays: vec![],
            share_percent: 0,
        };
        assert!(fits(&held, &full).is_err());
        assert_eq!(fits(&held, &weekend(&[6], date!(2026 - 01 - 01), date!(2026 - 02 - 01))), Ok(()));
    }

    #[test]
    fn terms_are_checked() {
        assert!(check_terms(&weekend(&[], date!(2026 - 01 - 01), date!(2026 - 02 - 01))).is_err());
        assert!(check_terms(&weekend(&[8], date!(2026 - 01 - 01), date!(2026 - 02 - 01))).is_err());
        assert!(check_terms(&dual(0, date!(2026 - 01 - 01), date!(2026 - 02 - 01))).is_err());
        assert!(check_terms(&dual(101, date!(2026 - 01 - 01), date!(2026 - 02 - 01))).is_err());
        assert!(check_terms(&dual(50, date!(2026 - 02 - 01), date!(2026 - 01 - 01))).is_err());
        assert!(check_terms(&dual(50, date!(2026 - 01 - 01), date!(2026 - 02 - 01))).is_ok());
    }
}
