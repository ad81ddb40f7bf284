//! Deals (对接): the path from a match to a collaboration, as a state machine. The names of the
//! states, events, reasons and agreement types are fixed (the API and reviewers use them).
//!
//! ```text
//! proposed ──accept──► accepted ──meeting──► meeting ─┐ (meeting again)
//!    │  └─decline─► declined    │   └──sign──┐   │      │
//!    │                           └──sign─────►signed ◄─┘ (sign)
//!    │                                          └─outcome─► converted
//!    └─close (from any open state) ─► closed
//! ```
//!
//! `accept` and `decline` belong to the owner's side; every other event to either side. A
//! technology manager appointed as a broker acts for the side that appointed them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Day;

/// Where a deal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealState {
    Proposed,
    Accepted,
    Declined,
    Meeting,
    Signed,
    Converted,
    Closed,
}

impl DealState {
    pub const ALL: [DealState; 7] = [
        DealState::Proposed,
        DealState::Accepted,
        DealState::Declined,
        DealState::Meeting,
        DealState::Signed,
        DealState::Converted,
        DealState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DealState::Proposed => "proposed",
            DealState::Accepted => "accepted",
            DealState::Declined => "declined",
            DealState::Meeting => "meeting",
            DealState::Signed => "signed",
            DealState::Converted => "converted",
            DealState::Closed => "closed",
        }
    }

    /// Whether events may still move the deal (a pair has at most one open deal).
    pub fn is_open(self) -> bool {
        !matches!(self, DealState::Declined | DealState::Converted | DealState::Closed)
    }

    /// Whether both sides see each other's contact details: from acceptance until the deal is
    /// declined or closed.
    pub fn reveals_contacts(self) -> bool {
        matches!(self, DealState::Accepted | DealState::Meeting | DealState::Signed | DealState::Converted)
    }
}

impl fmt::Display for DealState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DealState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DealState::ALL.into_iter().find(|state| state.as_str() == s.trim()).ok_or_else(|| {
            format!("unknown deal state {s:?}; use one of {}", names(DealState::ALL.map(DealState::as_str)))
        })
    }
}

/// Why an owner declined: fed back to the asker and counted for the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    NotRelevant,
    TrlTooLow,
    Price,
    Region,
    Timing,
    Capacity,
    Other,
}

/// What was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementType {
    Licence,
    Assignment,
    JointDevelopment,
    TechnicalService,
    DualAppointment,
    Employment,
    FacilityUse,
}

/// How far a signed deal got towards production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStage {
    PilotRun,
    SmallBatch,
    MassProduction,
}

/// Something that happens to a deal, as `POST /api/v1/deals/{id}/events` carries it (`type`
/// names the event; the body's `version` is read beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DealEvent {
    Accept,
    Decline {
        reason: DeclineReason,
        #[serde(default)]
        note: Option<String>,
    },
    Meeting {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        place: String,
    },
    Sign {
        agreement_type: AgreementType,
        /// In 万元.
        #[serde(default)]
        value: Option<f64>,
        signed_on: Day,
        /// For a dual appointment of a talent: the percent of the talent's time (1–100; 50 when
        /// not given).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        share_percent: Option<u8>,
        /// For a dual appointment or employment of a talent: the last day of the engagement it
        /// starts (a year after `signed_on` when not given).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Day>,
    },
    Outcome {
        stage: OutcomeStage,
        #[serde(default)]
        revenue_band: Option<String>,
    },
    Close {
        reason: String,
    },
    AppointBroker {
        username: String,
    },
}

impl DealEvent {
    pub fn name(&self) -> &'static str {
        match self {
            DealEvent::Accept => "accept",
            DealEvent::Decline { .. } => "decline",
            DealEvent::Meeting { .. } => "meeting",
            DealEvent::Sign { .. } => "sign",
            DealEvent::Outcome { .. } => "outcome",
            DealEvent::Close { .. } => "close",
            DealEvent::AppointBroker { .. } => "appoint_broker",
        }
    }
}

/// The side of a deal someone acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The organisation that proposed the deal.
    Asker,
    /// The organisation whose listing it is about.
    Owner,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Asker => "asker",
            Side::Owner => "owner",
        }
    }
}

impl std::str::FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "asker" => Ok(Side::Asker),
            "owner" => Ok(Side::Owner),
            other => Err(format!("unknown deal side {other:?}")),
        }
    }
}

/// Why an event may not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DealRefusal {
    /// The actor acts for neither side.
    #[error("only the two parties of a deal (or brokers acting for them) move it")]
    NotAParty,
    /// The event belongs to the owner's side.
    #[error("only the owner's side may {event} a deal")]
    OwnerOnly { event: &'static str },
    /// The event cannot happen in this state.
    #[error("a deal that is {state} cannot take the event {event}")]
    NotAllowed { state: DealState, event: &'static str },
}

/// The state after `event`, acted by someone on `side` (`None`: neither side), or why not.
pub fn transition(state: DealState, event: &DealEvent, side: Option<Side>) -> Result<DealState, DealRefusal> {
    use DealState::{Accepted, Closed, Converted, Declined, Meeting, Proposed, Signed};
    let Some(side) = side else { return Err(DealRefusal::NotAParty) };
    let refused = || DealRefusal::NotAllowed { state, event: event.name() };
    match event {
        DealEvent::Accept | DealEvent::Decline { .. } if side != Side::Owner => {
            Err(DealRefusal::OwnerOnly { event: event.name() })
        }
        DealEvent::Accept => (state == Proposed).then_some(Accepted).ok_or_else(refused),
        DealEvent::Decline { .. } => (state == Proposed).then_some(Declined).ok_or_else(refused),
        DealEvent::Meeting { .. } => matches!(state, Accepted | Meeting).then_some(Meeting).ok_or_else(refused),
        DealEvent::Sign { .. } => matches!(state, Accepted | Meeting).then_some(Signed).ok_or_else(refused),
        DealEvent::Outcome { .. } => (state == Signed).then_some(Converted).ok_or_else(refused),
        DealEvent::Close { .. } => state.is_open().then_some(Closed).ok_or_else(refused),
        DealEvent::AppointBroker { .. } => state.is_open().then_some(state).ok_or_else(refused),
    }
}

/// The names of the events someone acting for `side` (`None`: neither side) may send to a deal
/// in `state` now, in the order of [`DealEvent`]: what the deal page offers as buttons and the
/// API lists as `allowed_events`.
pub fn allowed_events(state: DealState, side: Option<Side>) -> Vec<&'static str> {
    event_samples().iter().filter(|event| transition(state, event, side).is_ok()).map(DealEvent::name).collect()
}

/// One event of each type; only their names matter to [`transition`].
fn event_samples() -> [DealEvent; 7] {
    let any_day = time::macros::date!(2000 - 01 - 01);
    [
        DealEvent::Accept,
        DealEvent::Decline { reason: DeclineReason::Other, note: None },
        DealEvent::Meeting { at: any_day.midnight().assume_utc(), place: String::new() },
        DealEvent::Sign {
            agreement_type: AgreementType::Licence,
            value: None,
            signed_on: Day(any_day),
            share_percent: None,
            until: None,
        },
        DealEvent::Outcome { stage: OutcomeStage::PilotRun, revenue_band: None },
        DealEvent::Close { reason: String::new() },
        DealEvent::AppointBroker { username: String::new() },
    ]
}

fn names<const N: usize>(names: [&str; N]) -> String {
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use DealState::*;

    fn events() -> Vec<DealEvent> {
        vec![
            DealEvent::Accept,
            DealEvent::Decline { reason: DeclineReason::TrlTooLow, note: None },
            DealEvent::Meeting {
                at: time::macros::datetime!(2027-03-01 09:30 +08:00), place: "丰台科技园".into()
            },
            DealEvent::Sign {
                agreement_type: AgreementType::Licence,
                value: Some(120.0),
                signed_on: Day(time::macros::date!(2027 - 04 - 01)),
                share_percent: None,
                until: None,
            },
            DealEvent::Outcome { stage: OutcomeStage::PilotRun, revenue_band: None },
            DealEvent::Close { reason: "项目取消".into() },
            DealEvent::AppointBroker { username: "tm_1".into() },
        ]
    }

    /// The allowed transitions, written out: (from, event, to).
    const ALLOWED: &[(DealState, &str, DealState)] = &[
        (Proposed, "accept", Accepted),
        (Proposed, "decline", Declined),
        (Proposed, "close", Closed),
        (Proposed, "appoint_broker", Proposed),
        (Accepted, "meeting", Meeting),
        (Accepted, "sign", Signed),
        (Accepted, "close", Closed),
        (Accepted, "appoint_broker", Accepted),
        (Meeting, "meeting", Meeting),
        (Meeting, "sign", Signed),
        (Meeting, "close", Closed),
        (Meeting, "appoint_broker", Meeting),
        (Signed, "outcome", Converted),
        (Signed, "close", Closed),
        (Signed, "appoint_broker", Signed),
    ];

    #[test]
    fn every_state_event_and_side_is_allowed_exactly_as_the_table_says() {
        for state in DealState::ALL {
            for event in events() {
                let expected = ALLOWED.iter().find(|(from, name, _)| *from == state && *name == event.name());
                for side in [Side::Asker, Side::Owner] {
                    let result = transition(state, &event, Some(side));
                    let owner_only = matches!(event, DealEvent::Accept | DealEvent::Decline { .. });
                    match (expected, side) {
                        (Some(_), Side::Asker) if owner_only => {
                            assert_eq!(result, Err(DealRefusal::OwnerOnly { event: event.name() }), "{state} {event:?}")
                        }
                        (Some((_, _, to)), _) => assert_eq!(result, Ok(*to), "{state} {event:?} by {side:?}"),
                        (None, Side::Asker) if owner_only => {
                            assert_eq!(result, Err(DealRefusal::OwnerOnly { event: event.name() }))
                        }
                        (None, _) => assert_eq!(
                            result,
                            Err(DealRefusal::NotAllowed { state, event: event.name() }),
                            "{state} {event:?} by {side:?}"
                        ),
                    }
                }
                assert_eq!(transition(state, &event, None), Err(DealRefusal::NotAParty));
            }
        }
    }

    #[test]
    fn allowed_events_are_exactly_the_transitions_that_succeed() {
        assert_eq!(allowed_events(Proposed, Some(Side::Owner)), ["accept", "decline", "close", "appoint_broker"]);
        assert_eq!(allowed_events(Proposed, Some(Side::Asker)), ["close", "appoint_broker"]);
        assert_eq!(allowed_events(Accepted, Some(Side::Asker)), ["meeting", "sign", "close", "appoint_broker"]);
        assert_eq!(allowed_events(Signed, Some(Side::Owner)), ["outcome", "close", "appoint_broker"]);
        for state in DealState::ALL {
            assert!(allowed_events(state, None).is_empty(), "{state}");
            for side in [Side::Asker, Side::Owner] {
                let expected: Vec<&str> = events()
                    .iter()
                    .filter(|event| transition(state, event, Some(side)).is_ok())
                    .map(DealEvent::name)
                    .collect();
                assert_eq!(allowed_events(state, Some(side)), expected, "{state} {side:?}");
            }
        }
        for state in [Declined, Converted, Closed] {
            assert!(allowed_events(state, Some(Side::Owner)).is_empty());
        }
    }

    #[test]
    fn finished_deals_take_no_event_and_open_ones_are_open() {
        for state in [Declined, Converted, Closed] {
            assert!(!state.is_open());
            for event in events() {
                assert!(transition(state, &event, Some(Side::Owner)).is_err(), "{state} {event:?}");
            }
        }
        for state in [Proposed, Accepted, Meeting, Signed] {
            assert!(state.is_open());
        }
    }

    #[test]
    fn events_parse_from_the_api_shape_with_fixed_names() {
        let event: DealEvent = serde_json::from_value(
            serde_json::json!({"type": "decline", "reason": "trl_too_low", "note": "需要 TRL 7"}),
        )
        .unwrap();
        assert_eq!(event, DealEvent::Decline { reason: DeclineReason::TrlTooLow, note: Some("需要 TRL 7".into()) });
        let event: DealEvent = serde_json::from_value(serde_json::json!({
            "type": "sign", "agreement_type": "joint_development", "value": 300, "signed_on": "2027-05-01"
        }))
        .unwrap();
        assert_eq!(event.name(), "sign");
        let event: DealEvent = serde_json::from_value(
            serde_json::json!({"type": "meeting", "at": "2027-03-01T09:30:00+08:00", "place": "雄安"}),
        )
        .unwrap();
        assert_eq!(event.name(), "meeting");
        for bad in [
            serde_json::json!({"type": "decline", "reason": "too_expensive"}),
            serde_json::json!({"type": "teleport"}),
            serde_json::json!({"type": "meeting", "at": "tomorrow", "place": "x"}),
        ] {
            assert!(serde_json::from_value::<DealEvent>(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!("signed".parse::<DealState>(), Ok(Signed));
        assert!("won".parse::<DealState>().unwrap_err().contains("proposed, accepted"));
    }
}
