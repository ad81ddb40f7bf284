//! Claims (认领): a user asks to represent an organisation that nobody represents on the
//! platform — most organisations arrive as the owners named in imported spreadsheets — and the
//! operator of the organisation's region decides. An approved claim makes the user a member of
//! the organisation, so its listings and open deals pass to them.
//!
//! ```text
//! pending ──approve──► approved
//!    ├─────reject───► rejected
//!    └────withdraw──► withdrawn
//! ```
//!
//! `approve` and `reject` belong to the operator of the organisation's region (or the platform
//! admin); `withdraw` to the claimant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
}

impl ClaimState {
    pub const ALL: [ClaimState; 4] =
        [ClaimState::Pending, ClaimState::Approved, ClaimState::Rejected, ClaimState::Withdrawn];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimState::Pending => "pending",
            ClaimState::Approved => "approved",
            ClaimState::Rejected => "rejected",
            ClaimState::Withdrawn => "withdrawn",
        }
    }
}

impl fmt::Display for ClaimState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ClaimState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClaimState::ALL
            .into_iter()
            .find(|state| state.as_str() == s.trim())
            .ok_or_else(|| format!("unknown claim state {s:?}; use pending, approved, rejected or withdrawn"))
    }
}

/// What happens to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimEvent {
    Approve,
    Reject,
    Withdraw,
}

impl ClaimEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimEvent::Approve => "approve",
            ClaimEvent::Reject => "reject",
            ClaimEvent::Withdraw => "withdraw",
        }
    }
}

/// Who acts on a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimRole {
    /// The user who asked.
    Claimant,
    /// The operator of the organisation's region, or the platform admin.
    Operator,
}

/// Why an event may not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefusal {
    /// The actor may not fire this event (an operator withdrawing, a claimant approving).
    NotYours { event: ClaimEvent },
    /// The claim was already decided.
    NotPending { state: ClaimState, event: ClaimEvent },
}

impl fmt::Display for ClaimRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimRefusal::NotYours { event: ClaimEvent::Withdraw } => {
                f.write_str("only the claimant may withdraw a claim")
            }
            ClaimRefusal::NotYours { event } => {
                write!(f, "only the operator of the organisation's region may {} a claim", event.as_str())
            }
            ClaimRefusal::NotPending { state, event } => {
                write!(f, "the claim is {state}; {} is allowed only while it is pending", event.as_str())
            }
        }
    }
}

/// The state after `event`, or why it may not happen.
pub fn transition(state: ClaimState, event: ClaimEvent, role: ClaimRole) -> Result<ClaimState, ClaimRefusal> {
    let allowed_role = match event {
        ClaimEvent::Approve | ClaimEvent::Reject => ClaimRole::Operator,
        ClaimEvent::Withdraw => ClaimRole::Claimant,
    };
    if role != allowed_role {
        return Err(ClaimRefusal::NotYours { event });
    }
    if state != ClaimState::Pending {
        return Err(ClaimRefusal::NotPending { state, event });
    }
    Ok(match event {
        ClaimEvent::Approve => ClaimState::Approved,
        ClaimEvent::Reject => ClaimState::Rejected,
        ClaimEvent::Withdraw => ClaimState::Withdrawn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_from_every_state_for_every_role() {
        let events = [ClaimEvent::Approve, ClaimEvent::Reject, ClaimEvent::Withdraw];
        for state in ClaimState::ALL {
            for event in events {
                for role in [ClaimRole::Claimant, ClaimRole::Operator] {
                    let result = transition(state, event, role);
                    let role_ok = matches!(
                        (event, role),
                        (ClaimEvent::Withdraw, ClaimRole::Claimant)
                            | (ClaimEvent::Approve | ClaimEvent::Reject, ClaimRole::Operator)
                    );
                    match result {
                        Ok(next) => {
                            assert!(role_ok && state == ClaimState::Pending, "{state} {event:?} {role:?}");
                            assert_ne!(next, ClaimState::Pending);
                        }
                        Err(ClaimRefusal::NotYours { .. }) => assert!(!role_ok),
                        Err(ClaimRefusal::NotPending { .. }) => assert!(role_ok && state != ClaimState::Pending),
                    }
                }
            }
        }
        assert_eq!(transition(ClaimState::Pending, ClaimEvent::Approve, ClaimRole::Operator), Ok(ClaimState::Approved));
        assert_eq!(transition(ClaimState::Pending, ClaimEvent::Reject, ClaimRole::Operator), Ok(ClaimState::Rejected));
        assert_eq!(
            transition(ClaimState::Pending, ClaimEvent::Withdraw, ClaimRole::Claimant),
            Ok(ClaimState::Withdrawn)
        );
    }
}
